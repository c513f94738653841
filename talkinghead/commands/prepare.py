"""`talkinghead prepare`: turn photo folders and videos into a prepared dataset
(docs/dataset-format.md) for the GATH and audio2au trainers.

- source set: one aligned crop per photo with an identity label, taken from an
  `identities.csv` (image,identity) in the folder, else from sub-folder names, else from
  the file name (`George_W_Bush_0012.jpg` -> `George_W_Bush`);
- target set: per video, frames sampled at `fps`, their aligned crops, the AU series
  (interpolated and valid=0 where tracking failed), the audio as 16 kHz mono WAV, and a
  speaker id (from a `manifest.csv` with a speaker column, `DIR=SPEAKER`, or per clip).

Every photo and clip is independent: the run is parallel over processes, resumable (a
clip is written into a temporary folder and renamed when complete; finished outputs are
skipped), and a bad file is listed in `failures.csv` instead of stopping the run.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from actionunits import AU_NAMES, AUSeries
from actionunits.atomic import atomic_directory, atomic_output
from actionunits.prepared import (
    ClipRecord,
    DatasetInfo,
    clip_dir,
    frame_path,
    landmarks_path,
    read_clips,
    read_info,
    read_source,
    write_clips,
    write_info,
    write_source,
)
from actionunits.progress import progress_bar
from talkinghead.clip_sources import ClipTask, files_under, list_clips, slug
from talkinghead.errors import UserError
from talkinghead.io.image import write_image

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
IDENTITY_PATTERN = r"^(?P<identity>.+?)[_-]\d+$"
MIN_EYE_DISTANCE_PX = 12.0  # smaller faces carry too little detail for a 100 px crop
JPEG_QUALITY = 95
MANIFEST_EVERY_S = 30.0
SILENT_DBFS = (
    -60.0
)  # audio tracks quieter than this are treated as no audio  # rewrite manifests this often so readers see progress


@dataclass(frozen=True)
class StillTask:
    path: Path
    identity: str
    rel: str  # output path relative to source/


@dataclass
class Summary:
    stills_done: int = 0
    stills_skipped: int = 0
    clips_done: int = 0
    clips_skipped: int = 0
    frames: int = 0
    valid_frames: int = 0
    elapsed: float = 0.0
    failures: list[tuple[str, str, str]] = field(default_factory=list)


# ---------------------------------------------------------------- listing the inputs


def _read_identity_csv(path: Path) -> dict[str, str]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        key = next((c for c in ("image", "path", "file", "filename") if c in cols), None)
        if key is None or "identity" not in cols:
            raise UserError(f"{path}: expected columns image (or path) and identity, got {cols}")
        return {Path(r[key]).name: r["identity"].strip() for r in reader if r.get("identity", "").strip()}


def list_stills(folder: Path, identity_pattern: str = IDENTITY_PATTERN) -> tuple[list[StillTask], list[tuple]]:
    """Photos of `folder` with their identities, and the ones without an identity."""
    if not folder.is_dir():
        raise UserError(f"source folder not found: {folder}")
    images = files_under(folder, IMAGE_EXTENSIONS)
    if not images:
        raise UserError(f"no images found under {folder}")
    csv_path = folder / "identities.csv"
    table = _read_identity_csv(csv_path) if csv_path.is_file() else None
    parents = {p.parent for p in images}
    by_folder = table is None and len(parents) > 1
    pattern = re.compile(identity_pattern)
    tasks, unlabelled = [], []
    for p in images:
        if table is not None:
            identity = table.get(p.name)
        elif by_folder:
            identity = p.parent.name
        else:
            m = pattern.match(p.stem)
            identity = m.group("identity") if m else None
        if not identity:
            unlabelled.append(("still", str(p), "no identity label"))
            continue
        rel = f"images/{slug(folder.name)}/{slug(str(p.relative_to(folder).with_suffix('')))}.jpg"
        tasks.append(StillTask(p, identity, rel))
    return tasks, unlabelled


# ---------------------------------------------------------------- per-item workers

_detector = None
_tracker = None


def _still_detector():
    global _detector, _tracker
    if _detector is None:
        from talkinghead.face.au_tracker import AUTracker
        from talkinghead.face.landmarks import LandmarkDetector

        cv2.setNumThreads(1)
        _detector = LandmarkDetector(video=False, max_faces=1)
        _tracker = AUTracker()
    return _detector, _tracker


def plausible_face(landmarks: np.ndarray, tracker) -> str | None:
    """Why a detection is not a usable face (None when it is): too small, or its rigid
    geometry does not fit a human head (a false detection, a profile, an occlusion)."""
    from talkinghead.face.align import anchor_points

    eyes = anchor_points(landmarks)
    if np.linalg.norm(eyes[1] - eyes[0]) < MIN_EYE_DISTANCE_PX:
        return "face too small"
    _, valid = tracker.measure(landmarks[None])
    return None if valid[0] else "implausible face geometry (false detection or extreme pose)"


def prepare_still(task: StillTask, root: Path, crop_size: int) -> tuple[StillTask, str | None]:
    """Align one photo into source/<rel>. Returns (task, failure reason or None)."""
    from talkinghead.face.align import align_face
    from talkinghead.io.image import read_image

    try:
        image = read_image(task.path)
        detector, tracker = _still_detector()
        faces = detector.detect(image)
        if not faces:
            return task, "no face found"
        reason = plausible_face(faces[0], tracker)
        if reason:
            return task, reason
        aligned = align_face(image, faces[0], crop_size)
        out = root / "source" / task.rel
        out.parent.mkdir(parents=True, exist_ok=True)
        write_image(out, aligned.crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return task, None
    except UserError as e:
        return task, str(e)
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the run
        return task, f"{type(e).__name__}: {e}"


def prepare_clip(
    task: ClipTask, root: Path, crop_size: int, fps: float, neutral_from_clip: bool
) -> tuple[ClipTask, ClipRecord | None, int, int, str | None]:
    """Frames, crops, AU series and audio of one video into target/clips/<clip>/ (atomic)."""
    from talkinghead.face.align import align_face
    from talkinghead.face.au_tracker import AUTracker, track_video
    from talkinghead.face.landmarks import N_LANDMARKS
    from talkinghead.io.soundtrack import extract_audio, has_audio

    try:
        with atomic_directory(clip_dir(root, task.clip)) as tmp:
            (tmp / "frames").mkdir()
            cv2.setNumThreads(1)
            frames_dir = tmp / "frames"
            points: list[np.ndarray] = []

            def save_crop(index: int, rgb: np.ndarray, landmarks: np.ndarray | None) -> None:
                points.append(np.full((N_LANDMARKS, 3), np.nan, np.float32) if landmarks is None else landmarks)
                if landmarks is not None:
                    write_image(
                        frames_dir / frame_path(root, task.clip, index).name,
                        align_face(rgb, landmarks, crop_size).crop,
                        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
                    )

            series = track_video(
                task.path, fps, neutral_from_clip=neutral_from_clip, tracker=AUTracker(), on_frame=save_crop
            )
            for i in np.flatnonzero(~series.valid):  # tracked but implausible: no crop
                (frames_dir / frame_path(root, task.clip, int(i)).name).unlink(missing_ok=True)
            series.write_csv(tmp / "aus.csv")
            np.save(tmp / landmarks_path(root, task.clip).name, np.stack(points).astype(np.float32))
            audio = ""
            if has_audio(task.path):
                extract_audio(task.path, tmp / "audio.wav")
                if is_silent(tmp / "audio.wav"):  # a muted track is no speech to learn from
                    (tmp / "audio.wav").unlink()
                else:
                    audio = "audio.wav"
        record = ClipRecord(task.clip, task.speaker, series.fps, len(series), audio)
        return task, record, len(series), int(series.valid.sum()), None
    except UserError as e:
        return task, None, 0, 0, str(e)
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the run
        return task, None, 0, 0, f"{type(e).__name__}: {e}"


def is_silent(wav: Path) -> bool:
    """Whether a WAV file is digital silence (RMS below SILENT_DBFS)."""
    import soundfile as sf

    samples, _ = sf.read(wav, dtype="float32")
    if samples.size == 0:
        return True
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * np.log10(rms + 1e-12) < SILENT_DBFS


def existing_clip(root: Path, task: ClipTask) -> ClipRecord | None:
    """The record of a clip finished by an earlier run, or None (also for clips prepared
    before landmarks were kept: they are prepared again)."""
    d = clip_dir(root, task.clip)
    if not (d / "aus.csv").is_file() or not landmarks_path(root, task.clip).is_file():
        return None
    try:
        series = AUSeries.read_csv(d / "aus.csv")
    except ValueError:
        return None
    return ClipRecord(
        task.clip, task.speaker, series.fps, len(series), "audio.wav" if (d / "audio.wav").is_file() else ""
    )


# ---------------------------------------------------------------- the run


def _run_parallel(fn, items: list, workers: int, args: tuple) -> Iterator:
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield fn(item, *args)
        return
    ctx = multiprocessing.get_context("spawn")  # mediapipe graphs do not survive fork
    with ctx.Pool(workers) as pool:
        yield from pool.imap_unordered(_Call(fn, args), items, chunksize=1 if fn is prepare_clip else 8)


class _Call:
    def __init__(self, fn, args: tuple) -> None:
        self.fn, self.args = fn, args

    def __call__(self, item):
        return self.fn(item, *self.args)


def _write_failures(root: Path, failures: list[tuple[str, str, str]]) -> None:
    with atomic_output(root / "failures.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "path", "reason"])
        w.writerows(failures)


def prepare(
    root: str | os.PathLike,
    sources: Iterable[Path] = (),
    targets: Iterable[tuple[Path, str | None]] = (),
    crop_size: int = 100,
    fps: float = 25.0,
    workers: int = 1,
    neutral_from_clip: bool = True,
    limit: int | None = None,
    name_root: Path | None = None,
    progress: bool = True,
) -> Summary:
    """Build (or extend, or resume) the prepared dataset at `root`. See the module docstring."""
    root = Path(root)
    sources, targets = list(sources), list(targets)
    if not sources and not targets:
        raise UserError("nothing to prepare: give at least one --source photo folder or --target video folder")
    if fps <= 0 or crop_size < 16:
        raise UserError("fps must be positive and the crop size at least 16")
    if (root / "dataset.json").is_file():
        info = read_info(root)
        if info.crop_size != crop_size:
            raise UserError(f"{root} holds {info.crop_size} px crops; use --crop-size {info.crop_size} or a new folder")
    root.mkdir(parents=True, exist_ok=True)
    write_info(root, DatasetInfo(crop_size, AU_NAMES))
    summary = Summary()

    still_tasks: list[StillTask] = []
    for folder in sources:
        tasks, unlabelled = list_stills(folder)
        still_tasks += tasks[:limit] if limit else tasks
        summary.failures += unlabelled
    clip_tasks = list_clips(targets, name_root)
    if limit:
        by_folder: dict[Path, int] = {}
        kept = []
        for t in clip_tasks:
            by_folder[t.path.parent] = by_folder.get(t.path.parent, 0) + 1
            if by_folder[t.path.parent] <= limit:
                kept.append(t)
        clip_tasks = kept

    start = time.perf_counter()
    if still_tasks:
        _prepare_stills(root, still_tasks, crop_size, workers, summary, progress)
    if clip_tasks:
        _prepare_clips(root, clip_tasks, crop_size, fps, workers, neutral_from_clip, summary, progress)
    summary.elapsed = time.perf_counter() - start
    _write_failures(root, summary.failures)
    return summary


def _prepare_stills(root, tasks, crop_size, workers, summary, progress) -> None:
    wanted = {t.rel for t in tasks}
    records = {p: i for p, i in read_source(root) if p not in wanted}  # other folders' stills stay
    todo = []
    for t in tasks:
        if (root / "source" / t.rel).is_file():
            records[t.rel] = t.identity
            summary.stills_skipped += 1
        else:
            todo.append(t)
    last = time.monotonic()
    bar = progress_bar(len(todo), "stills", "img", disable=not progress)
    for task, reason in _run_parallel(prepare_still, todo, workers, (root, crop_size)):
        bar.update()
        if reason:
            summary.failures.append(("still", str(task.path), reason))
        else:
            records[task.rel] = task.identity
            summary.stills_done += 1
        if time.monotonic() - last > MANIFEST_EVERY_S:
            write_source(root, sorted(records.items()))
            _write_failures(root, summary.failures)
            last = time.monotonic()
    bar.close()
    write_source(root, sorted(records.items()))


def _prepare_clips(root, tasks, crop_size, fps, workers, neutral_from_clip, summary, progress) -> None:
    records = {c.clip: c for c in read_clips(root)}
    todo = []
    for t in tasks:
        done = existing_clip(root, t)
        if done is not None:
            records[t.clip] = done
            summary.clips_skipped += 1
        else:
            todo.append(t)
    write_clips(root, sorted(records.values(), key=lambda c: c.clip))
    last = time.monotonic()
    t0 = time.perf_counter()
    bar = progress_bar(len(todo), "clips", "clip", disable=not progress)
    for task, record, n, valid, reason in _run_parallel(
        prepare_clip, todo, workers, (root, crop_size, fps, neutral_from_clip)
    ):
        bar.update()
        summary.frames += n
        summary.valid_frames += valid
        bar.set_postfix(fps=f"{summary.frames / max(time.perf_counter() - t0, 1e-6):.1f}")
        if record is None:
            summary.failures.append(("clip", str(task.path), reason or "unknown error"))
            continue
        summary.clips_done += 1
        records[task.clip] = record
        if n > valid:
            summary.failures.append(("frames", str(task.path), f"{n - valid} of {n} frames without a tracked face"))
        if time.monotonic() - last > MANIFEST_EVERY_S:
            write_clips(root, sorted(records.values(), key=lambda c: c.clip))
            _write_failures(root, summary.failures)
            last = time.monotonic()
    bar.close()
    write_clips(root, sorted(records.values(), key=lambda c: c.clip))


def format_summary(summary: Summary, root: Path) -> str:
    failed = [f for f in summary.failures if f[0] != "frames"]
    stills_total = summary.stills_done + sum(1 for f in failed if f[0] == "still")
    clips_total = summary.clips_done + sum(1 for f in failed if f[0] == "clip")
    elapsed = summary.elapsed
    lines = [
        f"prepared dataset: {root}",
        f"  stills: {summary.stills_done} new, {summary.stills_skipped} already done, "
        f"{stills_total - summary.stills_done} failed of {stills_total} tried",
        f"  clips:  {summary.clips_done} new, {summary.clips_skipped} already done, "
        f"{clips_total - summary.clips_done} failed of {clips_total} tried",
        f"  frames: {summary.valid_frames} with a face of {summary.frames} sampled"
        + (f" ({summary.frames / elapsed:.1f} frames/s overall)" if summary.frames and elapsed else ""),
        f"  time:   {elapsed:.0f} s",
    ]
    if summary.failures:
        lines.append(f"  {len(summary.failures)} problems listed in {root / 'failures.csv'}")
    return "\n".join(lines)
