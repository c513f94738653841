"""`talkinghead train NAME`: compose the trainer's config, make sure its data exists, run
the trainer. TRAINERS is the one table of what each name means; the CLI offers its names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from talkinghead.errors import UserError

if TYPE_CHECKING:
    from omegaconf import DictConfig

    Prepare = Callable[[DictConfig, list[str]], None]  # (the composed config, the command-line overrides)


def synthetic_data(cfg: DictConfig, overrides: list[str]) -> None:
    """data=synthetic: the generated dataset, made on first use."""
    if cfg.data.synthetic:
        from talkinghead.synthetic import ensure_synthetic_dataset

        ensure_synthetic_dataset(cfg.data.root, crop_size=cfg.data.crop_size)


def gath_w_pairs(cfg: DictConfig, overrides: list[str]) -> None:
    """GATH-W's self-reenactment pairs (refiner.pairs, refiner.val_pairs), built when missing."""
    from talkinghead.refiner_pairs import ensure_pairs

    ensure_pairs(cfg)


def au_estimator(cfg: DictConfig, overrides: list[str]) -> None:
    """GATH's AU loss needs a trained, frozen AU estimator (aue_checkpoint). With
    `aue_bootstrap` (set by experiment=smoke) on generated data, a missing one is trained
    first on the same data; anywhere else that is a job of its own (an hour on real data),
    so the error says how to run it."""
    from pathlib import Path

    path = Path(cfg.aue_checkpoint)
    if path.is_file():
        return
    if not (cfg.data.synthetic and cfg.aue_bootstrap):
        data = "" if cfg.data.synthetic else f" data=prepared data.root={cfg.data.root}"
        raise UserError(
            f"no AU estimator at {path}: train one first with `talkinghead train aue{data} "
            f"run_dir={path.parent}`, or set aue_checkpoint=PATH"
        )
    keep = [o for o in overrides if o.split("=")[0].lstrip("+") in ("experiment", "data", "data.root", "device")]
    print(f"no AU estimator at {path}: training one on the same generated data first", flush=True)
    run_training("aue", keep + [f"run_dir={path.parent}"])


@dataclass(frozen=True)
class Trainer:
    config: str  # its primary config, configs/<config>.yaml
    prepare: tuple[Prepare, ...]  # run in order before training: the data it needs
    train: str  # "module:function" taking the composed config, imported when it runs


TRAINERS: dict[str, Trainer] = {
    "motion": Trainer("train_motion", (synthetic_data,), "talkinghead.face.motion_fit:train_motion"),
    "aue": Trainer("train_aue", (synthetic_data,), "gath.train_aue:train_aue"),
    "gath": Trainer("train_gath", (synthetic_data, au_estimator), "gath.train:train_gath"),
    "gath_w": Trainer("train_gath_w", (synthetic_data, gath_w_pairs), "gath.train_refiner:train_gath_w"),
    "audio2au": Trainer("train_audio2au", (synthetic_data,), "audio2au.train:train_audio2au"),
    "head_motion": Trainer("train_head_motion", (), "talkinghead.head_motion_fit:train_head_motion"),
}
TRAINER_NAMES = tuple(TRAINERS)  # the choices of `talkinghead train`


def run_training(name: str, overrides: list[str]) -> None:
    """Train `name` (a key of TRAINERS) with hydra command-line overrides."""
    from talkinghead.config import load_config

    trainer = TRAINERS[name]
    cfg = load_config(trainer.config, overrides)
    for step in trainer.prepare:
        step(cfg, overrides)
    module, function = trainer.train.split(":")
    train = getattr(import_module(module), function)
    try:
        train(cfg)
    except (FileNotFoundError, ValueError) as e:
        raise UserError(str(e)) from None
