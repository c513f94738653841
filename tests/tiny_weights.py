"""Untrained, tiny inference weights in the shipped layout, for tests of the plumbing
(shapes, files, errors) that do not need a model that has learned anything."""

from __future__ import annotations

from pathlib import Path

import torch

from actionunits import AU_NAMES

CROP_SIZE = 100


def make_tiny_weights(folder: Path, au_names: tuple[str, ...] = AU_NAMES, audio_au_names: tuple[str, ...] | None = None,
                      seed: int = 0, generator: dict | None = None, audio2au: dict | None = None,
                      placeholder: bool = False) -> Path:
    """generator.pt + audio2au.pt + manifest.json in `folder`; `audio_au_names` lets a
    test make the two disagree; `generator` / `audio2au` give full-size constructor
    arguments (the benchmark times untrained models of the shipped sizes)."""
    from actionunits.checkpoint import atomic_save, update_manifest
    from audio2au.checkpoint import checkpoint_dict
    from audio2au.features import FeatureConfig
    from audio2au.model import Audio2AU, Audio2AUNet
    from gath.checkpoint import export_weights
    from gath.models import Generator

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"n_aus": len(au_names), **(generator or {"channels": 8, "n_res_blocks": 1})}
    export_weights(folder / "generator.pt", "generator", Generator(**config).eval(), config,
                   {"au_names": list(au_names), "crop_size": CROP_SIZE, **({"placeholder": True} if placeholder else {})})
    names = tuple(audio_au_names or au_names)
    features = FeatureConfig()
    net_config = {"n_features": features.dim, "window": features.window, "n_aus": len(names),
                  **(audio2au or {"conv_channels": 8, "hidden": 16, "layers": 1})}
    model = Audio2AU(Audio2AUNet(**net_config).eval(), features, names, 25.0, {"model": net_config})
    update_manifest(atomic_save(checkpoint_dict(model, half=True), folder / "audio2au.pt"))
    return folder


def shipped_trained_weights(why: str) -> Path:
    """The package's weights folder, or skip the test when it has no weights or only a
    placeholder (tests of what a model learned need real training)."""
    import pytest

    from talkinghead.checkpoints import DEFAULT_WEIGHTS, load_animator
    from talkinghead.errors import UserError

    try:
        _, words = load_animator(None, "cpu")
    except UserError as e:
        pytest.skip(f"{why}: {e}")
    if "PLACEHOLDER" in words:
        pytest.skip(f"{why}: the weights in {DEFAULT_WEIGHTS} are a placeholder")
    return DEFAULT_WEIGHTS
