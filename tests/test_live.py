"""`talkinghead live` through a real audio path: a PulseAudio null sink is the microphone
(what `paplay` plays into it is what sounddevice records), the shipped weights animate a
real portrait, the web page is read by headless Chromium, the window opens under Xvfb.
Tests that need PulseAudio, Chromium or Xvfb skip with the reason when they are missing.
The device-loss test kills the PulseAudio daemon, so it runs last in this module."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from chromium import HEADLESS_FLAGS, chromium_path
from media_probe import probe

from actionunits import AU_NAMES
from audio2au import load_audio
from audio2au.features import SAMPLE_RATE, frame_centers
from talkinghead.aupost import PostOptions, StreamPost, postprocess
from talkinghead.cli import main
from talkinghead.commands.demo import SPEECH, demo_photo
from talkinghead.errors import UserError
from talkinghead.live import LiveOptions, run_live
from talkinghead.live.audio_input import FileSource, MicSource

PHOTO = "portraits/video_retalking_1.png"
JAW = AU_NAMES.index("jawOpen")


def live_command(shared_data: Path, *options: str) -> list[str]:
    """`python -m talkinghead.cli live --photo PHOTO OPTIONS...`, for a process of its own."""
    return [sys.executable, "-m", "talkinghead.cli", "live", "--photo", str(shared_data / PHOTO), *options]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def speech_with_pauses(path: Path, before: float = 1.5, after: float = 2.0) -> tuple[float, float]:
    """silence + the bundled speech + silence as a 16 kHz WAV; returns the speech span (s)."""
    speech = load_audio(SPEECH)
    wav = np.concatenate(
        [np.zeros(int(before * SAMPLE_RATE), np.float32), speech, np.zeros(int(after * SAMPLE_RATE), np.float32)]
    )
    sf.write(path, wav, SAMPLE_RATE)
    return before, before + len(speech) / SAMPLE_RATE


# ---------------------------------------------------------------- no audio device needed


def test_stream_post_matches_offline_postprocess_chunk_by_chunk():
    """Same controls, same blinks, whatever the chunking (no smoothing to compare)."""
    rng = np.random.default_rng(1)
    raw = rng.uniform(0, 0.3, (300, len(AU_NAMES))).astype(np.float32)
    options = PostOptions(
        expressiveness=0.8, emotion={"happy": 0.5}, overrides={"browDownLeft": 0.3}, smooth_s=0.0, idle=False, seed=3
    )
    from actionunits import AUSeries

    offline = postprocess(AUSeries(raw, 25.0, AU_NAMES), options).values
    post = StreamPost(AU_NAMES, 25.0, options)
    sizes = [1, 7, 2, 40, 13, 1, 100, 136]
    parts, start = [], 0
    for n in sizes:
        parts.append(post(raw[start : start + n]))
        start += n
    np.testing.assert_allclose(np.concatenate(parts), offline, atol=1e-6)
    assert (offline[:, AU_NAMES.index("eyeBlinkLeft")] > 0.5).sum() >= 3  # there were blinks to compare


def test_stream_post_smoothing_is_causal_and_settles():
    fps, tau = 25.0, 0.08
    step = np.zeros((50, len(AU_NAMES)), np.float32)
    step[20:, JAW] = 1.0
    out = StreamPost(AU_NAMES, fps, PostOptions(smooth_s=tau, blinks=False, idle=False))(step)[:, JAW]
    assert np.all(out[:20] == 0)  # nothing before the step: no look-ahead
    assert 0.55 < out[20 + round(tau * fps) - 1] < 0.75  # one time constant: ~63 %
    assert out[-1] > 0.99


def test_live_head_moves_as_the_model_streams_it():
    """The engine's head pose per frame is the shipped head-motion model streamed causally
    (lead 0) with --seed's head stream; --head-motion scales it and 0 turns it off."""
    from dataclasses import replace

    from talkinghead.live.audio_input import Chunk
    from talkinghead.live.session import load_engine

    wav = load_audio(SPEECH)[: 3 * SAMPLE_RATE]
    options = LiveOptions(window=False, quiet=True)
    engine, _ = load_engine(str(demo_photo()), options)
    want = engine.head_model.sample(wav, engine.fps, 60, options.post.head_rng(), lead=0)
    half, _ = load_engine(str(demo_photo()), replace(options, post=replace(options.post, head_motion=0.5)))
    still, _ = load_engine(str(demo_photo()), replace(options, post=replace(options.post, head_motion=0.0)))
    got, got_half = [], []
    for start in range(0, len(wav), 320):
        chunk = Chunk(wav[start : start + 320], 0.0)
        for e in (engine, half, still):
            e.feed(chunk)
    for i in range(60):
        got.append(engine.pose(i)[0])
        got_half.append(half.pose(i)[0])
        assert still.pose(i) is None
    np.testing.assert_allclose(np.array(got), want, atol=1e-5)
    np.testing.assert_allclose(np.array(got_half), 0.5 * want, atol=1e-5)
    assert np.abs(want).max() > 0.5  # it does move


