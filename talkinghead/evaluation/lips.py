"""Lip sync end to end: what a user gets from a photo and speech, against real lips.

For each held-out talking clip the first frame is the photo and the clip's audio the
speech; `render` runs with default settings at the clip's frame rate, exactly as a user
would run it, and a fresh face mesh reads the inner-lip gap (over the eye distance) of the
decoded video. That is compared, frame by frame at lag 0, with the real clip's lip gap.
On the way the chain's stages are scored the same way, to show where the mouth is lost:
audio2au's AUs, the AUs after post-processing (the rest, smoothing, the photo's own
expression), and the motion model's lips (the warp's planned landmarks). The audio is also
damaged as users' audio often is (audio2au.degrade) and rendered again, and the clean
audio once more with a still head (`--head-motion 0`): a moving head moves the face
mesh's reading of the lips too, so that render shows what head motion costs the measure.
The same face mesh gives the head pose: the clean render's head motion, the still head's
and the background are measured too (evaluation.head).
"""

from __future__ import annotations

import itertools
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from actionunits.prepared import matches_any
from audio2au import load_audio, predict_aus
from audio2au.degrade import DEGRADATIONS
from audio2au.evaluate import pearson as correlation
from audio2au.features import SAMPLE_RATE, frame_count
from audio2au.frame_measures import au_lip_gap, frame_rms_db, lip_gap, speech_frames
from talkinghead.clip_sources import ClipTask, list_clips, shared_data_inputs
from talkinghead.commands.render import MAX_DEFAULT_HEIGHT, Kept, RenderOptions, render
from talkinghead.errors import UserError
from talkinghead.evaluation.head import BACKGROUND_EVERY, background_difference, head_means, head_stats, rotation_std
from talkinghead.face.head_pose import landmark_angles
from talkinghead.face.landmarks import N_LANDMARKS, LandmarkDetector
from talkinghead.io.au_csv import read_au_csv
from talkinghead.io.image import write_image
from talkinghead.io.soundtrack import ffmpeg_command
from talkinghead.io.video_frames import VideoFrames
from talkinghead.model_files import load_audio2au
from talkinghead.renderers.animator import Animator
from talkinghead.renderers.registry import load

CLEAN = "clean"
STILL_HEAD = "clean, head still"
STAGES = ("audio2au", "aupost", "motion", "render")  # in the chain's order
GAP_STAGES = ("motion", "render")  # in lip-gap units, so their amplitude compares with the real one
AMPLITUDE_RANGE = (0.7, 1.4)  # a render amplitude (std over the real std) a viewer takes as right
# Closures: real lips shut (gap < CLOSED_REAL for >= CLOSURE_FRAMES frames) within speech;
# the render closes too when its gap drops below CLOSED_RENDER within CLOSURE_SLACK frames.
CLOSED_REAL, CLOSED_RENDER, CLOSURE_FRAMES, CLOSURE_SLACK = 0.02, 0.03, 2, 2
# The photo's mouth, by its lip gap (eye distances) and the tracker's smile.
PARTED, OPEN, SMILING = 0.02, 0.08, 0.3
MOUTH_GROUPS = ("closed", "parted", "smiling, lips apart", "open")
# Held-out speakers that are not web-style speech: studio GRID, where lip sync is easy.
STUDIO = ("grid_*",)


@dataclass
class LipClip:
    """One held-out clip's real lip gap, head pose and voice, at the clip's frame rate."""

    name: str
    speaker: str
    video: Path
    fps: float
    gap: np.ndarray  # (frames,) real inner-lip gap, NaN without a face
    angles: np.ndarray  # (frames, 3) real head yaw, pitch, roll in degrees, NaN without a pose
    wav: np.ndarray  # 16 kHz mono


def held_out_clips(root: Path, speakers: Sequence[str], leave_out: Sequence[str] = ()) -> list[ClipTask]:
    """The shared data's videos of the held-out speakers (globs), web-style speech only (no
    studio GRID, nothing matching `leave_out`)."""
    _, targets, name_root = shared_data_inputs(root)
    clips = [
        t
        for t in list_clips(targets, name_root)
        if matches_any(speakers, t.speaker, t.clip) and not matches_any((*STUDIO, *leave_out), t.speaker, t.clip)
    ]
    if not clips:
        raise UserError(f"no web-style clips of the held-out speakers under {root}")
    return clips


