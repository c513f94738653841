"""Lip sync of `talkinghead live`, measured the way the offline render is (evaluation/lips.py).

    python benchmarks/live_lips.py                                   # three held-out clips
    python benchmarks/live_lips.py --speakers clips__pcavs_voxceleb__00010 --json live_lips.json
    python benchmarks/live_lips.py --keep out/                        # also keep recordings and renders

Why: the offline numbers say how well the mouth follows speech when the whole file is known;
live mode hears the speech through a microphone, with a causal model and frames dropped
when the machine falls behind, and a user judges it from its recording. So each held-out
clip's first frame is the photo and its audio is played (paplay) into a PulseAudio null
sink that is the default input: the same sounddevice path as a real microphone. The
session is recorded (`--record`), the clip's speech is found in the recording's own audio
track by cross-correlation, and the recording's inner-lip gap at that place is scored
against the real lips exactly like a render (lips.score: r, r within speech, amplitude,
closure recall). r at lags -10..+10 frames shows any offset between the recorded frames
and the recorded audio (a positive best lag: the mouth comes that many frames late). An
offline `talkinghead render` of the same photo and audio is scored beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from talkinghead.clip_sources import ClipTask

# Scripts here are named after packages (benchmarks/audio2au.py): keep them from shadowing.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SPEAKERS = ("clips__pcavs_voxceleb__00010", "theresa_may", "lrs2_deepavsr_00019")
SINK = "talkinghead_bench_mic"
LEAD_S, TAIL_S = 0.5, 1.5  # silence played before and after the clip
START_S = 1.0  # the session runs this much longer: PulseAudio's first audio comes late
LAGS = range(-10, 11)
SUMMARY = re.compile(r"live: (\d+) frames in ([\d.]+) s \(([\d.]+) fps shown, (\d+) dropped")
LATENCY = re.compile(r"latency median (\d+) ms")


@dataclass
class Clip:
    name: str
    fps: float
    photo: Path
    wav_path: Path
    wav: np.ndarray  # 16 kHz mono
    real: np.ndarray  # (frames,) real inner-lip gap
    speech: np.ndarray  # (frames,) bool


def fail(message: str) -> None:
    sys.exit(f"live_lips: {message}")


def last_line(text: str, default: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else default


def pactl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=20)


def need_pulseaudio() -> None:
    missing = [t for t in ("pulseaudio", "pactl", "paplay") if shutil.which(t) is None]
    if missing:
        fail(f"needs {', '.join(missing)} (Debian: apt-get install pulseaudio pulseaudio-utils libasound2-plugins)")


@contextmanager
def virtual_mic() -> Iterator[str]:
    """A PulseAudio null sink whose monitor is the default input (as in tests/test_live.py):
    starts the daemon and the sink unless they exist, and puts back what it changed."""
    started = subprocess.run(["pulseaudio", "--check"]).returncode != 0
    if started:
        subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1"], capture_output=True, timeout=20)
        for _ in range(50):
            if subprocess.run(["pulseaudio", "--check"]).returncode == 0:
                break
            time.sleep(0.1)
        else:
            fail("pulseaudio did not start")
    module = None
    if SINK not in pactl("list", "short", "sinks").stdout:
        loaded = pactl("load-module", "module-null-sink", f"sink_name={SINK}")
        if loaded.returncode != 0:
            fail(f"cannot create a PulseAudio null sink: {loaded.stderr.strip()}")
        module = loaded.stdout.strip()
    old_source = pactl("get-default-source").stdout.strip()
    pactl("set-default-source", f"{SINK}.monitor")
    pactl("unload-module", "module-suspend-on-idle")  # as the tests do: the sink is never suspended
    try:
        yield SINK
    finally:
        if old_source:
            pactl("set-default-source", old_source)
        if module:
            pactl("unload-module", module)
        if started:
            subprocess.run(["pulseaudio", "--kill"], capture_output=True)


def prepare_clip(task: ClipTask, work: Path) -> Clip:
    """The clip's first frame as the photo, its audio as a 16 kHz wav, its real lips and
    speech frames (as lips.measure_clip has them)."""
    import soundfile as sf

    from audio2au.features import SAMPLE_RATE, frame_count
    from audio2au.frame_measures import frame_rms_db, speech_frames
    from talkinghead.evaluation.lips import first_frame, real_lips
    from talkinghead.io.image import write_image

    lips = real_lips(task)
    level = frame_rms_db(lips.wav, lips.fps, frame_count(len(lips.wav), lips.fps))[:, 0]
    n = min(len(level), len(lips.gap))
    folder = work / task.clip
    folder.mkdir(parents=True, exist_ok=True)
    photo, wav_path = folder / "photo.png", folder / "speech.wav"
    write_image(photo, first_frame(task.path))
    sf.write(wav_path, lips.wav, SAMPLE_RATE)
    return Clip(task.clip, lips.fps, photo, wav_path, lips.wav, lips.gap[:n], speech_frames(level[:n], lips.fps))


def record_live(clip: Clip, sink: str, record: Path, extra: list[str]) -> dict:
    """`talkinghead live --no-window --record` while the clip, padded with silence, plays
    into the virtual microphone (a null sink's monitor delivers audio only while something
    plays, so the silence is played too); what the session reported at its end."""
    import soundfile as sf

    from audio2au.features import SAMPLE_RATE

    pad = lambda s: np.zeros(round(s * SAMPLE_RATE), np.float32)
    played = record.with_name("played.wav")
    sf.write(played, np.concatenate([pad(LEAD_S), clip.wav, pad(TAIL_S)]), SAMPLE_RATE)
    seconds = LEAD_S + len(clip.wav) / SAMPLE_RATE + TAIL_S + START_S
    cmd = [sys.executable, "-m", "talkinghead.cli", "live", "--photo", str(clip.photo), "--no-window"]
    cmd += ["--record", str(record), "--duration", f"{seconds:.2f}", "--fps", f"{clip.fps:g}", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors = []
    for line in proc.stderr:  # models load, then the microphone opens
        errors.append(line.strip())
        if "listening to" in line:
            break
    else:
        proc.wait()
        fail(f"talkinghead live failed: {errors[-1] if errors else proc.returncode}")
    subprocess.run(["paplay", "-d", sink, str(played)], check=True, timeout=60 + seconds)
    out, err = proc.communicate(timeout=120 + seconds)
    if proc.returncode != 0 or not record.is_file():
        fail(f"talkinghead live failed: {last_line(err, f'exit {proc.returncode}')}")
    m, lat = SUMMARY.search(out), LATENCY.search(out)
    if m is None:
        fail(f"no summary line from talkinghead live: {out.strip()!r}")
    return {
        "frames_shown": int(m[1]),
        "fps_shown": float(m[3]),
        "dropped": int(m[4]),
        "latency_ms": int(lat[1]) if lat else None,
    }


def render_offline(clip: Clip, video: Path, extra: list[str]) -> None:
    """`talkinghead render` of the same photo and wav at the clip's frame rate."""
    cmd = [sys.executable, "-m", "talkinghead.cli", "render", "--photo", str(clip.photo)]
    cmd += ["--audio", str(clip.wav_path), "-o", str(video), "--fps", f"{clip.fps:g}", "--quiet", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"talkinghead render failed: {last_line(proc.stderr, f'exit {proc.returncode}')}")


