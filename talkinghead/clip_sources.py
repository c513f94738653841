"""The videos a dataset is prepared from: which files, what each clip is called and who
speaks in it. `prepare` lists them to make a dataset; GATH-W's pair builder lists them
again to find a prepared clip's video (the names are the same by construction)."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from talkinghead.data_root import SPEAKER_COLUMNS
from talkinghead.errors import UserError

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".webm", ".m4v"}


@dataclass(frozen=True)
class ClipTask:
    path: Path
    clip: str
    speaker: str


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def files_under(folder: Path, extensions: set[str]) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in extensions and p.is_file() and not p.name.startswith(".")
    )


def _manifest_speakers(folder: Path) -> dict[str, str]:
    """video file path (resolved) -> speaker, from manifest.csv files in, below or just
    above the folder."""
    out: dict[str, str] = {}
    above = [p / "manifest.csv" for p in list(folder.resolve().parents)[:2]]
    for manifest in [m for m in above if m.is_file()] + sorted(folder.rglob("manifest.csv")):
        with open(manifest, newline="") as f:
            reader = csv.DictReader(f)
            col = next((c for c in SPEAKER_COLUMNS if c in (reader.fieldnames or [])), None)
            if col is None or "path" not in (reader.fieldnames or []):
                continue
            for row in reader:
                rel = Path(row["path"])
                # Paths may be relative to the manifest or to a parent data root.
                for k in range(len(rel.parts)):
                    candidate = manifest.parent / Path(*rel.parts[k:])
                    if candidate.is_file():
                        if row[col].strip():
                            out[str(candidate.resolve())] = row[col].strip()
                        break
    return out


def list_clips(targets: list[tuple[Path, str | None]], name_root: Path | None = None) -> list[ClipTask]:
    """Videos of the target folders (or single files), with clip names and speakers."""
    found: list[tuple[Path, Path, str | None, dict[str, str]]] = []
    for folder, speaker in targets:
        if folder.is_file():
            found.append((folder, folder.parent, speaker, {}))
            continue
        if not folder.is_dir():
            raise UserError(f"target folder not found: {folder}")
        videos = files_under(folder, VIDEO_EXTENSIONS)
        if not videos:
            raise UserError(f"no videos found under {folder}")
        manifest = _manifest_speakers(folder)
        found += [(v, folder, speaker, manifest) for v in videos]
    if name_root is None:  # names keep the folder name: clips of separate runs cannot collide
        name_root = Path(os.path.commonpath([str(base.resolve().parent) for _, base, _, _ in found]))
    tasks = []
    for video, _, speaker, manifest in found:
        try:
            rel = video.resolve().relative_to(name_root.resolve())
        except ValueError:
            rel = Path(video.name)
        clip = "__".join(slug(part) for part in rel.with_suffix("").parts)
        spk = speaker or manifest.get(str(video.resolve())) or clip
        tasks.append(ClipTask(video, clip, spk))
    return tasks


def shared_data_inputs(data: Path) -> tuple[list[Path], list[tuple[Path, str | None]], Path]:
    """Sources, targets and the clip-name root for the shared data layout (README there):
    face stills first, GRID s1 (one speaker, the bulk of the video) last."""
    if not (data / "faces").is_dir() and not (data / "video").is_dir():
        raise UserError(f"{data} does not look like the shared data folder (no faces/ or video/)")
    sources = sorted(p for p in (data / "faces").glob("*") if p.is_dir())
    video = data / "video"
    grid = video / "grid" / "s1" / "video"
    targets: list[tuple[Path, str | None]] = [
        (p, None) for p in sorted(video.glob("*")) if p.is_dir() and p.name != "grid"
    ]
    if grid.is_dir():
        targets.append((grid, "grid_s1"))
    return sources, targets, video