def real_lips(task: ClipTask) -> LipClip:
    landmarks = video_landmarks(task.path)
    angles = landmark_angles(landmarks)[0]
    fps = VideoFrames(task.path).fps
    return LipClip(task.clip, task.speaker, task.path, fps, lip_gap(landmarks), angles, load_audio(task.path))


def video_landmarks(video: Path) -> np.ndarray:
    """(frames, 478, 3) face-mesh landmarks of the largest face in each frame of a video (a
    face mesh that tracks this video only), NaN rows where none is found: one pass gives
    both the lips and the head."""
    out = []
    with LandmarkDetector(video=True) as detector:
        for rgb in VideoFrames(video):
            faces = detector.detect(rgb)
            out.append(faces[0] if faces else np.full((N_LANDMARKS, 3), np.nan, np.float32))
    return np.asarray(out, np.float32).reshape(-1, N_LANDMARKS, 3)


def video_lip_gap(video: Path) -> np.ndarray:
    """(frames,) inner-lip gap of the largest face in each frame of a video, NaN without one."""
    return lip_gap(video_landmarks(video))


def first_frame(video: Path) -> np.ndarray:
    return next(iter(VideoFrames(video)))


def mouth_group(gap: float, smile: float) -> str:
    """The photo's mouth: closed, parted, smiling with the lips apart (teeth show), open."""
    if gap < PARTED:
        return "closed"
    if smile >= SMILING:
        return "smiling, lips apart"
    return "parted" if gap < OPEN else "open"


