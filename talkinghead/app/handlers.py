"""The work behind the browser app, as plain functions of file paths and numbers.

Each one calls the project's own code (render, edit's AU logic, track, the live engine)
and fails with the CLI's one-line UserError messages; `talkinghead.app.ui` turns those
into in-page errors. Nothing here imports gradio, so tests and other front ends can call
these directly.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from actionunits import AUSeries
from audio2au.features import FFMPEG_SUFFIXES, SAMPLE_RATE, SOUNDFILE_SUFFIXES
from talkinghead.aupost import EMOTIONS, PostOptions, parse_emotion, parse_overrides
from talkinghead.commands.edit import edited_aus
from talkinghead.commands.render import DEFAULT_FPS, MAX_DEFAULT_HEIGHT, RenderOptions
from talkinghead.errors import UserError
from talkinghead.io.image import IMAGE_SUFFIXES, write_image
from talkinghead.portrait import Portrait
from talkinghead.renderers import ModelOptions
from talkinghead.renderers import names as renderer_names
from talkinghead.renderers import spec as renderer_spec

# What each upload may be: (extensions, most megabytes). The readers behind them check the
# content itself (an unreadable photo, silent audio, a video without a face).
UPLOADS: dict[str, tuple[tuple[str, ...], int]] = {
    "photo": (IMAGE_SUFFIXES, 30),
    "speech": (SOUNDFILE_SUFFIXES + FFMPEG_SUFFIXES, 100),
    "video": ((".mp4", ".mov", ".mkv", ".webm", ".avi"), 300),
}
EDIT_MAX_HEIGHT = MAX_DEFAULT_HEIGHT  # edits work on the photo scaled down to this, as render does
PREVIEW_HEIGHT = 480  # slider previews: the height the page shows the edit at
SLIDER_STEP = 0.01
KEEP_S = 6 * 3600.0  # a request's outputs stay downloadable this long (longer than any render takes)
PRESETS = ("photo", "neutral face", *(e for e in EMOTIONS if e != "neutral"))


def renderer_info() -> str:
    """What each registered renderer is, for the place where it is chosen."""
    return "; ".join(f"{n}: {renderer_spec(n).summary}" for n in renderer_names())


SPEECH_FPS = DEFAULT_FPS  # `render`'s frame rate without --fps: where the Render tab's fps slider starts
SIZE_INFO = f"output height: the photo's, at most {MAX_DEFAULT_HEIGHT} px unless a size is given"


def check_upload(path: str | os.PathLike | None, kind: str) -> Path:
    """The uploaded file's path, or a UserError when it is missing, of the wrong type or too big."""
    suffixes, max_mb = UPLOADS[kind]
    if path is None or str(path) == "":
        raise UserError(f"no {kind} given")
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise UserError(
            f"the {kind} must be a {', '.join(s.lstrip('.') for s in suffixes)} file, "
            f"got {path.suffix or 'a file without extension'}"
        )
    if not path.is_file():
        raise UserError(f"{kind} not found: {path.name}")
    if path.stat().st_size > max_mb * 1_000_000:
        raise UserError(f"the {kind} is {path.stat().st_size / 1e6:.0f} MB; at most {max_mb} MB")
    return path


def upload_names(args: Iterable) -> dict[str, str]:
    """The request's arguments that are file paths (uploads: gradio keeps each under its temp
    folder, in a folder of its own, by the name it had on the user's machine) -> that name."""
    return {str(a): Path(a).name for a in args if isinstance(a, (str, os.PathLike)) and os.path.isabs(a)}


def user_message(message: str, uploads: dict[str, str]) -> str:
    """A UserError's text as the page and the API show it: every upload's server path
    (`uploads`: path -> the name to show) becomes that name, any other path under the temp
    folder its file name, so `x.wav: cannot decode audio (Format not recognised.)` names the
    file once and shows no temp folder."""
    for path in sorted(uploads, key=len, reverse=True):
        message = message.replace(path, uploads[path])
    temp = re.escape(tempfile.gettempdir().rstrip(os.sep) + os.sep)
    return re.sub(temp + r"[^\s'\"():,]+", lambda m: Path(m.group()).name, message)


def new_workdir(root: str | os.PathLike, keep_s: float = KEEP_S) -> Path:
    """A fresh folder under the app's temp root for one request's outputs. Folders of
    requests older than `keep_s` go first, so a server that runs for days does not fill
    the disk (the whole root goes when the app stops)."""
    for old in Path(root).glob("job-*"):
        if time.time() - old.stat().st_mtime > keep_s:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="job-", dir=root))


# ---------------------------------------------------------------------------- render


_POST, _RENDER = PostOptions(), RenderOptions()