def speech_offset(recording: Path, wav: np.ndarray) -> tuple[float, float]:
    """Where the clip's audio starts in the recording's audio track (seconds), and the
    normalised correlation there (~1: the microphone delivered the clip intact)."""
    from scipy.signal import correlate

    from audio2au import load_audio
    from audio2au.features import SAMPLE_RATE

    heard = load_audio(recording)
    xc = correlate(heard, wav, mode="full", method="fft")
    start = int(np.argmax(xc)) - (len(wav) - 1)  # < 0: the recording begins inside the clip
    part = window(heard, start, len(wav))
    ok = np.isfinite(part)
    match = float(xc[start + len(wav) - 1] / max(np.linalg.norm(part[ok]) * np.linalg.norm(wav[ok]), 1e-9))
    return start / SAMPLE_RATE, match


def window(series: np.ndarray, start: int, n: int) -> np.ndarray:
    """series[start : start + n], NaN where that reaches outside the series."""
    out = np.full(n, np.nan)
    lo, hi = max(start, 0), min(start + n, len(series))
    if hi > lo:
        out[lo - start : hi - start] = series[lo:hi]
    return out


def scored(series: np.ndarray, start: int, clip: Clip) -> dict:
    """lips.score of the frames that show the clip (from `start`), plus r at each lag: the
    best lag > 0 when the mouth comes late."""
    from talkinghead.evaluation.lips import pearson, score

    n = len(clip.real)
    row = score(window(series, start, n), clip.real, clip.speech, gap_units=True)
    rs = {lag: pearson(window(series, start + lag, n), clip.real) for lag in LAGS}
    best = max(rs, key=lambda k: -np.inf if np.isnan(rs[k]) else rs[k])
    return {**row, "best_lag": best, "r_best_lag": rs[best], "r_by_lag": rs}