def pearson(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """r over the frames where both series exist (and `mask`); NaN under 10 such frames."""
    ok = np.isfinite(a) & np.isfinite(b) & (True if mask is None else mask)
    return correlation(a[ok], b[ok]) if ok.sum() >= 10 else float("nan")


def closures(gap: np.ndarray, speech: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) runs of >= CLOSURE_FRAMES frames with the real lips shut within speech."""
    shut = np.nan_to_num(gap, nan=1.0) < CLOSED_REAL
    shut &= speech
    runs, start = [], None
    for i, s in enumerate([*shut, False]):
        if s and start is None:
            start = i
        elif not s and start is not None:
            if i - start >= CLOSURE_FRAMES:
                runs.append((start, i))
            start = None
    return runs


def closure_recall(rendered: np.ndarray, real: np.ndarray, speech: np.ndarray) -> tuple[float, int]:
    """Share of the real closures within speech that the render also closes (+- CLOSURE_SLACK
    frames), and how many real closures there were."""
    runs = closures(real, speech)
    if not runs:
        return float("nan"), 0
    shut = np.nan_to_num(rendered, nan=1.0) < CLOSED_RENDER
    hit = [shut[max(0, a - CLOSURE_SLACK) : b + CLOSURE_SLACK].any() for a, b in runs]
    return float(np.mean(hit)), len(runs)


def score(series: np.ndarray, real: np.ndarray, speech: np.ndarray, gap_units: bool) -> dict:
    """r at lag 0 over all frames and within speech; for lip-gap series also the amplitude
    (std over the real std, frames where both exist) and closure recall."""
    out = {"r": pearson(series, real), "r_speech": pearson(series, real, speech)}
    if gap_units:
        ok = np.isfinite(series) & np.isfinite(real)
        out["amplitude"] = float(series[ok].std() / max(real[ok].std(), 1e-9)) if ok.sum() >= 10 else float("nan")
        out["closure_recall"], out["closures"] = closure_recall(series, real, speech)
    return out


class ChainRenderer:
    """Renders a clip through the user's `render` and keeps what each stage made."""

    def __init__(self, options: RenderOptions, work: Path) -> None:
        self.options, self.work = options, work
        self.kept = Kept()
        self.renderer = load(options.model, options.enhance)
        self.audio2au = load_audio2au(options.model.checkpoint, self.renderer.au_names, self.renderer.device)

    def render(self, photo: Path, wav: np.ndarray, video: Path, options: RenderOptions) -> None:
        """`wav` spoken by `photo` into `video` through the user's `render` (its speech file beside)."""
        speech = video.with_suffix(".wav")
        sf.write(speech, wav, SAMPLE_RATE, subtype="FLOAT")
        render(photo, speech, video, replace(options, quiet=True), kept=self.kept)
        speech.unlink()

    def stages(
        self, clip: LipClip, photo: Path, animator: Animator, wav: np.ndarray, video: Path, still: bool = False
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Each stage's lip-gap series for `wav` spoken by `photo` (`animator`: this
        renderer's, opened once per clip), rendered into `video` (`still`: with a still
        head); and the video's landmarks."""
        au_csv = video.with_suffix(".csv")
        post = replace(self.options.post, head_motion=0.0) if still else self.options.post
        self.render(photo, wav, video, replace(self.options, fps=clip.fps, save_aus=au_csv, post=post))
        names = self.renderer.au_names
        n = frame_count(len(wav), clip.fps)
        post = read_au_csv(au_csv).reorder(names).values
        out = {
            "audio2au": au_lip_gap(predict_aus(self.audio2au, wav, clip.fps, n), names),
            "aupost": au_lip_gap(post, names),
        }
        if hasattr(animator, "offsets"):  # a warp: its planned landmarks are the motion model's lips
            out["motion"] = lip_gap(animator.portrait.landmarks[None, :, :2] + animator.offsets(post))
        landmarks = video_landmarks(video)
        out["render"] = lip_gap(landmarks)
        return out, landmarks


def fit(series: np.ndarray, n: int) -> np.ndarray:
    """The first n frames, NaN where the series is shorter (a decoder may drop the last)."""
    return np.pad(np.asarray(series, np.float64)[:n], (0, max(0, n - len(series))), constant_values=np.nan)


def side_by_side(rendered: Path, real: Path, out: Path) -> None:
    """Rendered | real, 240 px tall, the rendered audio (what a viewer checks by eye)."""
    graph = "[0:v]scale=-2:240[a];[1:v]scale=-2:240[b];[a][b]hstack"
    cmd = ffmpeg_command("-y", "-i", str(rendered), "-i", str(real), "-filter_complex", graph)
    subprocess.run([*cmd, "-map", "0:a?", "-c:a", "copy", "-shortest", str(out)], capture_output=True, check=True)


def loudness(wav: np.ndarray, fps: float) -> np.ndarray:
    """(frames,) level in dB of each frame of `wav` at `fps`."""
    return frame_rms_db(wav, fps, frame_count(len(wav), fps))[:, 0]


def measure_clip(
    chain: ChainRenderer,
    clip: LipClip,
    conditions: Sequence[str],
    out_dir: Path | None,
    other_wav: np.ndarray | None = None,
) -> dict:
    """Every stage of every condition of one clip, scored against the real lips; with the
    clean condition also the real and rendered heads (`other_wav`: another clip's voice, the
    mismatched baseline of the speech relation) and the background, with the still head's
    its rotation."""
    level = loudness(clip.wav, clip.fps)
    other = None if other_wav is None else loudness(other_wav, clip.fps)
    n = min(len(level), len(clip.gap))
    real, level = clip.gap[:n], level[:n]
    speech = speech_frames(level, clip.fps)
    photo_rgb = first_frame(clip.video)
    work = Path(tempfile.mkdtemp(dir=chain.work))
    photo = work / "photo.png"
    write_image(photo, photo_rgb)
    portrait, animator = chain.renderer.open(photo, None, MAX_DEFAULT_HEIGHT, chain.options.face_index)
    smile = float(np.mean([portrait.aus[portrait.names.index(s)] for s in ("mouthSmileLeft", "mouthSmileRight")]))
    row = {
        "clip": clip.name,
        "speaker": clip.speaker,
        "frames": int(n),
        "seconds": round(n / clip.fps, 2),
        "photo_lip_gap": round(portrait.lip_gap, 4),
        "mouth": mouth_group(portrait.lip_gap, smile),
        "real_std": float(np.nanstd(real)),
        "loudness": score(level, real, speech, gap_units=False),
        "conditions": {},
    }
    for condition in conditions:
        wav = DEGRADATIONS[condition](clip.wav) if condition in DEGRADATIONS else clip.wav
        video = work / f"{condition.replace(' ', '_').replace('+', '_').replace(',', '')}.mp4"
        series, landmarks = chain.stages(clip, photo, animator, wav, video, still=condition == STILL_HEAD)
        row["conditions"][condition] = {s: score(fit(v, n), real, speech, s in GAP_STAGES) for s, v in series.items()}
        if condition == STILL_HEAD:
            row.setdefault("head", {})["still_rot_std"] = rotation_std(landmark_angles(landmarks)[0]).tolist()
            row["head"]["height"] = int(portrait.image.shape[0])
        if condition != CLEAN:
            continue
        frames = itertools.islice(VideoFrames(video), 0, None, BACKGROUND_EVERY)
        row.setdefault("head", {}).update(
            real=head_stats(clip.angles, clip.fps, level, other),
            render=head_stats(landmark_angles(landmarks)[0], clip.fps, level, other),
            background=background_difference(frames, portrait.image, portrait.landmarks),
        )
        if out_dir is not None:
            side_by_side(video, clip.video, out_dir / f"{clip.name}.mp4")
    return row


def mean_rows(rows: list[dict]) -> dict:
    """Means over clips per condition and stage (a clip counts once), with the goal's shares."""
    out: dict = {"clips": len(rows), "loudness": _mean([r["loudness"] for r in rows])}
    for condition in rows[0]["conditions"] if rows else ():
        out[condition] = {
            s: _mean([r["conditions"][condition][s] for r in rows if s in r["conditions"][condition]]) for s in STAGES
        }
        amps = [r["conditions"][condition]["render"]["amplitude"] for r in rows]
        low, high = AMPLITUDE_RANGE
        out[condition]["render"]["amplitude_in_range"] = float(np.mean([low <= a <= high for a in amps]))
    return out


def _mean(scores: list[dict]) -> dict:
    """Each key's mean over the clips that have it (NaN: none has); closure counts summed."""
    keys = {k for s in scores for k in s}
    out = {}
    for k in sorted(keys):
        values = np.array([s.get(k, np.nan) for s in scores], np.float64)
        found = values[np.isfinite(values)]
        out[k] = float(found.sum() if k == "closures" else found.mean()) if len(found) else float("nan")
    return out


def lips_end_to_end(
    root: Path,
    speakers: Sequence[str],
    options: RenderOptions,
    out_dir: Path | None = None,
    conditions: Sequence[str] = (CLEAN, STILL_HEAD, *DEGRADATIONS),
    leave_out: Sequence[str] = (),
    on_clip: Callable[[str], None] | None = None,
) -> dict:
    """Render every web-style clip of the held-out speakers with its own audio (clean and
    damaged) and score each stage against the real lips; per clip, per mouth group and
    overall; with clean audio also the heads, real and rendered (the next clip's voice as
    the mismatched one), moving and still. Side-by-side videos go to `out_dir` when given."""
    tasks = held_out_clips(root, speakers, leave_out)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    rows, skipped = [], []
    with tempfile.TemporaryDirectory() as work:
        chain = ChainRenderer(options, Path(work))
        for i, task in enumerate(tasks):
            if on_clip:
                on_clip(task.clip)
            clip = real_lips(task)
            if np.isfinite(clip.gap).sum() < 10:
                skipped.append(clip.name)  # the face mesh cannot read this clip's real lips
                continue
            other = load_audio(tasks[(i + 1) % len(tasks)].path) if len(tasks) > 1 else None
            rows.append(measure_clip(chain, clip, conditions, out_dir, other))
    groups = {g: mean_rows([r for r in rows if r["mouth"] == g]) for g in MOUTH_GROUPS}
    return {
        "clips": rows,
        "skipped": skipped,
        "means": mean_rows(rows),
        "head": head_means(rows),
        "groups": {g: m for g, m in groups.items() if m["clips"]},
        "conditions": list(conditions),
    }
