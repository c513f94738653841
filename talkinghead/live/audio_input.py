"""Where live audio comes from: a microphone (sounddevice) or, for the benchmark, a file
played at real-time pace. Both hand over 16 kHz mono chunks stamped with the moment their
last sample was captured, so the session can measure audio-to-frame latency.

The microphone callback only copies each block into a queue (it runs on PortAudio's
thread and must never wait); resampling and everything else happen in the reader.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from audio2au.features import SAMPLE_RATE
from talkinghead.errors import UserError

BLOCK_S = 0.02  # 20 ms blocks: small enough for latency, large enough for Python


@dataclass
class Chunk:
    samples: np.ndarray  # (n,) float32, 16 kHz mono
    captured_end: float  # time.monotonic() at which the last sample was captured


class AudioSource(Protocol):
    name: str

    def start(self) -> None: ...

    def read(self, timeout: float) -> list[Chunk]:
        """Every chunk queued so far, waiting up to `timeout` s for the first one."""

    @property
    def finished(self) -> bool:
        """True when no more audio will come (end of a file)."""

    def close(self) -> None: ...


def _drain(q: queue.Queue, timeout: float) -> list:
    """Everything in `q`, waiting up to `timeout` s for the first item."""
    items = []
    try:
        items.append(q.get(timeout=timeout))
        while True:
            items.append(q.get_nowait())
    except queue.Empty:
        pass
    return items


def _sounddevice():
    try:
        import sounddevice
    except OSError as e:  # the Python package is there, the PortAudio library is not
        raise UserError(f"no audio system: {e} (on Debian/Ubuntu: apt-get install libportaudio2)") from None
    return sounddevice


def list_input_devices() -> str:
    """A line per input device: index, name, host API, channels, default sample rate."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        default = sd.default.device[0]
    except sd.PortAudioError as e:
        raise UserError(f"cannot list audio devices: {e}") from None
    lines = [
        f"{'*' if i == default else ' '} {i:3d}  {d['name']}  ({sd.query_hostapis(d['hostapi'])['name']}, "
        f"{d['max_input_channels']} in, {d['default_samplerate']:g} Hz)"
        for i, d in enumerate(devices)
        if d["max_input_channels"] > 0
    ]
    return "\n".join(lines) if lines else "no audio input devices"


class MicSource:
    """A sounddevice input stream. Opens at 16 kHz mono when the device allows it, else at
    the device's own rate (resampled with soxr's streaming resampler). Input that stops
    arriving (device unplugged, server gone) becomes a UserError instead of a hang."""

    def __init__(self, device: str | int | None = None, first_audio_s: float = 5.0, stall_s: float = 2.0) -> None:
        self.device = int(device) if isinstance(device, str) and device.isdigit() else device
        self.first_audio_s, self.stall_s = first_audio_s, stall_s
        self._queue: queue.Queue[tuple[np.ndarray, float]] = queue.Queue()
        self._stream = None
        self._resampler = None
        self._ended = threading.Event()
        self._last_audio: float | None = None
        self.name = "microphone"
        self.latency = 0.0  # input latency PortAudio reports, seconds

    def _callback(self, indata: np.ndarray, frames: int, time_info, status) -> None:
        self._queue.put((indata.mean(axis=1, dtype=np.float32), time.monotonic()))

    def _device_info(self, sd) -> dict:
        """The input device's info; PortAudio lists devices once, when it starts, so a
        device not found is looked for again after a rescan (a microphone plugged in, or
        a sound server started, after the first scan)."""
        for rescan in (False, True):
            try:
                if rescan:
                    sd._terminate()  # sounddevice's documented way to refresh the device list
                    sd._initialize()
                return sd.query_devices(self.device, "input")
            except (ValueError, sd.PortAudioError) as e:
                error = e
        which = "no audio input device found" if self.device is None else f"input device {self.device!r}: {error}"
        raise UserError(f"{which} (see talkinghead live --list-devices)")

    def start(self) -> None:
        sd = _sounddevice()
        info = self._device_info(sd)
        native = int(info["default_samplerate"])
        last_error = None
        for rate, channels in ((SAMPLE_RATE, 1), (native, 1), (native, min(2, info["max_input_channels"]))):
            try:
                self._stream = sd.InputStream(
                    device=self.device,
                    samplerate=rate,
                    channels=channels,
                    dtype="float32",
                    blocksize=round(rate * BLOCK_S),
                    latency="low",
                    callback=self._callback,
                    finished_callback=self._ended.set,
                )
                break
            except sd.PortAudioError as e:
                last_error = e
        if self._stream is None:
            raise UserError(f"cannot open input device {info['name']!r}: {last_error}")
        if self._stream.samplerate != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(self._stream.samplerate, SAMPLE_RATE, 1, dtype="float32")
        self.name = f"{info['name']} ({self._stream.samplerate:g} Hz)"
        self.latency = float(self._stream.latency)
        self._started = time.monotonic()
        self._stream.start()

    def read(self, timeout: float) -> list[Chunk]:
        items = _drain(self._queue, timeout)
        now = time.monotonic()
        if items:
            self._last_audio = now
        else:
            self._check_alive(now)
        chunks = []
        for samples, t in items:
            if self._resampler is not None:
                samples = self._resampler.resample_chunk(samples)
            chunks.append(Chunk(samples, t - self.latency))
        return chunks

    def _check_alive(self, now: float) -> None:
        if self._ended.is_set() or not self._stream.active:
            raise UserError(f"the input device {self.name} stopped (unplugged or taken by another program?)")
        if self._last_audio is None and now - self._started > self.first_audio_s:
            raise UserError(f"no audio from the input device {self.name} within {self.first_audio_s:g} s")
        if self._last_audio is not None and now - self._last_audio > self.stall_s:
            raise UserError(f"the input device {self.name} stopped delivering audio for {self.stall_s:g} s")

    @property
    def finished(self) -> bool:
        return False

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.abort(ignore_errors=True)
                self._stream.close(ignore_errors=True)
            finally:
                self._stream = None


class FileSource:
    """Speech from a file, delivered in 20 ms chunks at the pace a microphone would
    deliver it (a thread sleeps until each chunk's capture time). The benchmark's input:
    the same session code runs, without a sound card."""

    def __init__(self, waveform: np.ndarray, name: str = "file") -> None:
        self.waveform = np.asarray(waveform, np.float32)
        self.name = name
        self.latency = 0.0
        self._queue: queue.Queue[Chunk | None] = queue.Queue()
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._play, name="file-source", daemon=True)

    def _play(self) -> None:
        block = round(SAMPLE_RATE * BLOCK_S)
        t0 = time.monotonic()
        for start in range(0, len(self.waveform), block):
            end = min(start + block, len(self.waveform))
            due = t0 + end / SAMPLE_RATE
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            self._queue.put(Chunk(self.waveform[start:end], due))
        self._queue.put(None)

    def start(self) -> None:
        self._thread.start()

    def read(self, timeout: float) -> list[Chunk]:
        chunks = _drain(self._queue, timeout)
        if chunks and chunks[-1] is None:  # the end-of-file marker, always the last item
            self._done = True
            chunks.pop()
        return chunks

    @property
    def finished(self) -> bool:
        return self._done

    def close(self) -> None:
        self._stop.set()
