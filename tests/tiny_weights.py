"""Untrained, tiny inference weights in the shipped layout, for tests of the plumbing
(shapes, files, errors) that do not need a model that has learned anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from actionunits import AU_NAMES

CROP_SIZE = 100
REFINER_CROP = 32


def make_tiny_weights(
    folder: Path,
    au_names: tuple[str, ...] = AU_NAMES,
    audio_au_names: tuple[str, ...] | None = None,
    seed: int = 0,
    generator: dict | None = None,
    audio2au: dict | None = None,
    placeholder: bool = False,
) -> Path:
    """motion.pt + refiner.pt (GATH-W) + generator.pt + audio2au.pt + manifest.json in `folder`; `audio_au_names`
    lets a test make the renderer and audio2au disagree; `generator` / `audio2au` give
    full-size constructor arguments (the benchmark times untrained models of the shipped
    sizes). The motion model is random small offsets: it moves the face, meaninglessly."""
    from actionunits.checkpoint import atomic_save, update_manifest
    from audio2au.checkpoint import checkpoint_dict
    from audio2au.features import FeatureConfig
    from audio2au.model import Audio2AU, Audio2AUNet
    from gath.checkpoint import export_weights
    from gath.models import Generator, WarpRefiner
    from talkinghead.face.au_tracker import tracker_version
    from talkinghead.face.motion import MotionModel

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    basis = np.random.default_rng(seed).normal(0, 0.01, (len(au_names), 478, 3)).astype(np.float32)
    MotionModel(basis, tuple(au_names), tracker_version()).save(folder / "motion.pt")
    refiner = {"n_aus": len(au_names), "channels": 4, "n_res_blocks": 1}
    export_weights(
        folder / "refiner.pt",
        "gath_w",
        WarpRefiner(**refiner).eval(),
        refiner,
        {"au_names": list(au_names), "crop_size": REFINER_CROP, "steps": 0},
    )
    config = {"n_aus": len(au_names), **(generator or {"channels": 8, "n_res_blocks": 1})}
    export_weights(
        folder / "generator.pt",
        "generator",
        Generator(**config).eval(),
        config,
        {"au_names": list(au_names), "crop_size": CROP_SIZE, **({"placeholder": True} if placeholder else {})},
    )
    names = tuple(audio_au_names or au_names)
    features = FeatureConfig()
    net_config = {
        "n_features": features.dim,
        "window": features.window,
        "n_aus": len(names),
        **(audio2au or {"conv_channels": 8, "hidden": 16, "layers": 1}),
    }
    model = Audio2AU(Audio2AUNet(**net_config).eval(), features, names, 25.0, {"model": net_config})
    update_manifest(atomic_save(checkpoint_dict(model, half=True), folder / "audio2au.pt"))
    return folder


def shipped_trained_weights(why: str) -> Path:
    """The package's weights folder, or skip the test when it lacks the default renderer's
    trained motion model or audio2au (tests of what a model learned need real training)."""
    import pytest

    from actionunits import AU_NAMES
    from talkinghead.errors import UserError
    from talkinghead.model_files import DEFAULT_WEIGHTS, load_audio2au
    from talkinghead.renderers.warp import load_motion

    try:
        load_motion(None)
        load_audio2au(None, AU_NAMES)
    except UserError as e:
        pytest.skip(f"{why}: {e}")
    return DEFAULT_WEIGHTS
