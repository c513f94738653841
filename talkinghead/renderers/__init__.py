"""The renderers: AU vectors -> frames of one photo. One module per renderer, one registry.

    renderer = load(ModelOptions(generator="warp"))       # weights, before any photo
    portrait, animator = renderer.open("me.jpg", height)  # the photo, set up once
    frames = animator.frames(aus)                         # (B, H, W, 3) uint8 per batch

Importing this package registers the shipped renderers (shown as warp, gath_w, gath: the
default first); a new renderer is one more module here, imported below (docs/render.md,
"Adding a renderer").
"""

from talkinghead.renderers import gath, gath_w, warp  # noqa: F401 - each registers itself
from talkinghead.renderers.animator import Animator, CropAnimator, Renderer
from talkinghead.renderers.registry import ModelOptions, RendererSpec, load, names, register, spec

__all__ = ["Animator", "CropAnimator", "ModelOptions", "Renderer", "RendererSpec", "load", "names", "register", "spec"]
