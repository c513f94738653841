"""A small generated dataset in the prepared format (docs/dataset-format.md).

Cartoon faces whose mouth, eyes, smile and brows follow the AU coefficients, and clips
whose audio loudness follows jawOpen, so every trainer has something learnable to run on
without the real data (CI smoke runs, unit tests, the quick start).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from actionunits import AU_NAMES, AUSeries
from actionunits.prepared import ClipRecord, DatasetInfo, clip_dir, frame_path, write_clips, write_info, write_source

SAMPLE_RATE = 16000


def draw_face(identity: np.random.Generator | int, aus: dict[str, float], size: int = 100) -> np.ndarray:
    """An RGB uint8 cartoon face of a given identity (seed) showing the given AUs."""
    rng = np.random.default_rng(identity) if isinstance(identity, (int, np.integer)) else identity
    bg = rng.integers(40, 215, 3)
    skin = np.array([rng.integers(120, 240), rng.integers(90, 200), rng.integers(70, 170)])
    hair = rng.integers(0, 120, 3)
    ax = (rng.uniform(0.30, 0.36), rng.uniform(0.38, 0.44))
    eye_dx = rng.uniform(0.12, 0.16)
    s = size
    img = np.empty((s, s, 3), np.uint8)
    img[:] = bg
    c = (s // 2, int(s * 0.52))
    cv2.ellipse(img, c, (int(ax[0] * s), int(ax[1] * s)), 0, 0, 360, skin.tolist(), -1, cv2.LINE_AA)
    cv2.ellipse(
        img,
        (c[0], int(c[1] - ax[1] * s * 0.75)),
        (int(ax[0] * s), int(ax[1] * s * 0.35)),
        0,
        180,
        360,
        hair.tolist(),
        -1,
        cv2.LINE_AA,
    )
    a = lambda n: float(np.clip(aus.get(n, 0.0), 0.0, 1.0))  # noqa: E731
    eye_y = int(s * 0.45)
    brow_lift = a("browInnerUp") * 0.05 * s
    for side, sign in (("Left", -1), ("Right", 1)):
        ex = int(c[0] + sign * eye_dx * s)
        h = max(1, int(s * 0.045 * (1 - a(f"eyeBlink{side}"))))
        cv2.ellipse(img, (ex, eye_y), (int(s * 0.055), h), 0, 0, 360, (250, 250, 250), -1, cv2.LINE_AA)
        if h > 2:
            cv2.circle(img, (ex, eye_y), max(1, min(h, int(s * 0.025))), (40, 30, 20), -1, cv2.LINE_AA)
        by = int(eye_y - s * 0.08 - brow_lift)
        cv2.line(img, (ex - int(s * 0.06), by), (ex + int(s * 0.06), by), hair.tolist(), max(1, s // 40), cv2.LINE_AA)
    mouth_y = int(s * 0.70)
    half_w = int(s * (0.10 + 0.03 * (a("mouthSmileLeft") + a("mouthSmileRight")) / 2))
    open_h = int(s * 0.12 * a("jawOpen"))
    lift_l, lift_r = (int(s * 0.05 * a(f"mouthSmile{x}")) for x in ("Left", "Right"))
    pts_top = np.array([[c[0] - half_w, mouth_y - lift_l], [c[0], mouth_y - 1], [c[0] + half_w, mouth_y - lift_r]])
    pts_bot = np.array(
        [[c[0] + half_w, mouth_y - lift_r], [c[0], mouth_y + open_h + 1], [c[0] - half_w, mouth_y - lift_l]]
    )
    cv2.fillPoly(img, [np.concatenate([pts_top, pts_bot]).astype(np.int32)], (90, 20, 30), cv2.LINE_AA)
    cv2.polylines(
        img, [np.concatenate([pts_top, pts_bot]).astype(np.int32)], True, (150, 60, 70), max(1, s // 50), cv2.LINE_AA
    )
    noise = rng.normal(0, 3, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def _smooth_noise(rng: np.random.Generator, n: int, cutoff_frames: float) -> np.ndarray:
    x = rng.normal(size=n + 64)
    k = np.exp(-0.5 * (np.arange(-32, 33) / cutoff_frames) ** 2)
    y = np.convolve(x, k / k.sum(), mode="same")[32 : 32 + n]
    return (y - y.min()) / (np.ptp(y) + 1e-8)


def synth_au_series(rng: np.random.Generator, n_frames: int, fps: float) -> np.ndarray:
    """A plausible-looking AU series: syllable-rate jaw, slow smiles, occasional blinks."""
    aus = np.zeros((n_frames, len(AU_NAMES)), np.float32)
    idx = {n: i for i, n in enumerate(AU_NAMES)}
    t = np.arange(n_frames) / fps
    syllables = np.clip(np.sin(2 * math.pi * rng.uniform(3, 5) * t + rng.uniform(0, 6)), 0, None)
    speaking = _smooth_noise(rng, n_frames, fps * 0.3) > 0.35
    aus[:, idx["jawOpen"]] = syllables * speaking * rng.uniform(0.5, 1.0)
    smile = _smooth_noise(rng, n_frames, fps * 0.8) * rng.uniform(0.2, 1.0)
    aus[:, idx["mouthSmileLeft"]] = smile
    aus[:, idx["mouthSmileRight"]] = np.clip(smile + rng.normal(0, 0.05, n_frames), 0, 1)
    aus[:, idx["browInnerUp"]] = _smooth_noise(rng, n_frames, fps * 0.6) * rng.uniform(0.0, 0.8)
    for start in rng.choice(n_frames, size=max(1, int(n_frames / fps / 3)), replace=False):
        blink = np.exp(-0.5 * ((np.arange(n_frames) - start) / 1.2) ** 2)
        aus[:, idx["eyeBlinkLeft"]] = np.maximum(aus[:, idx["eyeBlinkLeft"]], blink)
        aus[:, idx["eyeBlinkRight"]] = np.maximum(aus[:, idx["eyeBlinkRight"]], blink)
    return np.clip(aus, 0, 1)


def synth_audio(rng: np.random.Generator, jaw: np.ndarray, fps: float, f0: float) -> np.ndarray:
    """A voiced buzz plus noise whose loudness follows the jaw opening."""
    n = int(round(len(jaw) / fps * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    env = np.interp(t, np.arange(len(jaw)) / fps, jaw)
    f = f0 * (1 + 0.05 * np.sin(2 * math.pi * 0.7 * t))
    phase = 2 * math.pi * np.cumsum(f) / SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    wav = 0.25 * env * voice + 0.01 * rng.normal(size=n)
    return wav.astype(np.float32)


def make_synthetic_dataset(
    root: str | Path,
    *,
    crop_size: int = 100,
    n_identities: int = 40,
    images_per_identity: int = 6,
    n_speakers: int = 8,
    clips_per_speaker: int = 2,
    clip_seconds: float = 4.0,
    fps: float = 25.0,
    seed: int = 0,
) -> Path:
    """Write a generated dataset in the prepared format to `root` and return it."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    records = []
    for ident in range(n_identities):
        for k in range(images_per_identity):
            aus = dict(zip(AU_NAMES, synth_au_series(rng, 1, fps)[0] * rng.uniform(0, 1)))
            img = draw_face(seed * 1000 + ident, aus, crop_size)
            rel = f"images/id{ident:03d}/{k:02d}.png"
            (root / "source" / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "source" / rel), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            records.append((rel, f"id{ident:03d}"))
    write_source(root, records)
    clips = []
    n_frames = int(clip_seconds * fps)
    for spk in range(n_speakers):
        f0 = rng.uniform(100, 240)
        for k in range(clips_per_speaker):
            name = f"spk{spk:02d}_{k:02d}"
            series = synth_au_series(rng, n_frames, fps)
            d = clip_dir(root, name)
            (d / "frames").mkdir(parents=True, exist_ok=True)
            for i, row in enumerate(series):
                img = draw_face(seed * 1000 + 500 + spk, dict(zip(AU_NAMES, row)), crop_size)
                cv2.imwrite(
                    str(frame_path(root, name, i)), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
                )
            AUSeries(series, fps, AU_NAMES, np.ones(n_frames, bool)).write_csv(d / "aus.csv")
            sf.write(d / "audio.wav", synth_audio(rng, series[:, 0], fps, f0), SAMPLE_RATE, subtype="PCM_16")
            clips.append(ClipRecord(name, f"spk{spk:02d}", fps, n_frames, "audio.wav"))
    write_clips(root, clips)
    write_info(root, DatasetInfo(crop_size, AU_NAMES))
    return root


def ensure_synthetic_dataset(root: str | Path, crop_size: int = 100) -> Path:
    """Generate the dataset once; later calls reuse it (dataset.json is written last)."""
    root = Path(root)
    if not (root / "dataset.json").is_file():
        make_synthetic_dataset(root, crop_size=crop_size)
    return root