@dataclass
class RenderControls:
    """The Render and Reenact tabs' controls, as the CLI's options (`render`/`reenact`);
    the defaults are the CLI's, taken from its dataclasses. `aus` is the `--au` text;
    None for fps, size or face index is the CLI's default (25 fps for speech, the driver's
    rate for reenact; the photo's height, at most 720 px; the largest face). New controls
    go last, so positional callers keep working."""

    expressiveness: float = _POST.expressiveness
    emotion: str = "neutral"
    strength: float = 1.0  # `--emotion NAME` without =S
    blinks: bool = _POST.blinks
    fps: float | None = _RENDER.fps
    renderer: str = _RENDER.model.generator
    neutral: bool = _POST.neutral
    aus: str = ""
    seed: int = _POST.seed
    idle: bool = _POST.idle
    size: int | None = _RENDER.size
    face_index: int | None = _RENDER.face_index
    head_motion: float = _POST.head_motion

    def post(self) -> PostOptions:
        """As the CLI's (aupost.post_options)."""
        try:
            emotion = parse_emotion("" if self.emotion == "neutral" else f"{self.emotion}={self.strength}")
            post = PostOptions(
                expressiveness=self.expressiveness,
                emotion=emotion,
                overrides=parse_overrides([self.aus or ""]),
                blinks=self.blinks,
                idle=self.idle,
                seed=self.seed,
                neutral=self.neutral,
                head_motion=self.head_motion,
            )
        except ValueError as e:
            raise UserError(str(e)) from None
        post.check()
        return post

    def options(self, save_aus: Path | None = None) -> RenderOptions:
        """As the CLI's (commands.render.render_options)."""
        return RenderOptions(
            model=ModelOptions(self.renderer),
            post=self.post(),
            fps=self.fps,
            size=self.size,
            save_aus=save_aus,
            face_index=self.face_index,
        )


# The tabs that make a video: their driving upload's kind and the name their video gets.
VIDEO_TABS = {"render": ("speech", "talking"), "reenact": ("video", "reenacted")}


def make_video(
    tab: str,
    photo: str | os.PathLike | None,
    source: str | os.PathLike | None,
    controls: RenderControls,
    workdir: Path,
    on_frames: Callable[[int, int], None] | None = None,
) -> tuple[Path, Path]:
    """Photo + speech (`render`) or a driving video (`reenact`, with its audio) -> (the video,
    the CSV of the AUs that drove it), in `workdir`. `on_frames(done, total)` is told as a
    driver is tracked (total 0: not known yet), then as frames are written."""
    from talkinghead.commands.render import reenact, render

    kind, name = VIDEO_TABS[tab]
    photo, source = check_upload(photo, "photo"), check_upload(source, kind)
    video, csv = workdir / f"{photo.stem}_{name}.mp4", workdir / f"{photo.stem}_aus.csv"
    {"render": render, "reenact": reenact}[tab](photo, source, video, controls.options(csv), on_frames=on_frames)
    return video, csv


def plot_aus(csv: str | os.PathLike) -> Path:
    """The AU series plot (PNG beside the CSV) of a render or a track."""
    from talkinghead.commands.track import plot_series

    csv = Path(csv)
    png = csv.with_suffix(".png")
    plot_series(AUSeries.read_csv(csv), png, title=csv.name)
    return png


def track_csv(
    video: str | os.PathLike | None, workdir: Path, on_frames: Callable[[int, int], None] | None = None
) -> Path:
    """A video's AU series as CSV (talkinghead track), in `workdir`; `on_frames(done, 0)` is
    told as frames are tracked."""
    from talkinghead.commands.track import track

    video = check_upload(video, "video")
    csv = workdir / f"{video.stem}_aus.csv"
    track(video, csv, on_frames=on_frames)
    return csv


# ---------------------------------------------------------------------------- edit


@functools.lru_cache(maxsize=1)
def warp_renderer():
    """The warp renderer's weights, loaded once per process."""
    from talkinghead.renderers import ModelOptions, load

    return load(ModelOptions("warp"))


def file_key(path: str | os.PathLike) -> str:
    """What identifies a photo across uploads: its bytes' hash."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class EditSetup:
    """One photo set up for editing (Portrait + WarpAnimator), kept per browser session so
    a slider move only renders a frame. Edits are written as `<stem>_edited.png`, previews
    while a slider moves as `.jpg` beside it."""

    key: str
    animator: object
    preview: object  # the same at most PREVIEW_HEIGHT tall: what the page shows, at half the cost
    image: Path
    lock: threading.Lock = field(default_factory=threading.Lock)  # a preview and a final image may overlap

    @property
    def portrait(self) -> Portrait:
        return self.animator.portrait

    def render(self, aus: Sequence[float], preview: bool = False) -> Path:
        """The photo with these AU values, written atomically. A preview (while a slider moves:
        ~150 ms for everything) is a JPEG at display size; the final image is a PNG at the
        setup's full size, with fast compression (15 ms for 700 x 700 pixels, PIL's default
        takes 60)."""
        path, params = (
            (self.image.with_suffix(".jpg"), [cv2.IMWRITE_JPEG_QUALITY, 95])
            if preview
            else (self.image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        )
        with self.lock:
            path.parent.mkdir(parents=True, exist_ok=True)  # a session idle for KEEP_S lost its folder
            frame = (self.preview if preview else self.animator).frames(np.asarray(aus, np.float32)[None])[0]
            write_image(path, frame, params)
        return path


def edit_setup(photo: str | os.PathLike | None, cached: EditSetup | None, workroot: str | os.PathLike) -> EditSetup:
    """`cached` when it is the same photo, else the photo's setup."""
    path = check_upload(photo, "photo")
    key = file_key(path)
    if cached is not None and cached.key == key:
        return cached
    renderer = warp_renderer()
    portrait, animator = renderer.open(path, max_height=EDIT_MAX_HEIGHT, even_size=False)
    small = scaled(portrait, PREVIEW_HEIGHT)
    preview = animator if small is portrait else renderer.build(small)
    return EditSetup(key, animator, preview, new_workdir(workroot) / f"{path.stem}_edited.png")