def test_file_source_session_records_video_with_audio(tmp_path, one_torch_thread):
    """The session loop at real-time pace: frames, latency, and a recording whose audio
    and video both span the input."""
    seconds = 3.0
    wav = load_audio(SPEECH)[: int(seconds * SAMPLE_RATE)]
    out = tmp_path / "session.mp4"
    seen = []
    result = run_live(
        demo_photo(),
        LiveOptions(window=False, record=out, quiet=True),
        source=FileSource(wav),
        on_frame=lambda f: seen.append((f.index, f.covers)),
    )
    assert result.frames == len(seen) > 0.5 * seconds * 25  # at least half the frames shown on a busy CPU
    indices = [i for i, _ in seen]
    assert indices == sorted(set(indices))  # newest frame only, never one from the past
    assert sum(c for _, c in seen) == indices[-1] + 1 == result.frames + result.dropped
    assert all(0 < lat < 1.0 for lat in result.latencies)
    p = probe(out)
    assert (p.video_codec, p.audio_codec) == ("h264", "aac")
    assert abs(p.video_seconds - seconds) < 0.25 and abs(p.audio_seconds - seconds) < 0.1
    assert sorted(x.name for x in tmp_path.iterdir()) == ["session.mp4"]  # no temp files left


def test_cli_errors_are_one_line(tmp_path, capsys, shared_data):
    cases = [
        (["live"], "--photo"),
        (["live", "--photo", shared_data / PHOTO, "--no-window"], "--serve"),
        (["live", "--photo", shared_data / PHOTO, "--serve", "nonsense"], "HOST:PORT"),
        (["live", "--photo", shared_data / PHOTO, "--record", tmp_path / "x.avi"], ".mp4"),
        (["live", "--photo", tmp_path / "missing.jpg", "--serve", "127.0.0.1:0"], "missing.jpg"),
    ]
    for args, words in cases:
        assert main([str(a) for a in args]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err


def test_no_display_asks_for_serve(monkeypatch, capsys, shared_data):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["live", "--photo", str(shared_data / PHOTO)]) == 2
    assert "--serve" in capsys.readouterr().err


# ---------------------------------------------------------------- through the virtual microphone


class TeeSource:
    """A real microphone source that also keeps what it delivered (to tell speech from
    silence afterwards)."""

    def __init__(self, source: MicSource) -> None:
        self.source, self.name, self.audio = source, source.name, []

    def start(self) -> None:
        self.source.start()
        self.name = self.source.name

    def read(self, timeout: float):
        chunks = self.source.read(timeout)
        self.audio.extend(c.samples for c in chunks)
        return chunks

    @property
    def finished(self) -> bool:
        return False

    def close(self) -> None:
        self.source.close()


@pytest.mark.slow
def test_mouth_moves_more_during_speech_than_silence(virtual_mic, shared_data, tmp_path, one_torch_thread):
    wav = tmp_path / "speech.wav"
    speech_with_pauses(wav)
    frames, done = [], threading.Event()

    def play():
        subprocess.run(["paplay", "-d", virtual_mic, str(wav)], check=True, timeout=30)
        time.sleep(0.8)
        done.set()

    player = threading.Thread(target=play, daemon=True)

    from talkinghead.live.session import DEFAULT_HEIGHT
    from talkinghead.portrait import Portrait

    lips = Portrait.open(shared_data / PHOTO, max_height=DEFAULT_HEIGHT).landmarks[[61, 291, 0, 17], :2]
    (x0, y0), (x1, y1) = lips.min(0).astype(int) - 4, lips.max(0).astype(int) + 12
    mouth = (slice(y0, y1), slice(x0, x1))  # the mouth box of the live frames (photo scaled to DEFAULT_HEIGHT)

    def on_frame(frame):
        if not player.is_alive() and not done.is_set():
            player.start()  # the stream runs: start speaking
        frames.append((frame.index, frame.aus[JAW], frame.image[mouth].astype(np.float32)))
        if done.is_set():
            raise KeyboardInterrupt  # what Ctrl+C does

    source = TeeSource(MicSource())
    result = run_live(
        str(shared_data / PHOTO),
        LiveOptions(window=False, serve=f"127.0.0.1:{free_port()}", duration=30, quiet=True),
        source=source,
        on_frame=on_frame,
    )
    assert done.is_set(), "the session ended before the speech was played"
    assert result.frames > 100
    audio = np.concatenate(source.audio)
    centres = frame_centers(0, frames[-1][0] + 1, 25.0).astype(int)
    shown = [i for i, _, _ in frames]
    rms = np.array([np.sqrt(np.mean(audio[max(0, c - 800) : c + 800] ** 2)) for c in centres])[shown]
    # silent: nothing in the last half second either (the face settles after speech)
    quiet = np.array([np.abs(audio[max(0, c - 8000) : c + 1600]).max() for c in centres])[shown] < 1e-3
    speaking, silent = rms > 0.1 * rms.max(), quiet
    assert speaking.sum() > 40 and silent.sum() > 20
    jaw = np.array([j for _, j, _ in frames])
    motion = np.array([0.0] + [np.abs(b[2] - a[2]).mean() for a, b in zip(frames, frames[1:])])
    assert jaw[speaking].mean() > jaw[silent].mean() + 0.02
    assert motion[speaking].mean() > 2 * motion[silent].mean(), (motion[speaking].mean(), motion[silent].mean())


