"""Hydra configs, shipped inside the package as `talkinghead.configs` (pkg:// search path).

train_<trainer>.yaml is each `talkinghead train` trainer's primary config. experiment/ holds
the experiments shared by every trainer with an `experiment` default (smoke); a trainer's
own are in <trainer>/experiment/, which its primary config adds to the search path
(hydra.searchpath), so `experiment=NAME` finds them under that trainer only."""
