"""Self-reenactment pairs for GATH-W, built on the talkinghead side so `gath`
never touches the renderer: from one prepared clip, a source frame s is warped by the
renderer to a target frame t's expression, and the mouth crop of that warp is paired with
the mouth crop of the real frame t.

    warped   (N, 3, S, S) uint8   the renderer's output around the mouth (drawn fill included)
    opening  (N, 1, S, S) uint8   where the warp parted the lips (its inner-lip polygon)
    target   (N, 3, S, S) uint8   the real frame t, cropped the same way around its own mouth
    mouth    (N, 1, S, S) uint8   t's own inner-lip polygon (the loss weighs it up)
    aus      (N, K) float32       t's AUs
    speaker  (N,) int64           index into `speakers`

Each crop is centred on its own frame's inner lips and upright along its eye line
(`face.mouth.mouth_crop`, the crop the renderer refines), so head motion between s and t
does not misalign them.
By default the source is warped to t's real landmarks (its expression, in s's head pose),
not to the motion model's prediction from t's AUs: with the predicted geometry the real
mouth is often less open than the warped one, and an L1-trained refiner learned to paint
lips over the opening, closing the mouths that the AUs ask to open (seen at 250 steps of
the first run). With the real geometry the opening matches the target, and the refiner
learns what it is for: the interior. Sources lean to closed mouths and targets to mouths
that differ from the source, since an opening mouth is what GATH-W must learn.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actionunits import AUSeries
from actionunits.atomic import atomic_output
from actionunits.prepared import clip_dir, landmarks_path, matches_any, read_clips, read_info
from audio2au.frame_measures import lip_gap
from talkinghead.clip_sources import list_clips, shared_data_inputs
from talkinghead.errors import UserError
from talkinghead.face.mouth import DRAWING, mouth_crop
from talkinghead.io.video_frames import VideoFrames
from talkinghead.portrait import Portrait
from talkinghead.renderers.warp import WarpAnimator, load_motion

PAIR_FORMAT = 1
ARRAYS = ("warped", "opening", "target", "mouth", "aus", "speaker")


@dataclass(frozen=True)
class PairOptions:
    """How many pairs a clip gives and how they are cut (configs/train_gath_w.yaml)."""

    crop_size: int = 64
    geometry: str = "real"  # real | motion: where the warp moves the source (see the module doc)
    sources_per_clip: int = 2  # at least this many source frames per clip,
    frames_per_source: int = 50  # and one more per this many frames in longer clips
    targets_per_source: int = 4
    seed: int = 0


def choose_frames(
    gap: np.ndarray, usable: np.ndarray, opts: PairOptions, rng: np.random.Generator
) -> list[tuple[int, list[int]]]:
    """(source, targets) indices: half the sources among the clip's most closed mouths, the
    rest anywhere; targets drawn with weight growing with their lip-gap difference."""
    idx = np.flatnonzero(usable)
    if len(idx) < 2:
        return []
    closed = idx[np.argsort(gap[idx])[: max(1, len(idx) // 3)]]
    out = []
    for k in range(max(opts.sources_per_clip, len(idx) // opts.frames_per_source)):
        s = int(rng.choice(closed if k % 2 == 0 else idx))
        others = idx[idx != s]
        w = np.abs(gap[others] - gap[s]) + 0.02
        n = min(opts.targets_per_source, len(others))
        out.append((s, [int(t) for t in rng.choice(others, n, replace=False, p=w / w.sum())]))
    return out


def clip_pairs(
    frames: dict[int, np.ndarray],
    landmarks: np.ndarray,
    aus: np.ndarray,
    chosen: list[tuple[int, list[int]]],
    motion,
    size: int,
    geometry: str = "real",
) -> dict[str, list[np.ndarray]]:
    """The pairs of one clip: each source warped once per target by the renderer, moved to
    the target's real landmarks (`geometry="real"`) or to the motion model's prediction
    from the target's AUs ("motion", as in a render)."""
    out: dict[str, list[np.ndarray]] = {k: [] for k in ARRAYS[:5]}
    for s, targets in chosen:
        animator = WarpAnimator(Portrait(frames[s], landmarks[s], aus[s]), motion)
        moves = animator.offsets_to(landmarks[targets]) if geometry == "real" else None
        plan = animator.plan(aus[targets], offsets=moves)
        for t, warped, points in zip(targets, animator.draw(plan), plan.points):
            _, w_crop, opening = mouth_crop(warped, points, size)
            _, t_crop, mouth = mouth_crop(frames[t], landmarks[t][:, :2], size)
            out["warped"].append(w_crop.transpose(2, 0, 1))
            out["opening"].append((opening[None] * 255).round().astype(np.uint8))
            out["target"].append(t_crop.transpose(2, 0, 1))
            out["mouth"].append((mouth[None] * 255).round().astype(np.uint8))
            out["aus"].append(aus[t].astype(np.float32))
    return out


