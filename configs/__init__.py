"""Hydra configs, shipped inside the package as `talkinghead.configs` (pkg:// search path)."""
