"""`talkinghead pack`: a budgeted subset of a prepared dataset that the trainers load unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from actionunits import AUSeries
from actionunits.prepared import clip_dir, read_clips, read_source, write_source
from talkinghead.cli import main
from talkinghead.commands.pack import MIB, PackOptions, is_grayscale, pack


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_pack_fits_budget_and_loads(synthetic_dataset, tmp_path):
    from audio2au.data import load_clips
    from gath.data import load_source_set, load_target_set

    out = tmp_path / "pack"
    summary = pack(synthetic_dataset, out, PackOptions(max_mb=3, progress=False))
    assert _size(out) <= 3 * MIB and summary.bytes == _size(out)
    assert 0 < summary.frames < summary.frames_total and "audio kept" in summary.audio
    assert not [p for p in tmp_path.iterdir() if p.name != "pack"]  # no temp folder left

    source, target = load_source_set(out), load_target_set(out)
    assert len(source.images) == summary.stills and len(target.images) == summary.frames
    original = read_clips(synthetic_dataset)
    assert [c.clip for c in read_clips(out)] == [c.clip for c in original]
    assert target.speakers == sorted({c.speaker for c in original})
    assert len(target.present_speakers()) == len(target.speakers)  # every speaker keeps frames

    clips, _ = load_clips(out)
    assert len(clips) == len(original) and sum(int(c.valid.sum()) for c in clips) == summary.frames
    for rec in original:  # every row stays (row N at N / fps), values to 3 decimals
        full = AUSeries.read_csv(clip_dir(synthetic_dataset, rec.clip) / "aus.csv", fps=rec.fps)
        packed = AUSeries.read_csv(clip_dir(out, rec.clip) / "aus.csv", fps=rec.fps)
        assert len(packed) == len(full) and np.abs(packed.values - full.values).max() <= 5e-4 + 1e-6
        frames = sorted(int(p.stem) for p in (clip_dir(out, rec.clip) / "frames").iterdir())
        assert frames == np.flatnonzero(packed.valid).tolist()


def test_pack_cli_no_audio_reencode_and_replace(synthetic_dataset, tmp_path, capsys):
    out = tmp_path / "pack"
    for _ in range(2):  # the second run replaces the first pack
        assert (
            main(
                [
                    "pack",
                    str(synthetic_dataset),
                    str(out),
                    "--max-mb",
                    "1",
                    "--no-audio",
                    "--jpeg-quality",
                    "80",
                    "--quiet",
                ]
            )
            == 0
        )
        line = capsys.readouterr().out.strip()
        assert "\n" not in line and "no audio (--no-audio)" in line and "MiB" in line
    assert _size(out) <= MIB
    assert all(c.audio == "" for c in read_clips(out)) and not list(out.rglob("*.wav"))
    assert all(p.endswith(".jpg") for p, _ in read_source(out))
    assert [p.name for p in tmp_path.iterdir()] == ["pack"]


def test_pack_prefers_colour_and_repeats(synthetic_dataset, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(synthetic_dataset, src)
    records = read_source(src)
    gray_ids = sorted({i for _, i in records})[::2]
    for rel, identity in records:  # half the identities become grayscale photos (saved as RGB)
        if identity in gray_ids:
            gray = cv2.cvtColor(cv2.imread(str(src / "source" / rel)), cv2.COLOR_BGR2GRAY)
            cv2.imwrite(str(src / "source" / rel), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    write_source(src, records + [("images/id000/00.png", "single")])  # a grayscale singleton

    summary = pack(src, tmp_path / "pack", PackOptions(max_mb=1, source_share=0.3, progress=False))
    kept = read_source(tmp_path / "pack")
    assert 0 < len(kept) < len(records) // 2  # the budget is tight
    assert summary.colour_stills == len(kept)
    assert not any(is_grayscale(cv2.imread(str(tmp_path / "pack" / "source" / p))) for p, _ in kept)
    counts = {i: sum(1 for _, j in kept if j == i) for _, i in kept}
    assert min(counts.values()) >= 2 and not set(counts) & set(gray_ids)


@pytest.mark.parametrize(
    "args, message",
    [
        (["{tmp}/missing", "{tmp}/pack"], "no such folder"),
        (["{data}", "{tmp}/pack", "--max-mb", "0.1"], "budget too small"),
    ],
)
def test_pack_errors_are_one_line(synthetic_dataset, tmp_path, capsys, args, message):
    argv = ["pack", *(a.format(tmp=tmp_path, data=synthetic_dataset) for a in args), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("talkinghead: error:")
    assert not (tmp_path / "pack").exists()
