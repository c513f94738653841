"""The renderers by name: what `--generator` chooses between, in the CLI, the app, the
benchmarks and `eval`. Each renderer module registers a `RendererSpec`; `load` turns the
chosen name and weights into a loaded `Renderer`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from talkinghead.errors import UserError
from talkinghead.model_files import DEVICES
from talkinghead.options import add_options, from_args, option
from talkinghead.renderers.animator import Renderer

DEFAULT = "warp"


@dataclass(frozen=True)
class RendererSpec:
    """A renderer's name, its one-line description (--help and the app), the weight files
    it reads from a weights folder, and its loader (`ModelOptions`, enhance, crop height ->
    Renderer)."""

    name: str
    summary: str
    weights: tuple[str, ...]
    load: Callable[..., Renderer]
    enhances: bool = False  # takes --enhance (the paper's post-processing of GATH syntheses)
    rank: int = 100  # where it stands in the lists shown to users (lowest first)


_SPECS: dict[str, RendererSpec] = {}


def register(spec: RendererSpec) -> RendererSpec:
    if spec.name in _SPECS:
        raise ValueError(f"a renderer named {spec.name!r} is already registered")
    _SPECS[spec.name] = spec
    return spec


def names() -> tuple[str, ...]:
    """The registered renderers in their shown order (the default first)."""
    return tuple(sorted(_SPECS, key=lambda n: _SPECS[n].rank))


def spec(name: str) -> RendererSpec:
    if name not in _SPECS:
        raise UserError(f"--generator must be one of {', '.join(names())}, got {name!r}")
    return _SPECS[name]


def for_weights_file(path: Path) -> RendererSpec | None:
    """The renderer that reads a weights file of this name (eval's `--variant NAME=FILE`)."""
    return next((s for s in _SPECS.values() if path.name in s.weights), None)


@dataclass
class ModelOptions:
    """Which renderer and weights, on which device (the CLI's model and device groups)."""

    generator: str = option(
        DEFAULT, lambda: "; ".join(f"{s.name}: {s.summary}" for s in map(spec, names())), choices=names
    )
    checkpoint: Path | None = option(
        None,
        "weights folder (motion.pt: warp, refiner.pt: gath_w, generator.pt or "
        "generator_lite.pt: gath, audio2au.pt), or one of those files with the "
        "shipped weights for the rest (default: the weights shipped in the "
        "package)",
        metavar="DIR",
        show_default=False,
    )
    device: str = option(
        "auto", "where GATH and audio2au run (auto: CUDA when present); the warp runs on the CPU", choices=DEVICES
    )
    lite: bool | None = option(
        None, "gath: the lite generator also on CUDA (the default on CPU)", flag="--lite", show_default=False
    )  # None: lite on CPU; False: the full generator (eval)

    def check(self) -> None:
        spec(self.generator)
        if self.device not in DEVICES:
            raise UserError(f"--device must be one of {', '.join(DEVICES)}, got {self.device!r}")


def load(model: ModelOptions, enhance=None, crop_height: int | None = None) -> Renderer:  # noqa: ANN001
    """The chosen renderer with its weights; `crop_height` makes it render the aligned face
    crop at that height instead of the whole photo."""
    model.check()
    chosen = spec(model.generator)
    if not chosen.enhances and enhance is not None and enhance.any:
        takes = [s.name for s in _SPECS.values() if s.enhances]
        raise UserError(f"--enhance post-processes GATH syntheses; use it with --generator {' or '.join(takes)}")
    return chosen.load(model, enhance, crop_height)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The model and device groups of every command that renders."""
    add_options(parser, "model", ModelOptions(), ("generator", "checkpoint", "lite"))
    add_options(parser, "device", ModelOptions(), ("device",))


def model_options(args: argparse.Namespace) -> ModelOptions:
    return from_args(ModelOptions(), args)
