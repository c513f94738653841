"""The render pipeline: a portrait and an AU source (speech, a driving video, a CSV) in, a
talking video out.

    photo -> read, scale to the output height -> align (once) -> GATH encoder (once)
    speech -> audio2au -> AU series | driving video -> AU tracker | CSV -> AU series
    AU series -> post-processing (smoothing, blinks, idle brows, user controls)
    -> per batch: GATH decoder (main thread) -> [writer thread] optional enhance ->
       paste-back -> ffmpeg pipe -> H.264 + AAC into a temp file, renamed when complete.

Only the decoder, paste-back and encoder run per frame, and memory holds one batch of
frames plus the writer's short queue, whatever the length of the audio.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from actionunits import AUSeries
from gath.inference import FaceAnimator
from gath.postprocess import Enhance
from talkinghead.aupost import PostOptions, postprocess, resample
from talkinghead.checkpoints import load_animator, load_audio2au
from talkinghead.errors import UserError
from talkinghead.io.video import VIDEO_SUFFIXES, VideoWriter, check_output_path
from talkinghead.progress import Progress

MAX_DEFAULT_HEIGHT = 720  # without --size, taller photos are scaled down to this
CROP_ONLY_HEIGHT = 256  # without --size, --crop-only videos are this tall
DEFAULT_FPS = 25.0


@dataclass
class RenderOptions:
    """Everything a user can set on `render` / `reenact` (the CLI documents each)."""

    fps: float | None = None  # None: 25 for speech and CSVs, the driving video's own rate for reenact
    size: int | None = None
    device: str = "auto"
    batch_size: int | None = None
    checkpoint: Path | None = None
    crop_only: bool = False
    save_aus: Path | None = None
    enhance: Enhance | None = None
    post: PostOptions = field(default_factory=PostOptions)
    quiet: bool = False
    face_index: int | None = None


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
        return (f"wrote {self.path}: {self.frames} frames ({self.media_seconds:.2f} s at {self.fps:g} fps) in "
                f"{self.seconds:.2f} s, real-time factor {self.rtf:.2f} ({self.device}, {self.generator})")


def even(n: int) -> int:
    return n + (n % 2)


def prepare_photo(path: str | os.PathLike, crop_size: int, height: int | None = None, max_height: int | None = None,
                  face_index: int | None = None, even_size: bool = True):
    """Read the photo, scale it to `height` (or down to `max_height`; sizes made even for
    H.264 when `even_size`) and align its face. Returns (photo, AlignedFace); UserError
    when it is unreadable or has no face."""
    from talkinghead.face.align import detect_and_align
    from talkinghead.io.image import read_image

    img = read_image(path)
    h, w = img.shape[:2]
    if height is None and max_height is not None and h > max_height:
        height = max_height
    if height is not None and height != h:
        new_w = max(2, round(w * height / h))
        new_w = even(new_w) if even_size else new_w
        img = cv2.resize(img, (new_w, height), interpolation=cv2.INTER_AREA if height < h else cv2.INTER_CUBIC)
    elif even_size and (h % 2 or w % 2):
        img = np.ascontiguousarray(img[: h // 2 * 2, : w // 2 * 2])
    return img, detect_and_align(img, crop_size, face_index)


class FrameMaker:
    """AU vectors -> finished output frames of one photo, in two halves that run on two
    cores: `crops` (the GATH decoder, main thread) and `compose` (optional enhance, then
    paste-back, or with crop_height the bare crop scaled to that height; run in the video
    writer's thread, where OpenCV releases the GIL). Time per step goes to `progress`."""

    def __init__(self, animator: FaceAnimator, photo: np.ndarray, aligned, progress: Progress,
                 enhance: Enhance | None = None, crop_height: int | None = None) -> None:
        from talkinghead.face.align import Paster

        self.animator = animator
        self.photo = photo
        self.enhance = enhance if enhance is not None and enhance.any else None
        self.crop_height = crop_height
        self.progress = progress
        self.paster = Paster(aligned) if crop_height is None else None
        animator.set_source(aligned.crop)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames."""
        if self.crop_height is not None:
            return self.crop_height, self.crop_height
        return self.photo.shape[1], self.photo.shape[0]

    def crops(self, aus: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        crops = self.animator.render(aus)
        self.progress.add("frames", time.perf_counter() - t0)
        return crops

    def compose(self, crops: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        if self.enhance is not None:
            crops = self.enhance(crops)
            t1 = time.perf_counter()
            self.progress.add("enhance", t1 - t0)
            t0 = t1
        if self.crop_height is not None:
            h = self.crop_height
            out = np.stack([cv2.resize(c, (h, h), interpolation=cv2.INTER_CUBIC) for c in crops])
        else:
            out = np.empty((len(crops), *self.photo.shape), np.uint8)
            for frame, crop in zip(out, crops):
                frame[:] = self.photo
                self.paster.paste(frame, crop, inplace=True)
        self.progress.add("paste-back", time.perf_counter() - t0)
        return out


def encode(frame_maker: FrameMaker, series: AUSeries, output: Path, audio: str | os.PathLike | None,
           batch_size: int, progress: Progress) -> int:
    """Render every frame of `series` in batches straight into the video encoder; returns
    the number of frames written."""
    n = len(series)
    with VideoWriter(output, frame_maker.size, series.fps, audio=audio, compose=frame_maker.compose) as writer, \
            decoder_threads(frame_maker.animator.cuda):
        with progress.bar(n) as bar:
            for i in range(0, n, batch_size):
                crops = frame_maker.crops(series.values[i : i + batch_size])
                writer.write(crops)
                bar.update(len(crops))
    progress.add("encode", writer.busy_seconds)  # ran beside the decoder, in the writer thread
    return writer.frames_written


@contextmanager
def decoder_threads(cuda: bool) -> Iterator[None]:
    """On CPU, torch uses all cores but one while the frame loop runs: the writer thread
    (paste-back) and ffmpeg use the other. Oversubscribed OpenMP threads spin-wait, and on
    2 busy cores one decoder thread was 2x faster than two. The old setting is restored."""
    old = torch.get_num_threads()
    if not cuda:
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) - 1))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _batch_size(animator: FaceAnimator, batch_size: int | None) -> int:
    if batch_size is None:
        return 64 if animator.cuda else 8
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    return batch_size


class Job:
    """One render/reenact run: checks the outputs and the checkpoints first (bad input
    fails before any heavy work), then the caller loads the photo and an AU series, and
    `run` encodes it."""

    def __init__(self, output: str | os.PathLike, options: RenderOptions, audio2au: bool = False) -> None:
        self.output = check_output_path(output, VIDEO_SUFFIXES)
        if options.save_aus is not None and not Path(options.save_aus).parent.is_dir():
            raise UserError(f"output folder {Path(options.save_aus).parent} does not exist")
        if options.fps is not None and not 0 < options.fps <= 120:
            raise UserError(f"--fps must be in (0, 120], got {options.fps}")
        if options.size is not None and options.size < 16:
            raise UserError(f"--size must be at least 16 pixels, got {options.size}")
        self.options = options
        self.progress = Progress(options.quiet)
        torch.manual_seed(options.post.seed)
        with self.progress.stage("model"):
            self.animator, self.generator = load_animator(options.checkpoint, options.device)
            self.audio2au = load_audio2au(options.checkpoint, self.animator.au_names, self.animator.device) \
                if audio2au else None
        self.batch_size = _batch_size(self.animator, options.batch_size)

    def load_photo(self, photo: str | os.PathLike) -> None:
        o = self.options
        with self.progress.stage("face"):
            height = even(o.size) if o.size and not o.crop_only else None
            self.photo, self.aligned = prepare_photo(photo, self.animator.crop_size, height, MAX_DEFAULT_HEIGHT,
                                                     o.face_index)

    def run(self, series: AUSeries, audio: str | os.PathLike | None) -> RenderResult:
        o = self.options
        crop_height = even(o.size or CROP_ONLY_HEIGHT) if o.crop_only else None
        maker = FrameMaker(self.animator, self.photo, self.aligned, self.progress, o.enhance, crop_height)
        frames = encode(maker, series, self.output, audio, self.batch_size, self.progress)
        self.progress.show("frames", "enhance", "paste-back", "encode")
        if o.save_aus is not None:
            series.write_csv(o.save_aus)
        return RenderResult(self.output, frames, series.fps, self.progress.elapsed, dict(self.progress.seconds),
                            str(self.animator.device), self.generator)


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


def render(photo: str | os.PathLike, audio: str | os.PathLike | None, output: str | os.PathLike,
           options: RenderOptions, au_csv: str | os.PathLike | None = None) -> RenderResult:
    """Photo + speech -> talking video. With `au_csv` the CSV drives the face instead of
    audio2au (the audio, when given, is still muxed and sets the length)."""
    if audio is None and au_csv is None:
        raise UserError("give --audio, --au-csv or both")
    job = Job(output, options, audio2au=au_csv is None)
    names, fps = job.animator.au_names, options.fps or DEFAULT_FPS
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
        del wav  # from here on only the (small) AU series is needed
        series = postprocess(series, post)
    return job.run(series, audio)


def reenact(photo: str | os.PathLike, video: str | os.PathLike, output: str | os.PathLike, options: RenderOptions,
            au_csv: str | os.PathLike | None = None) -> RenderResult:
    """The photo making the faces of the person in a driving video (AU tracker on every
    frame, or `au_csv` instead), with the driving video's audio muxed in."""
    from talkinghead.face.au_tracker import track_video
    from talkinghead.io.soundtrack import has_audio

    if not Path(video).is_file():
        raise UserError(f"driving video not found: {video}")
    job = Job(output, options)
    job.load_photo(photo)
    names = job.animator.au_names
    with job.progress.stage("AU"):
        if au_csv is not None:
            series = csv_series(au_csv, names, options.fps or DEFAULT_FPS, None)
        else:
            with job.progress.bar(0, "tracking") as bar:
                series = track_video(video, options.fps, on_frame=lambda *_: bar.update(1)).reorder(names)
        post = replace(options.post, smooth_s=0.0 if au_csv is None else options.post.smooth_s, blinks=False,
                       idle=False)  # the driver blinks and moves its brows itself
        series = postprocess(series, post)
    return job.run(series, video if has_audio(video) else None)