def read_frames(video: Path, fps: float, wanted: set[int]) -> dict[int, np.ndarray]:
    """The wanted frames of a video (sampled at fps as `prepare` did), decoding no further
    than the last of them."""
    out = {}
    for i, rgb in enumerate(VideoFrames(video, fps)):
        if i in wanted:
            out[i] = rgb
        if i >= max(wanted):
            break
    return out


def build_pairs(
    prepared: str | os.PathLike,
    videos: str | os.PathLike,
    out: str | os.PathLike,
    motion,
    speakers: list[str] | None = None,
    exclude: list[str] = (),
    opts: PairOptions = PairOptions(),
    progress: bool = True,
) -> Path:
    """Write the pairs of every prepared clip whose video is found under `videos` (the
    target folders given to `prepare`, or the shared data folder) to `out` (.npz).
    `speakers` (globs) keeps only those speakers; `exclude` drops speakers."""
    from actionunits.progress import progress_bar

    prepared, videos = Path(prepared), Path(videos)
    info = read_info(prepared)
    if (videos / "video").is_dir():
        _, targets, name_root = shared_data_inputs(videos)
    else:
        targets, name_root = [(videos, None)], None
    paths = {task.clip: task.path for task in list_clips(targets, name_root)}
    clips = [
        c
        for c in read_clips(prepared)
        if c.clip in paths
        and landmarks_path(prepared, c.clip).is_file()
        and not matches_any(list(exclude), c.speaker, c.clip)
        and (speakers is None or matches_any(speakers, c.speaker, c.clip))
    ]
    if not clips:
        raise ValueError(f"no prepared clip of {prepared} with landmarks has its video under {videos}")
    names = sorted({c.speaker for c in clips})
    rng = np.random.default_rng(opts.seed)
    arrays: dict[str, list[np.ndarray]] = {k: [] for k in ARRAYS}
    bar = progress_bar(len(clips), "pairs", "clip", disable=not progress)
    for clip in clips:
        bar.update()
        series = AUSeries.read_csv(clip_dir(prepared, clip.clip) / "aus.csv").reorder(info.au_names)
        landmarks = np.load(landmarks_path(prepared, clip.clip))
        n = min(len(series), len(landmarks))
        valid = series.valid[:n] if series.valid is not None else np.ones(n, bool)
        gap = lip_gap(landmarks[:n])
        chosen = choose_frames(np.nan_to_num(gap), valid & np.isfinite(gap), opts, rng)
        if not chosen:
            continue
        frames = read_frames(paths[clip.clip], clip.fps, {i for s, ts in chosen for i in (s, *ts)})
        chosen = [(s, [t for t in ts if t in frames]) for s, ts in chosen if s in frames]
        pairs = clip_pairs(
            frames, landmarks, series.values, [c for c in chosen if c[1]], motion, opts.crop_size, opts.geometry
        )
        for k, v in pairs.items():
            arrays[k] += v
        arrays["speaker"] += [names.index(clip.speaker)] * len(pairs["aus"])
    bar.close()
    if not arrays["aus"]:
        raise ValueError(f"no pairs could be made from {prepared}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                format=PAIR_FORMAT,
                drawing=DRAWING,
                speakers=np.array(names),
                au_names=np.array(info.au_names),
                tracker=np.array(motion.tracker),
                **{k: np.stack(v) for k, v in arrays.items()},
            )
    return out


def check_drawing(path: str | os.PathLike) -> None:
    """Refuse pairs whose warped crops were drawn with another mouth interior than the
    renderer's: a refiner trained on them would learn to correct a drawing it never sees."""
    with np.load(path) as d:
        drawing = int(d["drawing"]) if "drawing" in d.files else 1
    if drawing != DRAWING:
        raise UserError(
            f"GATH-W pairs {path} were built with drawn interior {drawing}, the renderer now draws "
            f"{DRAWING}: delete the file (it is rebuilt on the next run) or point refiner.pairs elsewhere"
        )


def ensure_pairs(cfg) -> None:  # noqa: ANN001 - the composed train_gath_w config
    """Build GATH-W's training pairs (speakers not excluded) and validation pairs (the
    excluded speakers) with the shipped motion model, unless they exist."""
    r = cfg.refiner
    opts = PairOptions(
        int(r.crop_size),
        str(r.geometry),
        int(r.sources_per_clip),
        int(r.frames_per_source),
        int(r.targets_per_source),
        int(cfg.seed),
    )
    held = list(cfg.data.exclude_speakers)
    motion = None
    for path, kw in ((r.pairs, {"exclude": held}), (r.val_pairs, {"speakers": held})):
        if path and Path(path).is_file():
            check_drawing(path)
            continue
        if not path or ("speakers" in kw and not held):
            continue
        motion = motion or load_motion(None)
        print(f"building GATH-W pairs {path} from {cfg.data.root} and the videos in {r.videos}", flush=True)
        build_pairs(cfg.data.root, r.videos, path, motion, opts=opts, **kw)