def measure(clip: Clip, session: dict, record: Path, extra: list[str]) -> dict:
    """One clip live (its recording cut at the speech found in its audio) and offline."""
    from talkinghead.evaluation.lips import video_lip_gap

    render = record.with_name("render.mp4")
    offset_s, match = speech_offset(record, clip.wav)
    start = round(offset_s * clip.fps)
    render_offline(clip, render, extra)
    live = scored(video_lip_gap(record), start, clip)
    return {
        "clip": clip.name,
        "fps": clip.fps,
        "frames": len(clip.real),
        "audio_offset_s": round(offset_s, 4),
        "audio_match": round(match, 3),
        "live": {**live, **session},
        "render": scored(video_lip_gap(render), 0, clip),
    }


def means(rows: list[dict]) -> dict:
    keys = ("r", "r_speech", "amplitude", "closure_recall", "best_lag", "r_best_lag", "fps_shown", "dropped")
    return {
        mode: {k: float(np.nanmean([r[mode][k] for r in rows if k in r[mode]])) for k in keys if k in rows[0][mode]}
        for mode in ("live", "render")
    }


def print_table(rows: list[dict], avg: dict) -> None:
    print(f"{'clip':34} {'mode':6} {'r':>6} {'r_sp':>6} {'amp':>5} {'clos':>5}", end=" ")
    print(f"{'lag':>4} {'r@lag':>6} {'fps':>5} {'drop':>5}")

    def line(name: str, mode: str, s: dict) -> None:
        fps = f"{s['fps_shown']:5.1f}" if "fps_shown" in s else "    -"
        drop = f"{s['dropped']:5.0f}" if "dropped" in s else "    -"
        print(
            f"{name:34} {mode:6} {s['r']:6.3f} {s['r_speech']:6.3f} {s['amplitude']:5.2f} {s['closure_recall']:5.2f} "
            f"{s['best_lag']:4.0f} {s['r_best_lag']:6.3f} {fps} {drop}"
        )

    for row in rows:
        line(row["clip"], "live", row["live"])
        line("", "render", row["render"])
        lat = row["live"]["latency_ms"]
        print(
            f"{'':34} clip at {row['fps']:g} fps, speech found {row['audio_offset_s']:.3f} s into the recording "
            f"(audio match {row['audio_match']:.3f}); {row['live']['frames_shown']} frames shown, latency {lat} ms"
        )
    for mode in ("live", "render"):
        line(f"mean of {len(rows)} clips", mode, avg[mode])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from talkinghead.data_root import DEFAULT_DATA_ROOT

    default_data = os.environ.get("TALKINGHEAD_DATA") or str(REPO / DEFAULT_DATA_ROOT)
    p.add_argument("--speakers", nargs="+", default=list(DEFAULT_SPEAKERS), help="speaker or clip names (globs)")
    p.add_argument("--data", type=Path, default=Path(default_data), help="shared data (default ../shared/data)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers as JSON")
    p.add_argument("--keep", type=Path, metavar="DIR", help="keep photos, wavs, recordings and renders here")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="after --: options for both live and render")
    args = p.parse_args()
    extra = [a for a in args.extra if a != "--"]

    need_pulseaudio()
    from talkinghead.errors import UserError
    from talkinghead.evaluation.lips import held_out_clips

    try:
        tasks = held_out_clips(args.data, args.speakers)
    except UserError as e:
        fail(str(e))
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        clips = [prepare_clip(task, work) for task in tasks]
        sessions = []
        with virtual_mic() as sink:
            for clip in clips:  # real time: at normal priority, one after the other
                print(f"live: {clip.name} ...", file=sys.stderr, flush=True)
                sessions.append(record_live(clip, sink, work / clip.name / "live.mp4", extra))
        os.nice(10)  # the rest (renders, face meshes) is not real time
        rows = [measure(c, s, work / c.name / "live.mp4", extra) for c, s in zip(clips, sessions)]
    avg = means(rows)
    print_table(rows, avg)
    if args.json:
        args.json.write_text(json.dumps({"clips": rows, "means": avg}, indent=2))


if __name__ == "__main__":
    main()
