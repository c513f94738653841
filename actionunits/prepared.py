"""The on-disk layout of a prepared dataset (written by `talkinghead prepare`, read by the
GATH and audio2au datasets). See docs/dataset-format.md for the full description.

    <root>/dataset.json                  {"format_version", "crop_size", "au_names"}
    <root>/source/manifest.csv           path,identity        (path relative to source/)
    <root>/target/clips.csv              clip,speaker,fps,n_frames,audio
    <root>/target/clips/<clip>/aus.csv   AU series CSV (time,valid,<names>), one row per frame
    <root>/target/clips/<clip>/frames/NNNNNN.jpg   aligned crop of frame N (valid frames only)
    <root>/target/clips/<clip>/audio.wav 16 kHz mono PCM (when the clip has audio)
    <root>/target/clips/<clip>/landmarks.npy  (n_frames, 478, 3) float32 face-mesh points in the
                                         video's pixels, NaN where no face was found
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from fnmatch import fnmatch
from pathlib import Path

from actionunits.atomic import atomic_output

FORMAT_VERSION = 1
SOURCE_COLUMNS = ("path", "identity")
CLIP_COLUMNS = ("clip", "speaker", "fps", "n_frames", "audio")


@dataclass(frozen=True)
class DatasetInfo:
    crop_size: int
    au_names: tuple[str, ...]
    format_version: int = FORMAT_VERSION


@dataclass(frozen=True)
class ClipRecord:
    clip: str
    speaker: str
    fps: float
    n_frames: int
    audio: str  # path relative to the clip folder, "" when the clip has no audio


def _atomic_write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def write_info(root: str | os.PathLike, info: DatasetInfo) -> None:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    d = asdict(info)
    d["au_names"] = list(info.au_names)
    _atomic_write_text(root / "dataset.json", json.dumps(d, indent=2) + "\n")


def read_info(root: str | os.PathLike) -> DatasetInfo:
    path = Path(root) / "dataset.json"
    if not path.is_file():
        raise FileNotFoundError(f"{root} is not a prepared dataset (no dataset.json); run `talkinghead prepare` first")
    d = json.loads(path.read_text())
    if d.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format version {d.get('format_version')}, expected {FORMAT_VERSION}")
    return DatasetInfo(int(d["crop_size"]), tuple(d["au_names"]), FORMAT_VERSION)


def clip_dir(root: str | os.PathLike, clip: str) -> Path:
    return Path(root) / "target" / "clips" / clip


def frame_path(root: str | os.PathLike, clip: str, index: int) -> Path:
    return clip_dir(root, clip) / "frames" / f"{index:06d}.jpg"


def landmarks_path(root: str | os.PathLike, clip: str) -> Path:
    """The clip's per-frame 478-point landmarks (what the AU tracker measured), for the
    renderer's AU -> motion model."""
    return clip_dir(root, clip) / "landmarks.npy"


def matches_any(patterns: Iterable[str], *names: str) -> bool:
    """True when any of `names` (a speaker, clip or identity) matches one of the shell-style
    globs: the one rule every trainer and the evaluation use to hold people out."""
    return any(fnmatch(name, p) for p in patterns for name in names)


def _read_rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = set(columns) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        return list(reader)


def _write_rows(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def read_source(root: str | os.PathLike) -> list[tuple[str, str]]:
    """(path relative to source/, identity) for every source still."""
    rows = _read_rows(Path(root) / "source" / "manifest.csv", SOURCE_COLUMNS)
    return [(r["path"], r["identity"]) for r in rows]


def write_source(root: str | os.PathLike, records: list[tuple[str, str]]) -> None:
    rows = [{"path": p, "identity": i} for p, i in records]
    _write_rows(Path(root) / "source" / "manifest.csv", SOURCE_COLUMNS, rows)


def read_clips(root: str | os.PathLike) -> list[ClipRecord]:
    rows = _read_rows(Path(root) / "target" / "clips.csv", CLIP_COLUMNS)
    return [ClipRecord(r["clip"], r["speaker"], float(r["fps"]), int(r["n_frames"]), r["audio"]) for r in rows]


def write_clips(root: str | os.PathLike, clips: list[ClipRecord]) -> None:
    _write_rows(Path(root) / "target" / "clips.csv", CLIP_COLUMNS, [asdict(c) for c in clips])
