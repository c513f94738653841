"""The render pipeline: a portrait and an AU source (speech, a driving video, a CSV) in, a
talking video out.

    photo -> Portrait (once: read, scale to the output height, landmarks, its own AUs)
          -> animator (once: the warp renderer's mesh and maps, or the GATH encoder)
    speech -> audio2au -> AU series, and head motion -> head pose beside it
       | driving video -> AU tracker (AUs and head pose) | CSV -> AU series (+ head pose)
    AU series -> post-processing (smoothing, the photo's expression held outside the
       speech AUs, blinks, idle brows, user controls, head motion scaled)
    -> per batch, on one of the frame worker threads: animator.plan -> animator.draw
    -> [writer thread, in order] ffmpeg pipe -> H.264 + AAC into a temp file, renamed
       when complete.

Memory holds a batch per worker plus the writer's short queue, whatever the length of
the audio.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from actionunits import AUSeries
from gath.postprocess import Enhance
from talkinghead.aupost import PostOptions, post_options, postprocess, resample
from talkinghead.errors import UserError
from talkinghead.io.video import VIDEO_SUFFIXES, VideoWriter, check_output_path
from talkinghead.model_files import load_audio2au, load_head_motion
from talkinghead.options import add_options, from_args, option
from talkinghead.portrait import even, face_index_option
from talkinghead.renderers import Animator, ModelOptions, load
from talkinghead.renderers.gath import enhance_option
from talkinghead.renderers.registry import add_model_options, model_options
from talkinghead.renderers.threads import frame_loop_threads, frame_workers
from talkinghead.stage_times import Progress

MAX_DEFAULT_HEIGHT = 720  # without --size, taller photos are scaled down to this
CROP_ONLY_HEIGHT = 256  # without --size, --crop-only videos are this tall
DEFAULT_FPS = 25.0


# The options `render`, `reenact` and `demo` take, by group (the CLI and `batch` read these).
SPEECH_POST = ("expressiveness", "emotion", "overrides", "neutral", "seed", "blinks", "idle", "head_motion")
STILL_POST = ("expressiveness", "emotion", "overrides", "neutral")
REENACT_POST = STILL_POST + ("head_motion",)
VIDEO_OUTPUT = ("size", "face_index", "crop_only", "enhance", "fps", "batch_size", "save_aus", "quiet")


@dataclass
class RenderOptions:
    """Everything a user can set on `render` / `reenact` (the CLI documents each)."""

    model: ModelOptions = field(default_factory=ModelOptions)
    post: PostOptions = field(default_factory=PostOptions)
    fps: float | None = option(None, f"frames per second (default {DEFAULT_FPS:g}; reenact: the driver's)")
    size: int | None = option(
        None,
        f"output height in pixels (default: the photo's, at most {MAX_DEFAULT_HEIGHT}; "
        f"{CROP_ONLY_HEIGHT} with --crop-only)",
    )
    batch_size: int | None = option(None, "frames per batch (default 8 on CPU, 64 on CUDA)")
    crop_only: bool = option(False, "output the aligned face crop, not the whole photo")
    save_aus: Path | None = option(None, "also write the AU series that drove the face", metavar="CSV")
    enhance: Enhance | None = enhance_option()
    quiet: bool = option(False, "print nothing but errors")
    face_index: int | None = face_index_option()

    def check(self) -> None:
        self.model.check()
        self.post.check()
        if self.save_aus is not None and not Path(self.save_aus).parent.is_dir():
            raise UserError(f"output folder {Path(self.save_aus).parent} does not exist")
        if self.fps is not None and not 0 < self.fps <= 120:
            raise UserError(f"--fps must be in (0, 120], got {self.fps}")
        if self.size is not None and self.size < 16:
            raise UserError(f"--size must be at least 16 pixels, got {self.size}")
        if self.batch_size is not None and self.batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, got {self.batch_size}")


def add_render_options(parser: argparse.ArgumentParser, speech: bool = False) -> None:
    """The option groups of render and demo (`speech`), and of reenact."""
    add_model_options(parser)
    add_options(parser, "expression", PostOptions(), SPEECH_POST if speech else REENACT_POST)
    add_options(parser, "output", RenderOptions(), VIDEO_OUTPUT)


def render_options(args: argparse.Namespace) -> RenderOptions:
    """RenderOptions from a command line parsed with `add_render_options`."""
    return from_args(RenderOptions(), args, model=model_options(args), post=post_options(args))


@dataclass
class RenderResult:
    path: Path
    frames: int
    fps: float
    seconds: float  # wall time of the whole command
    stages: dict[str, float]
    device: str
    generator: str

    @property
    def media_seconds(self) -> float:
        return self.frames / self.fps

    @property
    def rtf(self) -> float:
        """Real-time factor: processing seconds per second of video (< 1: faster than real time)."""
        return self.seconds / max(self.media_seconds, 1e-9)

    def summary(self) -> str:
        return (
            f"wrote {self.path}: {self.frames} frames ({self.media_seconds:.2f} s at {self.fps:g} fps) in "
            f"{self.seconds:.2f} s, real-time factor {self.rtf:.2f} ({self.device}, {self.generator})"
        )


class FrameMaker:
    """An animator with its two halves timed (`plan`, `draw`; summed over the worker
    threads, so on several cores they can exceed the wall time)."""

    def __init__(self, animator: Animator, progress: Progress) -> None:
        self.animator, self.progress = animator, progress

    @property
    def size(self) -> tuple[int, int]:
        return self.animator.size

    def plan(self, aus: np.ndarray, pose: np.ndarray | None = None):
        t0 = time.perf_counter()
        plan = self.animator.plan(aus, pose)
        self.progress.add("frames", time.perf_counter() - t0)
        return plan

    def draw(self, plan) -> np.ndarray:
        t0 = time.perf_counter()
        frames = self.animator.draw(plan)
        self.progress.add("draw", time.perf_counter() - t0)
        return frames

    def frames(self, aus: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        return self.draw(self.plan(aus, pose))


def encode(
    frame_maker: FrameMaker,
    series: AUSeries,
    output: Path,
    audio: str | os.PathLike | None,
    batch_size: int,
    progress: Progress,
    cuda: bool = False,
) -> int:
    """Render every frame of `series` in batches straight into the video encoder; returns
    the number of frames written. On CPU each batch is made whole (plan, then draw) by one
    of `frame_workers` threads, in order, while the writer thread feeds ffmpeg."""
    n = len(series)
    workers = 1 if cuda else frame_workers()
    with (
        VideoWriter(output, frame_maker.size, series.fps, audio=audio) as writer,
        frame_loop_threads(cuda, workers),
        ThreadPoolExecutor(workers, thread_name_prefix="frames") as pool,
    ):
        pending: deque = deque()
        with progress.bar(n) as bar:
            for i in range(0, n, batch_size):
                pose = None if series.pose is None else series.pose[i : i + batch_size]
                pending.append(pool.submit(frame_maker.frames, series.values[i : i + batch_size], pose))
                if len(pending) > workers:  # one batch queued per worker keeps them all busy
                    bar.update(writer.write(pending.popleft().result()))
            while pending:
                bar.update(writer.write(pending.popleft().result()))
    progress.add("encode", writer.busy_seconds)  # ran beside the frame workers, in the writer thread
    return writer.frames_written


class Kept:
    """What stays loaded between renders in one process (`batch`): each renderer's and
    audio2au's weights, loaded once, and the last photo set up (portrait and animator),
    reused while the next render has the same photo file and sizes. A fresh one keeps
    nothing from before: a single `render` loads everything itself."""

    def __init__(self) -> None:
        self._models: dict[str, object] = {}
        self._photo: tuple[tuple, tuple] | None = None

    def model(self, key: tuple, load: Callable[[], object]) -> object:
        if repr(key) not in self._models:
            self._models[repr(key)] = load()
        return self._models[repr(key)]

    def photo(self, key: tuple, open: Callable[[], tuple]) -> tuple:
        if self._photo is None or self._photo[0] != key:
            self._photo = None  # the old one goes before the new one is set up
            self._photo = (key, open())
        return self._photo[1]


class Job:
    """One render/reenact run: checks the outputs and the checkpoints first (bad input
    fails before any heavy work), then the caller loads the photo and an AU series, and
    `run` encodes it. Models and the photo come from `kept` where it has them."""

    def __init__(
        self,
        output: str | os.PathLike,
        options: RenderOptions,
        audio2au: bool = False,
        on_frames: Callable[[int, int], None] | None = None,
        kept: Kept | None = None,
        head_motion: bool = False,
    ) -> None:
        self.output = check_output_path(output, VIDEO_SUFFIXES)
        options.check()
        self.options = options
        self.kept = kept or Kept()
        self.progress = Progress(options.quiet, on_frames)
        torch.manual_seed(options.post.seed)
        crop_height = even(options.size or CROP_ONLY_HEIGHT) if options.crop_only else None
        with self.progress.stage("model"):
            key = ("renderer", options.model, options.enhance, crop_height)
            self.renderer = self.kept.model(key, lambda: load(options.model, options.enhance, crop_height))
            names, device = self.renderer.au_names, self.renderer.device
            key = ("audio2au", options.model.checkpoint, names, device)
            self.audio2au = (
                self.kept.model(key, lambda: load_audio2au(options.model.checkpoint, names, device))
                if audio2au
                else None
            )
            key = ("head_motion", options.model.checkpoint)
            self.head_motion = (
                self.kept.model(key, lambda: load_head_motion(options.model.checkpoint))
                if head_motion and options.post.head_motion > 0
                else None
            )
        self.batch_size = options.batch_size or (64 if self.renderer.cuda else 8)

    @property
    def au_names(self) -> tuple[str, ...]:
        return self.renderer.au_names

    def load_photo(self, photo: str | os.PathLike) -> None:
        o = self.options
        with self.progress.stage("face"):
            height = even(o.size) if o.size and not o.crop_only else None
            setup = lambda: self.renderer.open(photo, height, MAX_DEFAULT_HEIGHT, o.face_index)
            if not Path(photo).is_file():
                self.portrait, self.animator = setup()  # its error
                return
            st = Path(photo).stat()
            key = (id(self.renderer), str(Path(photo).resolve()), st.st_mtime_ns, st.st_size, height, o.face_index)
            self.portrait, self.animator = self.kept.photo(key, setup)

    def run(self, series: AUSeries, audio: str | os.PathLike | None) -> RenderResult:
        o = self.options
        maker = FrameMaker(self.animator, self.progress)
        frames = encode(maker, series, self.output, audio, self.batch_size, self.progress, self.renderer.cuda)
        self.progress.show("frames", "draw", "encode", note="thread time, side by side")
        if o.save_aus is not None:
            series.write_csv(o.save_aus)
        return RenderResult(
            self.output,
            frames,
            series.fps,
            self.progress.elapsed,
            dict(self.progress.seconds),
            str(self.renderer.device),
            self.renderer.words,
        )


def load_speech(path: str | os.PathLike) -> np.ndarray:
    """16 kHz mono speech, or a one-line UserError (missing, unreadable, empty, silent)."""
    from audio2au import AudioError, load_audio

    try:
        return load_audio(path)
    except (AudioError, FileNotFoundError) as e:
        raise UserError(str(e).splitlines()[0]) from None


def csv_series(path: str | os.PathLike, names: tuple[str, ...], fps: float, n_frames: int | None) -> AUSeries:
    """A CSV's AU series at the output frame rate; `n_frames` (from the audio) or the CSV's length."""
    from talkinghead.io.au_csv import read_au_csv

    source = read_au_csv(path).reorder(names)
    n = n_frames if n_frames is not None else max(1, round(len(source) / source.fps * fps))
    return resample(source, fps, n)


def render(
    photo: str | os.PathLike,
    audio: str | os.PathLike | None,
    output: str | os.PathLike,
    options: RenderOptions,
    au_csv: str | os.PathLike | None = None,
    on_frames: Callable[[int, int], None] | None = None,
    kept: Kept | None = None,
) -> RenderResult:
    """Photo + speech -> talking video. With `au_csv` the CSV drives the face instead of
    audio2au (the audio, when given, is still muxed and sets the length). `on_frames` is
    told (frames done, total) as frames are written; `kept` holds models and the photo
    between renders."""
    if audio is None and au_csv is None:
        raise UserError("give --audio, --au-csv or both")
    job = Job(output, options, audio2au=au_csv is None, on_frames=on_frames, kept=kept, head_motion=audio is not None)
    names, fps = job.au_names, options.fps or DEFAULT_FPS
    wav = None
    if audio is not None:
        with job.progress.stage("audio"):
            wav = load_speech(audio)
    job.load_photo(photo)
    with job.progress.stage("AU"):
        from audio2au.features import frame_count

        n_frames = frame_count(len(wav), fps) if wav is not None else None
        if job.audio2au is None:
            series = csv_series(au_csv, names, fps, n_frames)
            post = replace(options.post, blinks=False, idle=False)  # the CSV has its own eyes and brows
        else:
            from audio2au import predict_aus

            series = AUSeries(predict_aus(job.audio2au, wav, fps, n_frames), fps, names)
            post = options.post
        if series.pose is None and job.head_motion is not None:
            series.pose = job.head_motion.sample(wav, fps, len(series), options.post.head_rng())
        del wav  # from here on only the (small) AU series is needed
        series = postprocess(series, post, post.base(job.portrait.rest) if job.audio2au is not None else None)
    return job.run(series, audio)


def reenact(
    photo: str | os.PathLike,
    video: str | os.PathLike,
    output: str | os.PathLike,
    options: RenderOptions,
    au_csv: str | os.PathLike | None = None,
    on_frames: Callable[[int, int], None] | None = None,
) -> RenderResult:
    """The photo making the faces of the person in a driving video (AU tracker on every
    frame, or `au_csv` instead), with the driving video's audio muxed in."""
    from talkinghead.face.au_tracker import track_video
    from talkinghead.io.soundtrack import has_audio

    if not Path(video).is_file():
        raise UserError(f"driving video not found: {video}")
    job = Job(output, options, on_frames=on_frames)
    job.load_photo(photo)
    names = job.au_names
    with job.progress.stage("AU"):
        if au_csv is not None:
            series = csv_series(au_csv, names, options.fps or DEFAULT_FPS, None)
        else:
            with job.progress.bar(0, "tracking") as bar:
                series = track_video(video, options.fps, on_frame=lambda *_: bar.update(1)).reorder(names)
        post = replace(
            options.post, smooth_s=0.0 if au_csv is None else options.post.smooth_s, blinks=False, idle=False
        )  # the driver blinks and moves its brows itself
        series = postprocess(series, post)
    return job.run(series, video if has_audio(video) else None)
