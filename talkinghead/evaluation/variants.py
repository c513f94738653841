"""The renderers `eval` compares, by registered name (the shipped weights), weights file
(the renderer that reads it) or GATH generator folder, each in its crop-level form
(`talkinghead.renderers.CropAnimator`: `set_source(crop)`, `render(aus) -> crops`)."""

from __future__ import annotations

from pathlib import Path

from talkinghead.errors import UserError
from talkinghead.renderers import ModelOptions, load, names
from talkinghead.renderers.registry import for_weights_file

WARP = "warp"  # the default variant beside the shipped GATH generator
GATH = "gath"  # a weights folder or None: the GATH generator (its full form preferred: evaluate the full model)


def load_variant(path: Path | str | None, device: str, crop_size: int):
    """A renderer's name, a weights file, a GATH weights folder or None (the shipped GATH
    generator) -> (crop animator, meta for the report)."""
    if path is not None and str(path) in names():
        name, checkpoint = str(path), None
    else:
        checkpoint = None if path is None else Path(path)
        chosen = for_weights_file(checkpoint) if checkpoint is not None else None
        name = chosen.name if chosen is not None else GATH
        if checkpoint is not None and not checkpoint.exists():
            raise UserError(f"{'generator' if chosen is None else name} checkpoint not found: {checkpoint}")
    renderer = load(ModelOptions(name, checkpoint, device, lite=False))
    meta = {"variant": name, **renderer.meta}
    return renderer.crops(crop_size), {"path": str(path if checkpoint is None else checkpoint), **meta}
