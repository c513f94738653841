"""How well audio2au predicts the tracker's mouth coefficients on held-out speakers, next to
two baselines: the training mean, and a linear map from the loudness envelope alone (a
model that only learned "loud = open" should not win).

    python -m audio2au.evaluate CHECKPOINT --data PREPARED_ROOT [--speakers S1 S2 ...]
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from audio2au.checkpoint import load_audio2au
from audio2au.data import Clip, load_clips
from audio2au.frame_measures import frame_rms_db
from audio2au.model import Audio2AU
from audio2au.predict import predict_aus

MOUTH_PREFIXES = ("jaw", "mouth")
LOUDNESS_OFFSETS_MS = (-80, -40, -20, 0, 20, 40, 80)


def mouth_names(names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n.startswith(MOUTH_PREFIXES)]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two series; nan when either is constant (e.g. the mean baseline)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    a, b = a - a.mean(dtype=np.float64), b - b.mean(dtype=np.float64)
    return float((a * b).sum() / math.sqrt(float((a * a).sum() * (b * b).sum())))


def loudness_envelope(waveform: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """(frames, offsets) log RMS in dB of 25 ms windows around each frame's time."""
    return frame_rms_db(waveform, fps, n_frames, window_ms=25.0, offsets_ms=LOUDNESS_OFFSETS_MS)


class LoudnessBaseline:
    """Least-squares (lightly ridged) linear map from the loudness envelope to each AU."""

    def __init__(self, clips: list[Clip]) -> None:
        x = np.concatenate([self._design(c.waveform, c.fps, len(c.aus))[c.valid] for c in clips])
        y = np.concatenate([c.aus[c.valid] for c in clips])
        reg = 1e-3 * len(x) * np.eye(x.shape[1])
        reg[-1, -1] = 0.0  # do not shrink the intercept
        self.weights = np.linalg.solve(x.T @ x + reg, x.T @ y)

    @staticmethod
    def _design(waveform: np.ndarray, fps: float, n: int) -> np.ndarray:
        env = loudness_envelope(waveform, fps, n)
        return np.concatenate([env, np.ones((n, 1), np.float32)], axis=1)

    def predict(self, waveform: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
        return np.clip(self._design(waveform, fps, n_frames) @ self.weights, 0.0, 1.0).astype(np.float32)


def evaluate(model: Audio2AU, clips: list[Clip], train_clips: list[Clip]) -> dict[str, dict[str, np.ndarray]]:
    """Per-AU {"rmse", "r", "r_clip"} for "model", "mean" and "loudness" over the valid
    frames of `clips`, baselines fitted on `train_clips`; AUs in the model's order. "r" pools
    all frames; "r_clip" averages each clip's own r (timing within an utterance, blind to
    per-speaker offsets)."""
    mean = np.concatenate([c.aus[c.valid] for c in train_clips]).mean(0)
    loud = LoudnessBaseline(train_clips)
    preds: dict[str, list[np.ndarray]] = {"model": [], "mean": [], "loudness": []}
    targets = []
    for c in clips:
        n = len(c.aus)
        preds["model"].append(predict_aus(model, c.waveform, c.fps, n)[c.valid])
        preds["mean"].append(np.broadcast_to(mean, (n, len(mean)))[c.valid])
        preds["loudness"].append(loud.predict(c.waveform, c.fps, n)[c.valid])
        targets.append(c.aus[c.valid])
    y = np.concatenate(targets)
    out = {}
    for k, ps in preds.items():
        p = np.concatenate(ps)
        per_clip = np.array([[pearson(pc[:, j], yc[:, j]) for j in range(y.shape[1])] for pc, yc in zip(ps, targets)])
        out[k] = {
            "rmse": np.sqrt(((p - y) ** 2).mean(0)),
            "r": np.array([pearson(p[:, j], y[:, j]) for j in range(y.shape[1])]),
            "r_clip": np.array([mean_ignoring_nan(per_clip[:, j]) for j in range(y.shape[1])]),
        }
    return out


def mean_ignoring_nan(values: np.ndarray) -> float:
    """Mean of the defined values (nan when none: e.g. correlations of a constant)."""
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def format_table(results: dict[str, dict[str, np.ndarray]], names: tuple[str, ...]) -> str:
    """Mouth AUs: RMSE of model/mean/loudness, Pearson r (pooled, and per clip) of
    model/loudness, plus means."""
    mouth = mouth_names(names)
    head = (
        f"{'AU':<22}{'RMSE model':>11}{'mean':>8}{'loud':>8}{'r model':>10}{'loud':>8}{'r/clip model':>14}{'loud':>8}"
    )
    cols = (
        ("model", "rmse"),
        ("mean", "rmse"),
        ("loudness", "rmse"),
        ("model", "r"),
        ("loudness", "r"),
        ("model", "r_clip"),
        ("loudness", "r_clip"),
    )
    lines = [head, "-" * len(head)]

    def row(label: str, idx: list[int]) -> str:
        v = [mean_ignoring_nan(results[k][m][idx]) for k, m in cols]
        return f"{label:<22}{v[0]:>11.4f}{v[1]:>8.4f}{v[2]:>8.4f}{v[3]:>10.3f}{v[4]:>8.3f}{v[5]:>14.3f}{v[6]:>8.3f}"

    for n in mouth:
        lines.append(row(n, [names.index(n)]))
    lines.append("-" * len(head))
    lines.append(row("mouth mean", [names.index(n) for n in mouth]))
    lines.append(row("all AUs mean", list(range(len(names)))))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m audio2au.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="audio2au checkpoint or fp16 export")
    p.add_argument("--data", required=True, help="prepared dataset root (talkinghead prepare)")
    p.add_argument("--speakers", nargs="*", help="held-out speakers (default: the checkpoint's validation speakers)")
    p.add_argument("--exclude", nargs="*", default=[], help="clip or speaker name globs to leave out")
    args = p.parse_args(argv)
    try:
        model = load_audio2au(args.checkpoint)
        clips, names = load_clips(args.data, args.exclude)
        model.check_au_names(names, f"the dataset {args.data}")
        held = set(args.speakers or model.meta.get("info", {}).get("val_speakers", []))
        if not held:
            raise ValueError("no held-out speakers: pass --speakers")
        test = [c for c in clips if c.speaker in held]
        train = [c for c in clips if c.speaker not in held]
        if not test:
            raise ValueError(f"no clips of speakers {sorted(held)} in {args.data}")
        results = evaluate(model, test, train)
    except (FileNotFoundError, ValueError) as e:
        print(f"audio2au.evaluate: error: {e}", file=sys.stderr)
        return 2
    n_frames = sum(int(c.valid.sum()) for c in test)
    print(f"held-out speakers: {len(held)}, clips: {len(test)}, valid frames: {n_frames}")
    print(format_table(results, model.au_names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
