"""`talkinghead train MODEL`: compose the model's config, make sure its data exists, run
the room's trainer."""

from __future__ import annotations

from talkinghead.config import load_config
from talkinghead.errors import UserError
from talkinghead.synthetic import ensure_synthetic_dataset

CONFIG_NAMES = {"gath": "train_gath", "aue": "train_aue", "audio2au": "train_audio2au", "motion": "train_motion"}


def run_training(model: str, overrides: list[str]) -> None:
    cfg = load_config(CONFIG_NAMES[model], overrides)
    if cfg.data.get("synthetic", False):
        ensure_synthetic_dataset(cfg.data.root, crop_size=cfg.data.crop_size)
    refiner = model == "gath" and "refiner" in cfg  # GATH-W (experiment=gath_w and the stages built on it)
    if refiner:
        from talkinghead.pairs import ensure_pairs

        ensure_pairs(cfg)
    elif model == "gath":
        ensure_au_estimator(cfg, overrides)
    if refiner:
        from gath.train_refiner import train_gath_w as trainer
    elif model == "gath":
        from gath.train import train_gath as trainer
    elif model == "motion":
        from talkinghead.face.motion_fit import train_motion as trainer
    elif model == "aue":
        from gath.train_aue import train_aue as trainer
    else:
        from audio2au.train import train_audio2au as trainer
    try:
        trainer(cfg)
    except (FileNotFoundError, ValueError) as e:
        raise UserError(str(e)) from None


def ensure_au_estimator(cfg, overrides: list[str]) -> None:
    """GATH's AU loss needs a trained, frozen AU estimator. The smoke run (`experiment=smoke`,
    generated data) trains its tiny one first; anywhere else that is a job of its own
    (an hour on real data), so the error says how to run it."""
    from pathlib import Path

    path = Path(cfg.aue_checkpoint)
    if path.is_file():
        return
    if not (cfg.data.get("synthetic", False) and "experiment=smoke" in overrides):
        data = "" if cfg.data.get("synthetic", False) else f" data=prepared data.root={cfg.data.root}"
        raise UserError(f"no AU estimator at {path}: train one first with `talkinghead train aue{data} "
                        f"run_dir={path.parent}`, or set aue_checkpoint=PATH")
    keep = [o for o in overrides if o.split("=")[0].lstrip("+") in ("experiment", "data", "data.root", "device")]
    print(f"no AU estimator at {path}: training one on the same generated data first", flush=True)
    run_training("aue", keep + [f"run_dir={path.parent}"])
