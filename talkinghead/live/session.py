"""`talkinghead live`: one session from start to Ctrl+C.

    audio source -> LiveEngine (newest frame only) -> window | web page, and the recorder

Everything is loaded and checked before the microphone opens (a bad photo or checkpoint
fails fast). Ctrl+C, SIGTERM, `--duration`, closing the window or the end of a file
source stop the loop; the recording is finished in every case, also when the input
device fails mid-session, and that failure is then reported as one line.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from talkinghead.aupost import PostOptions
from talkinghead.errors import UserError
from talkinghead.live.audio_input import AudioSource, MicSource
from talkinghead.live.engine import LiveEngine, LiveFrame, LiveStats
from talkinghead.options import option
from talkinghead.portrait import face_index_option
from talkinghead.renderers import ModelOptions

DEFAULT_HEIGHT = 480  # live frames are scaled down to this: paste-back and display stay cheap
SMOOTH_S = 0.04  # live's causal smoothing lags, so it smooths a little more than render's


@dataclass
class LiveOptions:
    model: ModelOptions = field(default_factory=ModelOptions)
    input_device: str | None = option(None, "input device index or name (see --list-devices)", metavar="ID")
    fps: float = option(25.0, "frames per second")
    size: int | None = option(None, f"output height in pixels (default: the photo's, at most {DEFAULT_HEIGHT})")
    window: bool = option(True, "no window (with --record or --serve)")
    serve: str | None = option(
        None, "show the frames on a local web page instead of a window, e.g. 127.0.0.1:8000", metavar="HOST:PORT"
    )
    record: Path | None = option(None, "also save the session, microphone audio muxed", metavar="MP4")
    duration: float | None = option(None, "stop after this many seconds", metavar="S")
    face_index: int | None = face_index_option()
    post: PostOptions = field(default_factory=lambda: PostOptions(smooth_s=SMOOTH_S))
    quiet: bool = option(False, "print nothing but errors")

    def check(self) -> None:
        self.model.check()
        self.post.check()
        if not 0 < self.fps <= 60:
            raise UserError(f"--fps must be in (0, 60], got {self.fps}")
        if self.duration is not None and self.duration <= 0:
            raise UserError(f"--duration must be positive, got {self.duration}")
        if self.size is not None and self.size < 64:
            raise UserError(f"--size must be at least 64 pixels, got {self.size}")
        if not (self.window or self.serve or self.record):
            raise UserError("nothing to show: without a window, give --serve HOST:PORT or --record FILE")
        if self.record is not None:
            from talkinghead.io.video import VIDEO_SUFFIXES, check_output_path

            check_output_path(self.record, VIDEO_SUFFIXES)


@dataclass
class LiveResult:
    frames: int  # frames shown
    dropped: int  # AU frames skipped to keep up
    seconds: float
    latencies: list[float]
    recording: Path | None
    url: str | None
    algorithmic_latency: float  # seconds no implementation can beat: audio2au's look-ahead + feature window
    generator: str  # which generator ran where, as the start-up line says

    @property
    def fps(self) -> float:
        return self.frames / max(self.seconds, 1e-9)

    def summary(self) -> str:
        lat = np.asarray(self.latencies) * 1000
        text = (
            f"live: {self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps shown, {self.dropped} "
            f"dropped to keep up)"
        )
        if len(lat):
            text += f"; audio-to-frame latency median {np.median(lat):.0f} ms, p95 {np.percentile(lat, 95):.0f} ms"
        return text + (f"; recorded {self.recording}" if self.recording else "")


def _stop_on_sigterm(stack: ExitStack) -> None:
    """SIGTERM ends the session like Ctrl+C (recording finished), in the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    stack.callback(signal.signal, signal.SIGTERM, old)


def load_engine(photo: str, options: LiveOptions) -> tuple[LiveEngine, str]:
    """Models, photo and face, all checked before any audio is opened; and a few words
    saying which renderer runs where."""
    from talkinghead.model_files import load_audio2au, load_head_motion
    from talkinghead.renderers import load

    renderer = load(options.model)
    model = load_audio2au(options.model.checkpoint, renderer.au_names, renderer.device, stream=True)
    if model.net.bidirectional:
        raise UserError(
            "live mode needs a streaming audio2au model (audio2au_stream.pt, trained with audio2au/model=stream)"
        )
    portrait, animator = renderer.open(photo, options.size, DEFAULT_HEIGHT, options.face_index)
    base = options.post.base(portrait.rest)
    head = load_head_motion(options.model.checkpoint) if options.post.head_motion > 0 else None
    engine = LiveEngine(animator, model, options.fps, options.post, base, renderer.cuda, head)
    return engine, f"{renderer.words} on {renderer.device}"


def run_live(
    photo: str,
    options: LiveOptions,
    source: AudioSource | None = None,
    on_frame: Callable[[LiveFrame], None] | None = None,
) -> LiveResult:
    """Run a session until it is stopped; `source` defaults to the microphone, `on_frame`
    sees every shown frame (tests and the benchmark)."""
    from talkinghead.renderers.threads import frame_loop_threads

    options.check()
    engine, words = load_engine(photo, options)
    source = source or MicSource(options.input_device)
    say = (lambda msg: None) if options.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    stats = LiveStats()
    recording, server, recorder, failure = None, None, None, None
    with ExitStack() as stack:
        _stop_on_sigterm(stack)
        stack.enter_context(frame_loop_threads(engine.cuda))
        window = None
        if options.window and not options.serve:
            from talkinghead.live.window import Window

            window = Window(engine.photo)
            stack.callback(window.close)
        if options.serve:
            from talkinghead.live.server import FrameServer

            server = FrameServer(options.serve, engine.photo)
            stack.callback(server.close)
        if options.record is not None:
            from talkinghead.live.recorder import Recorder

            h, w = engine.photo.shape[:2]
            recorder = Recorder(options.record, (w, h), options.fps)
        try:
            source.start()
            stack.callback(source.close)
            say(
                f"live: listening to {source.name}; {words}"
                + (f"; open {server.url}" if server else "")
                + "; Ctrl+C to stop"
            )
            started = time.monotonic()
            while options.duration is None or time.monotonic() - started < options.duration:
                chunks = source.read(timeout=0.2)
                if not chunks and source.finished:
                    break
                for chunk in chunks:
                    engine.feed(chunk)
                    if recorder is not None:
                        recorder.add_audio(chunk.samples)
                frame = engine.next_frame()
                if frame is None:
                    continue
                text = stats.overlay()
                if window is not None and not window.show(frame.image, text):
                    break
                if server is not None:
                    server.publish(frame.image, text)
                shown = time.monotonic()
                stats.add(shown, shown - frame.captured)
                if recorder is not None:
                    recorder.add_frame(frame.image, frame.covers)
                if on_frame is not None:
                    on_frame(frame)
        except KeyboardInterrupt:
            pass
        except UserError as e:  # the device failed mid-session: keep what was recorded, then report
            failure = e
        except BaseException:
            if recorder is not None:
                recorder.abort()
            raise
        if recorder is not None:
            recording = recorder.finish()
    result = LiveResult(
        stats.frames,
        engine.dropped,
        stats.seconds,
        stats.latencies,
        recording,
        server.url if server else None,
        engine.stream.latency_s,
        words,
    )
    if failure is not None:
        if recording:
            say(result.summary())
        raise failure
    return result
