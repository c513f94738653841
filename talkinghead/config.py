"""Compose the shipped hydra configs (`configs/`, installed as `talkinghead.configs`)."""

from __future__ import annotations

from hydra import compose, initialize_config_module
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from talkinghead.errors import UserError


def load_config(name: str, overrides: list[str] | None = None) -> DictConfig:
    """The config `name` (a top-level yaml in configs/) with hydra command-line overrides,
    e.g. load_config("train_gath", ["experiment=gath_c", "train.steps=10"])."""
    try:
        with initialize_config_module("talkinghead.configs", version_base="1.3"):
            cfg = compose(config_name=name, overrides=list(overrides or []))
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as e:
        line = f"bad config override: {e}".splitlines()[0]
        if isinstance(e, MissingConfigException) and e.options:  # an option its group does not have
            line += f" (options: {', '.join(e.options)})"
        raise UserError(line) from None
    return cfg
