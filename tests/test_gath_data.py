"""Holding speakers and identities out of GATH training (data.exclude_speakers)."""

from __future__ import annotations

import pytest

from actionunits.prepared import matches_any
from gath.data import load_source_set, load_target_set
from talkinghead.config import load_config


def test_matches_any_tries_every_name_against_every_glob():
    assert matches_any(["spk0*", "x"], "clip", "spk01")
    assert not matches_any(["spk0*"], "clip", "other")
    assert not matches_any([], "anything")


def test_exclude_removes_speakers_and_identities(synthetic_dataset):
    full = load_target_set(synthetic_dataset)
    target = load_target_set(synthetic_dataset, ["spk01", "spk02_*"])
    assert target.present_speakers() == ["spk00", "spk03"]  # spk02 left out by its clip names
    assert len(target.images) < len(full.images)
    only = load_target_set(synthetic_dataset, only=["spk01"])
    assert only.present_speakers() == ["spk01"]
    source = load_source_set(synthetic_dataset, ["id00*"])
    assert len(source.classes) == 2 and all(not c.startswith("id00") for c in source.classes)


def test_excluding_everything_is_a_clear_error(synthetic_dataset):
    with pytest.raises(ValueError, match=r"no valid target frames .*\(excluding \['spk\*'\]\)"):
        load_target_set(synthetic_dataset, ["spk*"])
    with pytest.raises(ValueError, match="no source stills"):
        load_source_set(synthetic_dataset, ["*"])


def test_exclude_speakers_is_a_data_option_of_both_trainers():
    for name in ("train_gath", "train_aue"):
        cfg = load_config(name, ["data=prepared", "data.exclude_speakers=[obama,grid_s2]"])
        assert list(cfg.data.exclude_speakers) == ["obama", "grid_s2"]
        assert list(load_config(name).data.exclude_speakers) == []
