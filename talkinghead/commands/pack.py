"""`talkinghead pack`: a subset of a prepared dataset (docs/dataset-format.md) under a size
budget, in exactly the same format, so a GPU machine that receives only a small working
tree (64 MiB) can train GATH and the AU estimator on real data unchanged.

- source stills: colour before grayscale (the product animates colour photos), and
  identities with at least two stills before singletons (the identity classifier needs
  repeats); identities enter two stills at a time, round-robin, so the budget buys many
  identities rather than many photos of a few;
- target frames: every clip and speaker stays; each speaker keeps every s-th of its valid
  frames, with s chosen per speaker so that all speakers get about the same number of
  frames (one speaker with most of the footage does not eat the budget). Every aus.csv
  row stays (row N is at N / fps); frames not kept become valid=0 without a crop, which
  the GATH loaders skip. AU values are rounded to 3 decimals (tracker noise is larger);
- audio: kept when it fits in half of the target budget, otherwise dropped ("" in
  clips.csv). audio2au masks valid=0 rows from its loss, so it trains on the kept frames'
  AUs only: use the full dataset for audio2au.

The pack is built in a temporary folder beside the output, its size checked against the
budget, then renamed into place.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from actionunits import AUSeries, prepared
from actionunits.atomic import atomic_directory
from actionunits.prepared import ClipRecord, clip_dir, frame_path
from actionunits.progress import progress_bar
from talkinghead.errors import UserError

MIB = 1 << 20
AU_DECIMALS = 3
GRAY_SPREAD = 2.0  # mean |max - min| over the colour channels below which a still is grayscale
AUDIO_SHARE = 0.5  # audio is kept when it needs at most this share of the target budget
RESERVE = 16 * 1024  # headroom for dataset.json and the CSV headers


@dataclass(frozen=True)
class PackOptions:
    max_mb: float = 56.0  # MiB, counted as the sum of file sizes
    source_share: float = 0.35
    audio: bool = True
    jpeg_quality: int | None = None  # None: copy the files as they are
    seed: int = 0
    progress: bool = True


@dataclass
class PackSummary:
    out: Path
    stills: int
    stills_total: int
    identities: int
    colour_stills: int
    clips: int
    speakers: int
    frames: int
    frames_total: int
    strides: tuple[int, int]
    audio: str
    bytes: int
    max_bytes: int

    def line(self) -> str:
        lo, hi = self.strides
        stride = f"stride {lo}" if lo == hi else f"strides {lo}-{hi}"
        return (
            f"packed {self.out}: {self.stills}/{self.stills_total} stills ({self.colour_stills} colour) of "
            f"{self.identities} identities, {self.clips} clips of {self.speakers} speakers, "
            f"{self.frames}/{self.frames_total} frames ({stride} per speaker), {self.audio}; "
            f"{self.bytes / MIB:.1f} of {self.max_bytes / MIB:.4g} MiB"
        )


def _bar(total: int, desc: str, on: bool):
    return progress_bar(total, desc, "file", disable=not on, leave=False)


def _read_image(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise UserError(f"cannot read image {path}")
    return img


def is_grayscale(img: np.ndarray) -> bool:
    """One channel, or three that (almost) agree: grayscale photos saved as RGB JPEGs keep
    a small chroma noise, hence a threshold rather than equality."""
    if img.ndim == 2 or img.shape[2] == 1:
        return True
    c = img[..., :3].astype(np.int16)
    return float((c.max(axis=2) - c.min(axis=2)).mean()) < GRAY_SPREAD


def _encode(path: Path, quality: int | None) -> bytes:
    if quality is None:
        return path.read_bytes()
    img = _read_image(path)
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise UserError(f"cannot encode {path} as JPEG")
    return buf.tobytes()


def _still_order(records: list[tuple[str, str]], colour: list[bool], rng: np.random.Generator) -> list[list[int]]:
    """Units of still indices in priority order: colour repeats, colour singletons,
    grayscale repeats, grayscale singletons. Within a repeat tier identities are visited
    round-robin in seeded order, the first unit of each being two stills."""
    units: list[list[int]] = []
    for want_colour in (True, False):
        by_id: dict[str, list[int]] = defaultdict(list)
        for i, (_, identity) in enumerate(records):
            if colour[i] == want_colour:
                by_id[identity].append(i)
        ids = sorted(by_id)
        ids = [ids[j] for j in rng.permutation(len(ids))]
        lists = {k: [by_id[k][j] for j in rng.permutation(len(by_id[k]))] for k in ids}
        repeats = [k for k in ids if len(lists[k]) >= 2]
        units += [lists[k][:2] for k in repeats]
        for r in range(2, max((len(lists[k]) for k in repeats), default=0)):
            units += [[lists[k][r]] for k in repeats if r < len(lists[k])]
        units += [lists[k] for k in ids if len(lists[k]) == 1]
    return units


def _select_stills(src: Path, options: PackOptions, budget: int) -> tuple[list[tuple[str, str, bytes]], int, int, int]:
    """(output path, identity, file bytes) of the chosen stills, how many are colour, the
    bytes they take with their manifest rows, and the number of stills in the source."""
    records = prepared.read_source(src)
    colour = []
    with _bar(len(records), "stills", options.progress) as bar:
        for rel, _ in records:
            colour.append(not is_grayscale(_read_image(src / "source" / rel)))
            bar.update()
    chosen, used, n_colour = [], 0, 0
    for unit in _still_order(records, colour, np.random.default_rng(options.seed)):
        data = [_encode(src / "source" / records[i][0], options.jpeg_quality) for i in unit]
        rels = [
            records[i][0] if options.jpeg_quality is None else str(Path(records[i][0]).with_suffix(".jpg"))
            for i in unit
        ]
        size = sum(len(d) + _csv_row_bytes(rel, records[i][1]) for i, d, rel in zip(unit, data, rels))
        if used + size > budget:
            break
        used += size
        n_colour += sum(colour[i] for i in unit)
        chosen += [(rel, records[i][1], d) for i, d, rel in zip(unit, data, rels)]
    if records and not chosen:
        raise UserError(f"budget too small: the source share ({budget / MIB:.2f} MiB) holds no still")
    return chosen, n_colour, used, len(records)


def _csv_row_bytes(*values: object) -> int:
    """Bytes of one row as the prepared.py CSV writer writes it (manifest.csv, clips.csv)."""
    buf = io.StringIO()
    csv.writer(buf).writerow(values)
    return len(buf.getvalue().encode())


def _aus_text(series: AUSeries, valid: np.ndarray) -> str:
    """aus.csv with the pack's valid flags, AU values rounded to AU_DECIMALS (read back by
    AUSeries.read_csv like the original)."""

    def num(v: float, decimals: int) -> str:
        return f"{v:.{decimals}f}".rstrip("0").rstrip(".") or "0"

    lines = [",".join(["time", "valid", *series.names])]
    for i, row in enumerate(series.values):
        lines.append(",".join([num(i / series.fps, 6), str(int(valid[i])), *(num(float(v), AU_DECIMALS) for v in row)]))
    return "\n".join(lines) + "\n"


@dataclass
class _Clip:
    record: ClipRecord
    series: AUSeries
    valid_idx: np.ndarray  # valid rows whose crop exists
    sizes: np.ndarray  # file size of each of those crops
    audio_bytes: int


def _scan_clips(src: Path, options: PackOptions) -> list[_Clip]:
    clips = []
    records = prepared.read_clips(src)
    with _bar(len(records), "clips", options.progress) as bar:
        for rec in records:
            series = AUSeries.read_csv(clip_dir(src, rec.clip) / "aus.csv", fps=rec.fps)
            valid = series.valid if series.valid is not None else np.ones(len(series), bool)
            idx, sizes = [], []
            for i in np.flatnonzero(valid):
                try:
                    sizes.append(frame_path(src, rec.clip, int(i)).stat().st_size)
                    idx.append(int(i))
                except FileNotFoundError:
                    pass  # a valid row without its crop: the pack marks it invalid
            audio = clip_dir(src, rec.clip) / rec.audio if rec.audio else None
            clips.append(
                _Clip(
                    rec,
                    series,
                    np.array(idx, int),
                    np.array(sizes, np.int64),
                    audio.stat().st_size if audio and audio.is_file() else 0,
                )
            )
            bar.update()
    return clips


def _keep(clips: list[_Clip], cap: int, seed: int) -> tuple[list[np.ndarray], dict[str, int]]:
    """Frames kept per clip when every speaker keeps about `cap` frames: speaker stride
    s = ceil(frames / cap), every s-th valid frame of each clip from a seeded offset (at
    least one frame per clip that has any)."""
    totals: dict[str, int] = defaultdict(int)
    for c in clips:
        totals[c.record.speaker] += len(c.valid_idx)
    strides = {spk: max(1, math.ceil(n / cap)) for spk, n in totals.items()}
    kept = []
    for k, c in enumerate(clips):
        s, n = strides[c.record.speaker], len(c.valid_idx)
        offset = int(np.random.default_rng([seed, k]).integers(min(s, n))) if n else 0
        kept.append(np.arange(offset, n, s))
    return kept, strides


def _largest_cap(clips: list[_Clip], budget: float, ratio: float, seed: int) -> int:
    """The largest per-speaker cap whose estimated frame bytes fit `budget` (1 when none)."""

    def cost(cap: int) -> float:
        return ratio * sum(int(c.sizes[k].sum()) for c, k in zip(clips, _keep(clips, cap, seed)[0]))

    totals: dict[str, int] = defaultdict(int)
    for c in clips:
        totals[c.record.speaker] += len(c.valid_idx)
    lo, hi = 1, max([*totals.values(), 1])
    if cost(hi) <= budget:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if cost(mid) <= budget else (lo, mid)
    return lo


def _frame_ratio(src: Path, clips: list[_Clip], quality: int | None, rng: np.random.Generator) -> float:
    """Bytes after re-encoding per byte of the original crops, from a sample (1 when copying)."""
    if quality is None:
        return 1.0
    frames = [(c, int(i)) for c in clips for i in c.valid_idx]
    if not frames:
        return 1.0
    sample = [frames[j] for j in rng.choice(len(frames), size=min(200, len(frames)), replace=False)]
    paths = [frame_path(src, c.record.clip, i) for c, i in sample]
    return sum(len(_encode(p, quality)) for p in paths) / max(1, sum(p.stat().st_size for p in paths))


def _check_out(out: Path) -> None:
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or (out / "dataset.json").is_file())):
        raise UserError(f"{out} exists and is not a prepared dataset or pack; not overwriting it")


def pack(src: str | os.PathLike, out: str | os.PathLike, options: PackOptions = PackOptions()) -> PackSummary:
    """Write a budgeted subset of the prepared dataset `src` to `out` (replacing an older
    pack there) and return what it holds."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise UserError(f"{src}: no such folder")
    try:
        info = prepared.read_info(src)
    except (FileNotFoundError, ValueError) as e:
        raise UserError(str(e)) from None
    if options.max_mb <= 0 or not 0 < options.source_share < 1:
        raise UserError(f"need --max-mb > 0 and 0 < --source-share < 1, got {options.max_mb}, {options.source_share}")
    if options.jpeg_quality is not None and not 1 <= options.jpeg_quality <= 100:
        raise UserError(f"--jpeg-quality must be in 1..100, got {options.jpeg_quality}")
    _check_out(out)
    max_bytes = int(options.max_mb * MIB)
    usable = max_bytes - RESERVE
    if usable <= 0:
        raise UserError(f"budget too small: {options.max_mb:g} MiB")

    stills, colour, source_bytes, stills_total = _select_stills(src, options, int(usable * options.source_share))
    target_budget = usable - source_bytes

    clips = _scan_clips(src, options)
    audio_bytes = sum(c.audio_bytes for c in clips)
    keep_audio = options.audio and audio_bytes > 0 and audio_bytes <= AUDIO_SHARE * target_budget
    if not options.audio:
        audio_note = "no audio (--no-audio)"
    elif not audio_bytes:
        audio_note = "no audio in the source"
    elif keep_audio:
        audio_note = f"audio kept ({audio_bytes / MIB:.1f} MiB)"
    else:
        audio_note = f"audio dropped ({audio_bytes / MIB:.1f} MiB does not fit)"
    aus_bytes = sum(len(_aus_text(c.series, np.zeros(len(c.series), bool)).encode()) for c in clips)
    clips_csv_bytes = sum(
        _csv_row_bytes(
            c.record.clip, c.record.speaker, c.record.fps, c.record.n_frames, c.record.audio if keep_audio else ""
        )
        for c in clips
    )
    frame_budget = target_budget - aus_bytes - clips_csv_bytes - (audio_bytes if keep_audio else 0)
    min_frames = sum(int(c.sizes.min()) for c in clips if len(c.sizes))
    if frame_budget < min_frames:
        need = (max_bytes - frame_budget + min_frames) / MIB
        raise UserError(
            f"budget too small: {options.max_mb:g} MiB cannot hold one frame per clip (about {need:.1f} MiB needed)"
        )

    # choose the cap from estimated sizes; re-encoded sizes are checked and the cap lowered until they fit
    rng = np.random.default_rng(options.seed)
    ratio = _frame_ratio(src, clips, options.jpeg_quality, rng)
    cache: dict[tuple[int, int], bytes] = {}
    while True:
        cap = _largest_cap(clips, frame_budget, ratio, options.seed)
        kept, strides = _keep(clips, cap, options.seed)
        chosen = [(ci, int(c.valid_idx[j])) for ci, (c, k) in enumerate(zip(clips, kept)) for j in k]
        if options.jpeg_quality is None:
            estimate = actual = sum(int(c.sizes[k].sum()) for c, k in zip(clips, kept))
        else:
            estimate = ratio * sum(int(c.sizes[k].sum()) for c, k in zip(clips, kept))
            todo = [key for key in chosen if key not in cache]
            with _bar(len(todo), "encode", options.progress) as bar:
                for ci, i in todo:
                    cache[ci, i] = _encode(frame_path(src, clips[ci].record.clip, i), options.jpeg_quality)
                    bar.update()
            actual = sum(len(cache[key]) for key in chosen)
        if actual <= frame_budget:
            break
        if cap == 1:
            raise UserError(f"budget too small: {options.max_mb:g} MiB cannot hold one frame per clip")
        ratio *= actual / max(estimate, 1.0) * 1.01

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_directory(out) as tmp:
        prepared.write_info(tmp, info)
        for rel, _, data in stills:
            path = tmp / "source" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        prepared.write_source(tmp, [(rel, identity) for rel, identity, _ in stills])
        records = []
        n_frames = sum(len(k) for k in kept)
        with _bar(n_frames, "frames", options.progress) as bar:
            for ci, (c, k) in enumerate(zip(clips, kept)):
                rec = c.record
                d = clip_dir(tmp, rec.clip)
                (d / "frames").mkdir(parents=True, exist_ok=True)
                valid = np.zeros(len(c.series), bool)
                for j in k:
                    i = int(c.valid_idx[j])
                    valid[i] = True
                    data = cache.get((ci, i))
                    if data is None:
                        shutil.copyfile(frame_path(src, rec.clip, i), frame_path(tmp, rec.clip, i))
                    else:
                        frame_path(tmp, rec.clip, i).write_bytes(data)
                    bar.update()
                (d / "aus.csv").write_bytes(_aus_text(c.series, valid).encode())
                if keep_audio and rec.audio and c.audio_bytes:
                    shutil.copyfile(clip_dir(src, rec.clip) / rec.audio, d / rec.audio)
                    records.append(rec)
                else:
                    records.append(replace(rec, audio=""))
        prepared.write_clips(tmp, records)
        size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        if size > max_bytes:
            raise UserError(f"pack came out at {size / MIB:.2f} MiB, over --max-mb {options.max_mb:g}")
    stride_values = [strides[s] for s in {c.record.speaker for c in clips}] or [1]
    return PackSummary(
        out,
        len(stills),
        stills_total,
        len({i for _, i, _ in stills}),
        colour,
        len(clips),
        len({c.record.speaker for c in clips}),
        n_frames,
        sum(len(c.valid_idx) for c in clips),
        (min(stride_values), max(stride_values)),
        audio_note,
        size,
        max_bytes,
    )