@pytest.mark.slow
def test_served_page_shows_frames_in_chromium_and_ctrl_c_finishes_recording(virtual_mic, shared_data, tmp_path):
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("no chromium (Debian: apt-get install chromium)")
    wav = tmp_path / "speech.wav"
    speech_with_pauses(wav, before=0.2, after=0.2)
    port, record = free_port(), tmp_path / "session.mp4"
    proc = subprocess.Popen(
        live_command(shared_data, "--serve", f"127.0.0.1:{port}", "--record", str(record), "--duration", "60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    player = None
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):  # the models load, then the server answers
            try:
                page = urllib.request.urlopen(base + "/", timeout=1).read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()[1]
                time.sleep(0.1)
        assert "/frame.jpg" in page
        player = subprocess.Popen(["paplay", "-d", virtual_mic, str(wav)])
        for _ in range(30):  # each request waits up to 1 s for a frame newer than the 5th
            with urllib.request.urlopen(base + "/frame.jpg?after=5", timeout=10) as r:
                seq, stats, jpeg = int(r.headers["X-Frame"]), r.headers["X-Stats"], r.read()
            if seq > 5:
                break
        assert seq > 5 and "fps" in stats
        import cv2

        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert frame is not None and frame.std() > 10
        shot = tmp_path / "page.png"
        subprocess.run(
            [
                chromium,
                *HEADLESS_FLAGS,
                f"--user-data-dir={tmp_path / 'chromium'}",
                f"--screenshot={shot}",
                "--window-size=800,600",
                base + "/",
            ],
            capture_output=True,
            timeout=90,
        )
        image = cv2.imread(str(shot))
        assert image is not None, "chromium wrote no screenshot"
        background = np.array([17, 17, 17])  # the page's #111
        photo_pixels = np.abs(image.astype(int) - background).sum(axis=2) > 30
        assert photo_pixels.mean() > 0.15  # the frame fills a good part of the page
        player.wait(timeout=30)
    finally:
        if player is not None and player.poll() is None:
            player.kill()
        proc.send_signal(signal.SIGINT)  # Ctrl+C
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "frames" in out and f"recorded {record}" in out
    p = probe(record)
    assert (p.video_codec, p.audio_codec) == ("h264", "aac") and p.video_seconds > 2


@pytest.mark.slow
def test_window_opens_under_xvfb(virtual_mic, shared_data):
    if shutil.which("xvfb-run") is None:
        pytest.skip("no xvfb-run (Debian: apt-get install xvfb xauth)")
    proc = subprocess.run(
        ["xvfb-run", "-a", *live_command(shared_data, "--duration", "6")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    frames = int(proc.stdout.split("live: ")[1].split(" frames")[0])
    assert frames > 10, proc.stdout


def test_unknown_input_device_is_a_clear_error(virtual_mic, shared_data, capsys):
    assert main(["live", "--photo", str(shared_data / PHOTO), "--serve", "127.0.0.1:0", "--input-device", "999"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "999" in err and "--list-devices" in err


@pytest.mark.slow
def test_lost_device_is_an_error_not_a_hang_and_recording_is_kept(virtual_mic, shared_data, tmp_path):
    """Kills the PulseAudio daemon mid-session (so: last test of the module)."""
    record = tmp_path / "lost.mp4"
    threading.Timer(4.0, subprocess.run, [["pulseaudio", "--kill"]]).start()
    t0 = time.monotonic()
    with pytest.raises(UserError, match="input device"):
        run_live(str(shared_data / PHOTO), LiveOptions(window=False, record=record, duration=60, quiet=True))
    assert time.monotonic() - t0 < 20
    assert probe(record).frames > 0
