"""`talkinghead render / reenact / demo` end to end: real photos, speech and driving video
from the shared data, real mediapipe, real ffmpeg. Untrained tiny weights test the
plumbing; the lip-motion test needs the shipped trained weights and skips without them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from media_probe import probe, read_frames
from tiny_weights import make_tiny_weights, shipped_trained_weights

from actionunits import AU_NAMES, AUSeries
from actionunits.series import POSE_COLUMNS
from talkinghead.cli import main
from talkinghead.face.motion import MOTION_FILE
from talkinghead.model_files import AUDIO2AU_FILE
from talkinghead.renderers.gath import GENERATOR_FILE

PHOTO = "portraits/video_retalking_1.png"
SPEECH = "speech/videoretalking_1.wav"  # 5 s, 44.1/48 kHz stereo


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_weights(tmp_path_factory.mktemp("weights"))


def run(args: list[str], capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def cli(command: str, photo: Path, out: Path, checkpoint: Path, *options) -> list[str]:
    """`talkinghead COMMAND --photo PHOTO -o OUT --checkpoint CHECKPOINT OPTIONS...` as strings."""
    return [str(a) for a in (command, "--photo", photo, "-o", out, "--checkpoint", checkpoint, *options)]


def test_render_video_and_audio_agree(shared_data, tiny, tmp_path, capsys):
    import torch

    threads = torch.get_num_threads()
    out = tmp_path / "talk.mp4"
    aus = tmp_path / "aus.csv"
    options = ("--audio", shared_data / SPEECH, *"--size 240 --fps 25 --save-aus".split(), aus)
    rc, stdout, err = run(cli("render", shared_data / PHOTO, out, tiny, *options), capsys)
    assert rc == 0, err
    assert torch.get_num_threads() == threads  # the frame loop's thread setting is undone
    for stage in ("model", "face", "audio", "AU"):
        assert f"  {stage} " in err
    assert "real-time factor" in stdout and str(out) in stdout
    p = probe(out)
    assert (p.video_codec, p.audio_codec) == ("h264", "aac")
    assert p.height == 240 and p.width % 2 == 0
    speech_seconds = sf.info(shared_data / SPEECH).duration
    assert abs(p.video_seconds - speech_seconds) <= 1 / 25 + 1e-6
    assert abs(p.audio_seconds - p.video_seconds) <= 1 / 25 + 0.03  # AAC frames are ~23 ms
    csv_rows = aus.read_text().splitlines()
    assert csv_rows[0].split(",")[1:] == [*AU_NAMES, *POSE_COLUMNS]  # the head moved with the speech
    assert len(csv_rows) - 1 == p.frames
    assert sorted(x.name for x in tmp_path.iterdir()) == ["aus.csv", "talk.mp4"]  # no temp files left


def test_head_motion_is_seeded_scaled_and_off_at_zero(shared_data, tiny, tmp_path, capsys):
    """The same --seed gives the same head, another seed another; the blinks of a seed do not
    shift with the head; --head-motion scales the pose and 0 leaves no pose at all (the
    still head's path)."""

    def head(*options: str) -> AUSeries:
        csv = tmp_path / "aus.csv"
        args = ("--audio", shared_data / SPEECH, *"--size 96 --quiet --save-aus".split(), csv, *options)
        rc, _, err = run(cli("render", shared_data / PHOTO, tmp_path / "h.mp4", tiny, *args), capsys)
        assert rc == 0, err
        return AUSeries.read_csv(csv)

    first, again, other = head("--seed", "3"), head("--seed", "3"), head("--seed", "4")
    half, still = head("--seed", "3", "--head-motion", "0.5"), head("--seed", "3", "--head-motion", "0")
    assert np.array_equal(first.pose, again.pose)
    assert 1.0 < first.pose.std(axis=0).mean() < 8.0
    assert np.abs(first.pose - other.pose).max() > 1.0
    np.testing.assert_allclose(half.pose, 0.5 * first.pose, atol=1e-3)
    assert still.pose is None
    blink = AU_NAMES.index("eyeBlinkLeft")
    assert np.array_equal(still.values[:, blink], first.values[:, blink])


def test_render_from_arkit_csv_crop_only(shared_data, tiny, tmp_path, capsys):
    """A Live Link Face style CSV (Timecode, capitalised names) drives a silent crop video."""
    fps, n = 60, 120
    header = ["Timecode", "BlendShapeCount", "JawOpen", "EyeBlinkLeft", "EyeLookDownLeft", "MouthSmileRight"]
    rows = [f"00:00:{i // fps:02d}:{i % fps:02d}.000,52,{0.5 + 0.5 * np.sin(i / 5):.3f},0,0.2,0.3" for i in range(n)]
    csv = tmp_path / "capture.csv"
    csv.write_text(",".join(header) + "\n" + "\n".join(rows) + "\n")
    out = tmp_path / "crop.mp4"
    options = ("--au-csv", csv, *"--generator gath --crop-only --size 64 --enhance clahe,sharpen --quiet".split())
    rc, _, err = run(cli("render", shared_data / PHOTO, out, tiny, *options), capsys)
    assert rc == 0, err
    p = probe(out)
    assert (p.width, p.height, p.audio_codec) == (64, 64, None)
    assert p.frames == 50  # 2 s of capture at the default 25 fps


@pytest.mark.slow
def test_reenact_tracks_driver_and_keeps_its_audio(shared_data, tiny, tmp_path, capsys):
    driver = next((shared_data / "video" / "grid" / "s1" / "video").glob("*.mp4"))
    out = tmp_path / "reenact.mp4"
    rc, stdout, err = run(cli("reenact", shared_data / PHOTO, out, tiny, "--video", driver, "--size", 128), capsys)
    assert rc == 0, err
    p, d = probe(out), probe(driver)
    assert p.audio_codec == "aac" and abs(p.fps - d.fps) < 0.01
    assert abs(p.frames - d.frames) <= 1
    assert abs(p.audio_seconds - d.audio_seconds) < 0.05


def test_reenact_follows_the_drivers_head_turns(shared_data, tmp_path, capsys):
    """A real interview clip whose head turns (5 s, rotation std ~7 degrees) drives a photo
    of someone else: a fresh face mesh reads the photo's head turning with the driver's,
    and --head-motion 0 keeps it still."""
    from talkinghead.face.head_pose import landmark_angles
    from talkinghead.face.landmarks import LandmarkDetector

    weights = shipped_trained_weights("the driven face must move like the driver's")
    driver = shared_data / "video" / "clips" / "pcavs_voxceleb" / "00002.mp4"

    def yaw_pitch(video: Path) -> np.ndarray:
        with LandmarkDetector(video=True) as det:
            faces = [det.detect(f) for f in read_frames(video)]
        angles, _ = landmark_angles(np.stack([f[0] if f else np.full((478, 3), np.nan) for f in faces]))
        return angles[:, :2]

    out, still = tmp_path / "turns.mp4", tmp_path / "still.mp4"
    for video, options in ((out, ()), (still, ("--head-motion", "0"))):
        args = ("--video", driver, "--size", "256", "--quiet", *options)
        rc, _, err = run(cli("reenact", shared_data / PHOTO, video, weights, *args), capsys)
        assert rc == 0, err
    real, moved, kept = yaw_pitch(driver), yaw_pitch(out), yaw_pitch(still)
    n = min(len(real), len(moved))
    for axis in range(2):
        ok = np.isfinite(real[:n, axis]) & np.isfinite(moved[:n, axis])
        assert np.corrcoef(real[:n, axis][ok], moved[:n, axis][ok])[0, 1] > 0.6, axis
    assert np.nanstd(moved, axis=0).mean() > 2.0 > 1.0 > np.nanstd(kept, axis=0).max()


def test_reenact_silent_driver_and_csv(shared_data, tiny, tmp_path, capsys):
    """A driver without audio gives a video without audio; --au-csv replaces the tracking."""
    driver = shared_data / "video" / "expressions_silent" / "d0.mp4"
    out = tmp_path / "silent.mp4"
    aus = tmp_path / "aus.csv"
    options = ("--video", driver, "--size", 128, "--quiet")
    rc, _, err = run(cli("reenact", shared_data / PHOTO, out, tiny, *options, "--save-aus", aus), capsys)
    assert rc == 0, err
    p = probe(out)
    assert p.audio_codec is None and abs(p.frames - probe(driver).frames) <= 1
    rc, _, err = run(cli("reenact", shared_data / PHOTO, tmp_path / "csv.mp4", tiny, *options, "--au-csv", aus), capsys)
    assert rc == 0, err
    assert probe(tmp_path / "csv.mp4").frames == p.frames


def test_batches_made_on_several_threads_come_out_in_order(shared_data, tmp_path, capsys):
    """Frame workers make batches in parallel; the video must still show them in order.
    The jaw steps between three levels batch by batch, so each decoded frame's nearest
    directly made frame has its own jaw level (a swapped pair of batches is 0.5 off)."""
    from actionunits import AUSeries
    from talkinghead.portrait import Portrait
    from talkinghead.renderers.warp import WarpAnimator, load_motion

    weights = shipped_trained_weights("the jaw must visibly move")
    jaw = AU_NAMES.index("jawOpen")
    values = np.zeros((48, len(AU_NAMES)), np.float32)
    values[:, jaw] = np.repeat(np.resize([0.0, 1.0, 0.5], 12), 4)
    AUSeries(values, 25.0, AU_NAMES).write_csv(tmp_path / "drive.csv")
    out, used = tmp_path / "v.mp4", tmp_path / "used.csv"
    options = ("--au-csv", tmp_path / "drive.csv", *"--size 256 --batch-size 4 --quiet --save-aus".split(), used)
    rc, _, err = run(cli("render", shared_data / PHOTO, out, weights, *options), capsys)
    assert rc == 0, err
    portrait = Portrait.open(shared_data / PHOTO, 256)
    series = AUSeries.read_csv(used).reorder(portrait.names)  # the AUs after post-processing
    expected = WarpAnimator(portrait, load_motion(weights)).frames(series.values).astype(np.float32)
    decoded = read_frames(out).astype(np.float32)
    assert len(decoded) == len(expected) == 48
    nearest = np.abs(decoded[:, None] - expected[None]).mean(axis=(2, 3, 4)).argmin(axis=1)
    off = np.abs(series.values[nearest, jaw] - series.values[:, jaw])
    assert off.max() < 0.25, off.round(2)


def test_demo_renders_bundled_example_outside_the_current_folder(tiny, tmp_path, capsys, monkeypatch):
    here, out = tmp_path / "checkout", tmp_path / "videos"
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv("TALKINGHEAD_OUTPUT", str(out))
    rc, stdout, err = run(["demo", "--checkpoint", tiny, "--size", 128], capsys)
    assert rc == 0, err
    assert list(here.iterdir()) == []  # nothing written where the command ran
    p = probe(out / "talkinghead_demo.mp4")
    assert p.audio_codec == "aac" and p.frames > 100 and str(out / "talkinghead_demo.mp4") in stdout


def test_renderer_is_named_in_the_summary(shared_data, tiny, tmp_path, capsys):
    from talkinghead.renderers.gath import load_gath

    _, words, _ = load_gath(make_tiny_weights(tmp_path / "w", placeholder=True), "cpu")
    assert words == "GATH generator, PLACEHOLDER weights"
    _, words, meta = load_gath(make_tiny_weights(tmp_path / "v"), "cpu")
    assert words == "GATH generator" and meta["path"].endswith("generator.pt")
    for generator, name in (("warp", "warp renderer"), ("gath", "GATH generator")):
        out = tmp_path / f"{generator}.mp4"
        options = ("--audio", shared_data / SPEECH, "--size", 128, "--generator", generator)
        rc, stdout, err = run(cli("render", shared_data / PHOTO, out, tiny, *options), capsys)
        assert rc == 0, err
        assert stdout.strip().endswith(f"(cpu, {name})"), stdout


# --- errors: one line, exit code 2, nothing written ----------------------------------------


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    sf.write(path, samples.astype(np.float32), 16000, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def mismatched(tmp_path_factory) -> Path:
    return make_tiny_weights(tmp_path_factory.mktemp("mismatch"), audio_au_names=AU_NAMES[:-2])


@pytest.mark.parametrize(
    "case",
    [
        "no_face",
        "bad_photo",
        "missing_photo",
        "bad_audio",
        "silent_audio",
        "empty_audio",
        "missing_output_dir",
        "missing_checkpoint",
        "mismatched_checkpoint",
        "corrupt_checkpoint",
        "corrupt_motion",
        "corrupt_audio2au",
        "bad_au",
        "enhance_with_warp",
        "no_motion",
    ],
)
def test_render_errors(case, shared_data, tiny, mismatched, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    photo, audio, ckpt = shared_data / PHOTO, shared_data / SPEECH, tiny
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "video.mp4"
    extra: list = []
    if case == "no_face":
        import cv2

        photo = inputs / "wall.png"
        cv2.imwrite(str(photo), np.full((200, 160, 3), 180, np.uint8))
    elif case == "bad_photo":
        photo = inputs / "photo.jpg"
        photo.write_text("not an image")
    elif case == "missing_photo":
        photo = inputs / "nope.jpg"
    elif case == "bad_audio":
        audio = inputs / "speech.wav"
        audio.write_bytes(b"RIFF\x00\x00garbage" * 10)
    elif case == "silent_audio":
        audio = _write_wav(inputs / "silence.wav", np.zeros(16000 * 2))
    elif case == "empty_audio":
        audio = _write_wav(inputs / "empty.wav", np.zeros(0))
    elif case == "missing_output_dir":
        out = out_dir / "missing" / "video.mp4"
    elif case == "missing_checkpoint":
        ckpt = inputs / "no_weights"
    elif case == "mismatched_checkpoint":
        ckpt = mismatched
    elif case in ("corrupt_checkpoint", "corrupt_motion", "corrupt_audio2au"):
        import shutil

        ckpt = inputs / "corrupt"
        shutil.copytree(tiny, ckpt)
        name = {"corrupt_checkpoint": GENERATOR_FILE, "corrupt_motion": MOTION_FILE}.get(case, AUDIO2AU_FILE)
        data = (ckpt / name).read_bytes()
        (ckpt / name).write_bytes(data[: len(data) // 2])
        extra = ["--generator", "gath"] if case == "corrupt_checkpoint" else []
    elif case == "no_motion":
        import shutil

        ckpt = inputs / "gath_only"
        shutil.copytree(tiny, ckpt)
        (ckpt / MOTION_FILE).unlink()
    elif case == "bad_au":
        extra = ["--au", "jawOpen=2"]
    elif case == "enhance_with_warp":
        extra = ["--enhance"]
    # not --quiet: stage lines must not precede the error
    rc, stdout, err = run(cli("render", photo, out, ckpt, "--audio", audio, "--size", 128, *extra), capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("talkinghead: error: "), err
    assert stdout == ""
    assert list(out_dir.rglob("*")) == []  # no output, no temp file


def test_ffmpeg_failure_is_one_line_with_its_words_and_leaves_nothing(tmp_path):
    """ffmpeg exits while frames are still coming (here: an audio track it cannot read):
    the writer reports ffmpeg's own last line, not the broken pipe, and deletes the file."""
    from talkinghead.errors import UserError
    from talkinghead.io.video import VideoWriter

    audio = tmp_path / "speech.wav"
    audio.write_bytes(b"not audio")
    with pytest.raises(UserError, match=r"ffmpeg could not write .*v\.mp4: .*Invalid data"):
        with VideoWriter(tmp_path / "v.mp4", (64, 64), 25.0, audio=audio) as writer:
            for _ in range(50):
                writer.write(np.zeros((4, 64, 64, 3), np.uint8))
    assert list(tmp_path.iterdir()) == [audio]


@pytest.mark.parametrize("step", ["plan", "draw"])  # the animator's halves, both in the frame workers
def test_failure_mid_render_leaves_nothing(step, shared_data, tiny, tmp_path, monkeypatch):
    from talkinghead.commands import render as render_module

    calls = {"n": 0}
    original = getattr(render_module.FrameMaker, step)

    def failing(self, batch, *pose):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom")
        return original(self, batch, *pose)

    monkeypatch.setattr(render_module.FrameMaker, step, failing)
    options = ("--audio", shared_data / SPEECH, "--size", 128, "--quiet")
    with pytest.raises(RuntimeError, match="boom"):
        main(cli("render", shared_data / PHOTO, tmp_path / "v.mp4", tiny, *options))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_kill_mid_render_leaves_nothing(shared_data, tiny, tmp_path):
    """SIGTERM while frames are being encoded: the partial video is deleted."""
    import signal
    import subprocess
    import sys
    import time

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    options = ("--audio", shared_data / "speech" / "musetalk_eng.wav", "--size", 256, "--quiet")
    args = cli("render", shared_data / PHOTO, out_dir / "v.mp4", tiny, *options)
    proc = subprocess.Popen(
        [sys.executable, "-m", "talkinghead.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not list(out_dir.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "render ended before it could be interrupted"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and b"interrupted" in err
    assert list(out_dir.iterdir()) == []


# --- needs trained weights --------------------------------------------------------------------


@pytest.mark.slow
def test_mouth_moves_more_during_speech_than_silence(shared_data, tmp_path, capsys):
    weights = shipped_trained_weights("lip motion needs a trained model")
    speech, sr = sf.read(shared_data / "speech" / "musetalk_eng.wav", dtype="float32")  # 16 kHz mono
    assert sr == 16000 and speech.ndim == 1
    audio = _write_wav(tmp_path / "speech_then_silence.wav", np.concatenate([speech[: 4 * sr], np.zeros(3 * sr)]))
    out = tmp_path / "talk.mp4"
    options = ("--audio", audio, *"--crop-only --size 100 --no-blinks --no-idle --head-motion 0 --quiet".split())
    rc, _, err = run(cli("render", shared_data / PHOTO, out, weights, *options), capsys)
    assert rc == 0, err
    frames = read_frames(out).astype(np.float32)
    mouth = frames[:, 60:88, 28:72]  # the mouth sits at (0.5, 0.72) of the aligned crop
    motion = np.abs(np.diff(mouth, axis=0)).mean(axis=(1, 2, 3))
    talking, silent = motion[5:95].mean(), motion[110:170].mean()
    assert talking > 1.5 * silent + 0.2, (talking, silent)