def scaled(portrait: Portrait, max_height: int) -> Portrait:
    """The portrait at most `max_height` tall (landmarks scaled with it; the same when smaller)."""
    h, w = portrait.image.shape[:2]
    if h <= max_height:
        return portrait
    s = max_height / h
    image = cv2.resize(portrait.image, (max(1, round(w * s)), max_height), interpolation=cv2.INTER_AREA)
    return Portrait(image, portrait.landmarks * np.float32(s), portrait.aus, portrait.names)


def slider_aus(setup: EditSetup, values: Sequence[float]) -> np.ndarray:
    """Slider values -> AU vector. A slider shows the photo's value rounded to its step, so a
    value within half a step of the photo's own is taken as the photo's own: untouched
    sliders give the photo back exactly."""
    values = np.clip(np.asarray(values, np.float32), 0, 1)
    own = setup.portrait.aus
    return np.where(np.abs(values - own) <= SLIDER_STEP / 2 + 1e-6, own, values)


def preset_aus(setup: EditSetup, preset: str) -> np.ndarray:
    """A preset's AU vector: the photo's own, the neutral face (all 0), or the photo's plus
    an emotion's offsets (as `edit --emotion`)."""
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    emotion = {} if preset in ("photo", "neutral face") else {preset: 1.0}
    return edited_aus(setup.portrait, PostOptions(emotion=emotion, neutral=preset == "neutral face"))


def edit_with_text(setup: EditSetup, assignments: str) -> np.ndarray:
    """`edit --au` in the app: 'jawOpen=0.6,mouthSmileLeft=0.8' sets those AUs, the rest keep
    the photo's values; returns the AU vector."""
    try:
        overrides = parse_overrides([assignments or ""])
    except ValueError as e:
        raise UserError(str(e)) from None
    return edited_aus(setup.portrait, PostOptions(overrides=overrides))


def changed_text(setup: EditSetup, aus: Sequence[float]) -> str:
    """The AUs that differ from the photo's, as `--au` text (to reuse with the CLI)."""
    aus = slider_aus(setup, aus)
    return ",".join(f"{n}={v:.2f}" for n, v, own in zip(setup.portrait.names, aus, setup.portrait.aus) if v != own)


# ---------------------------------------------------------------------------- live


class LiveSession:
    """One browser microphone stream: its chunks -> the live engine (streaming audio2au,
    StreamPost, the warp renderer) -> the newest frame. Set up once per photo; `restart`
    begins a new utterance when recording starts again."""

    def __init__(self, photo: str | os.PathLike | None, fps: float | None = None) -> None:
        """`fps` None: live's default."""
        from talkinghead.live.session import LiveOptions, load_engine

        path = check_upload(photo, "photo")
        self.key = file_key(path)
        options = LiveOptions(window=False)
        self.engine, _ = load_engine(str(path), replace(options, fps=fps or options.fps))
        self.restart()

    def restart(self, head_motion: float | None = None) -> None:
        """A new utterance, its head motion scaled by `head_motion` (`--head-motion`; None:
        as the last one's), so a change in the page takes effect at the next recording."""
        from talkinghead.live.engine import LiveEngine, LiveStats

        e = self.engine
        post = e.post.options if head_motion is None else replace(e.post.options, head_motion=head_motion)
        post.check()
        self.engine = LiveEngine(e.animator, e.stream.model, e.fps, post, e.post.base, e.cuda, e.head_model)
        self.stats = LiveStats()
        self._resampler, self._rate = None, None

    def push(self, rate: int, samples: np.ndarray) -> np.ndarray | None:
        """One chunk as the browser sends it (int16 or float, mono or (n, channels)) -> the
        newest frame, or None when no new AU frame is ready yet."""
        from talkinghead.live.audio_input import Chunk

        x = np.asarray(samples)
        x = x.astype(np.float32) / 32768.0 if x.dtype.kind == "i" else x.astype(np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1)
        if rate != SAMPLE_RATE:
            if self._rate != rate:
                import soxr

                self._resampler, self._rate = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32"), rate
            x = self._resampler.resample_chunk(x)
        self.engine.feed(Chunk(x, time.monotonic()))
        frame = self.engine.next_frame()
        if frame is None:
            return None
        shown = time.monotonic()
        self.stats.add(shown, shown - frame.captured)
        return frame.image

    def status(self) -> str:
        return f"{self.stats.overlay()} (on the server, chunking included) | {self.engine.rendered} frames shown"
