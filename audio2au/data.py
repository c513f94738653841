"""(audio, AU series) pairs from a prepared dataset, split by speaker, as feature banks
that training samples fixed-length sequences from."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from actionunits import AUSeries
from actionunits.atomic import atomic_output
from actionunits.prepared import clip_dir, matches_any, read_clips, read_info
from audio2au.features import SAMPLE_RATE, FeatureConfig, compute_features, frame_count, resample
from audio2au.frame_measures import frame_rms_db, lip_gap, speech_frames

NO_SPEECH_RMS = 10 ** (-50 / 20)
LANDMARKS_FILE = "landmarks.npy"  # (frames, 478, 3) face-mesh points in the video's pixels, NaN: no face


@dataclass
class Clip:
    name: str
    speaker: str
    fps: float
    waveform: np.ndarray  # 16 kHz mono float32
    aus: np.ndarray  # (frames, AUs) float32 in [0, 1]
    valid: np.ndarray  # (frames,) bool: tracked (True) or interpolated
    gap: np.ndarray | None = (
        None  # (frames,) measured inner-lip gap (frame_measures.lip_gap), NaN: no face; None: no landmarks
    )


def read_lip_gap(clip_folder: Path, n_frames: int) -> np.ndarray | None:
    """The clip's measured inner-lip gap per frame from its landmarks.npy (None when the
    clip has none, or one of another length)."""
    path = clip_folder / LANDMARKS_FILE
    if not path.is_file():
        return None
    landmarks = np.load(path, mmap_mode="r")
    if len(landmarks) != n_frames:
        return None
    return lip_gap(landmarks).astype(np.float32)


def load_clips(
    root: str | os.PathLike, exclude: list[str] | tuple[str, ...] = ()
) -> tuple[list[Clip], tuple[str, ...]]:
    """Every clip with speech in a prepared dataset, in the dataset's AU order, with its
    measured lip gap where the dataset has landmarks. Clips without audio, with near-silent
    audio (RMS below -50 dBFS: silent footage with an empty track), or whose clip or speaker
    name matches an `exclude` glob are skipped."""
    names = read_info(root).au_names
    clips = []
    for rec in read_clips(root):
        if not rec.audio or matches_any(exclude, rec.clip, rec.speaker):
            continue
        d = clip_dir(root, rec.clip)
        series = AUSeries.read_csv(d / "aus.csv", fps=rec.fps).reorder(names)
        try:
            wav, sr = sf.read(d / rec.audio, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as e:
            raise ValueError(f"clip {rec.clip}: cannot read {rec.audio} ({str(e).splitlines()[0]})") from None
        if len(wav) == 0 or float(np.sqrt(np.mean(wav**2))) < NO_SPEECH_RMS:
            continue
        valid = series.valid if series.valid is not None else np.ones(len(series), bool)
        clips.append(
            Clip(
                rec.clip,
                rec.speaker,
                rec.fps,
                resample(wav.mean(axis=1), sr),
                series.values,
                valid,
                read_lip_gap(d, len(series)),
            )
        )
    if not clips:
        raise ValueError(f"{root}: no target clips with audio (run `talkinghead prepare` on videos with speech)")
    return clips, names


def split_by_speaker(
    clips: list[Clip], val_speakers: list[str] | None = None, val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[Clip], list[Clip]]:
    """(train, validation) with no speaker in both: the given speakers, else a seeded
    random `val_fraction` of them (at least one)."""
    speakers = sorted({c.speaker for c in clips})
    if val_speakers:
        unknown = sorted(set(val_speakers) - set(speakers))
        if unknown:
            raise ValueError(f"validation speakers not in the dataset: {unknown}")
        held = set(val_speakers)
    else:
        if len(speakers) < 2:
            raise ValueError(f"need clips from at least 2 speakers to validate on unseen ones, found {speakers}")
        rng = np.random.default_rng(seed)
        held = set(rng.choice(speakers, size=max(1, round(val_fraction * len(speakers))), replace=False).tolist())
    train = [c for c in clips if c.speaker not in held]
    if not train:
        raise ValueError("every speaker is held out for validation; nothing left to train on")
    return train, [c for c in clips if c.speaker in held]


def speed_perturb(clip: Clip, factor: float) -> Clip:
    """The clip played `factor` times faster (pitch and formants up by `factor` too, a
    cheap vocal-tract/tempo perturbation); AU targets are time-scaled to match."""
    wav = resample(clip.waveform, int(round(SAMPLE_RATE * factor)))
    n = frame_count(len(wav), clip.fps)
    src = np.minimum(np.arange(n) * factor, len(clip.aus) - 1)
    aus = np.stack([np.interp(src, np.arange(len(clip.aus)), a) for a in clip.aus.T], axis=1).astype(np.float32)
    valid = clip.valid[np.rint(src).astype(int)]
    gap = None if clip.gap is None else np.interp(src, np.arange(len(clip.gap)), clip.gap).astype(np.float32)
    return Clip(f"{clip.name}@x{factor:g}", clip.speaker, clip.fps, wav, aus, valid, gap)


def degraded(clip: Clip, codec: str, cache: Path | None = None) -> Clip:
    """The clip with its audio through one of audio2au.degrade's CODECS (same frames and
    targets: the damage keeps the timing). `cache`: a folder that keeps each result (16-bit)
    for the next run, since encoding every clip takes minutes."""
    from audio2au.degrade import CODECS

    name = f"{clip.name}@{codec}"
    path = None if cache is None else Path(cache) / f"{name.replace('/', '_').replace('+', '_')}.flac"
    if path is not None and path.is_file():
        waveform = sf.read(path, dtype="float32")[0]
    else:
        waveform = CODECS[codec](clip.waveform)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(path) as tmp:
                sf.write(tmp, np.clip(waveform, -1, 1), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return replace(clip, name=name, waveform=waveform)


def rest_relative(aus: np.ndarray, columns: list[int], percentile: float) -> np.ndarray:
    """The AUs in `columns` minus their `percentile`-th value in the clip (the face at rest:
    the most closed the mouth gets), clipped to [0, 1]: the renderer adds speech AUs to the
    photo's own rest, so a label that reads a closed mouth as jawOpen 0.15 must become 0."""
    out = aus.copy()
    if columns and len(aus):
        out[:, columns] = np.clip(aus[:, columns] - np.percentile(aus[:, columns], percentile, axis=0), 0.0, 1.0)
    return out


def silent_frames(waveform: np.ndarray, fps: float, n_frames: int, before: int, after: int) -> np.ndarray:
    """(frames,) bool: not within `before` frames before a speech frame or `after` frames
    after one (the lips part before the voice starts, often for an in-breath, and close a
    little after it stops)."""
    speech = speech_frames(frame_rms_db(waveform, fps, n_frames)[:, 0], fps)
    near = speech.copy()
    for k in range(1, before + 1):
        near[:-k] |= speech[k:]
    for k in range(1, after + 1):
        near[k:] |= speech[:-k]
    return ~near


def speech_targets(
    clip: Clip,
    names: tuple[str, ...],
    rest_aus: list[str] | tuple[str, ...] = (),
    rest_percentile: float = 5.0,
    silence_aus: list[str] | tuple[str, ...] = (),
    hangover: tuple[int, int] = (2, 2),
) -> Clip:
    """The clip with the targets the renderer wants: `rest_aus` relative to the clip's rest,
    and `silence_aus` at 0 in silence (people often pause with parted lips, but a rendered
    face that hangs open whenever the voice stops looks wrong); `hangover`: frames (before,
    after) speech that still count as speech."""
    unknown = sorted((set(rest_aus) | set(silence_aus)) - set(names))
    if unknown:
        raise ValueError(f"target AUs not in the dataset: {unknown}")
    aus = rest_relative(clip.aus, [names.index(n) for n in rest_aus], rest_percentile)
    if silence_aus:
        quiet = silent_frames(clip.waveform, clip.fps, len(aus), *hangover)
        aus[np.ix_(quiet, [names.index(n) for n in silence_aus])] = 0.0
    return replace(clip, aus=aus)


def silence_weights(clip: Clip, weight: float, hangover: tuple[int, int] = (2, 2)) -> np.ndarray:
    """(frames,) loss weight `weight` on silent frames, 1 elsewhere: silence is a small share
    of the frames, and a mouth left ajar there is what a viewer notices first."""
    if weight == 1.0:
        return np.ones(len(clip.aus), np.float32)
    quiet = silent_frames(clip.waveform, clip.fps, len(clip.aus), *hangover)
    return np.where(quiet, weight, 1.0).astype(np.float32)


def gap_weights(clip: Clip, weight: float) -> np.ndarray:
    """(frames,) loss weight 1 + weight * how open the measured lips are (0 at the clip's 5th
    percentile of the gap, 1 at its 95th; 1 where it is unknown): the wide-open frames are
    few, and a model that is rewarded equally everywhere learns to keep the mouth half shut."""
    n = len(clip.aus)
    if not weight or clip.gap is None or not np.isfinite(clip.gap).any():
        return np.ones(n, np.float32)
    lo, hi = np.nanpercentile(clip.gap, (5, 95))
    openness = np.clip(np.nan_to_num((clip.gap - lo) / max(hi - lo, 1e-6), nan=0.0), 0.0, 1.0)
    return (1.0 + weight * openness).astype(np.float32)


def speech_gap(clip: Clip, hangover: tuple[int, int] = (2, 2)) -> np.ndarray | None:
    """The clip's measured lip gap with its silent frames (silent_frames) set to NaN: what
    the gap correlation loss follows, so that a mouth parted in a pause does not fight the
    closed-in-silence targets."""
    if clip.gap is None:
        return None
    return np.where(silent_frames(clip.waveform, clip.fps, len(clip.aus), *hangover), np.nan, clip.gap)


class FeatureBank:
    """Features of whole clips computed once; `sample` cuts random aligned sequences.

    Input sequences are `lookahead` frames longer than their targets (the frames after a
    clip's end see silence, as at inference). Frame weights are the clip's `valid` mask
    (tracked frames) times the optional `frame_weights`; `gaps` replace the clips' measured
    lip gaps in the samples."""

    def __init__(
        self,
        clips: list[Clip],
        cfg: FeatureConfig,
        lookahead: int = 0,
        speaker_balance: float = 0.0,
        frame_weights: list[np.ndarray] | None = None,
        gaps: list[np.ndarray | None] | None = None,
    ) -> None:
        self.clips, self.lookahead = clips, lookahead
        self.feats = [compute_features(c.waveform, c.fps, len(c.aus) + lookahead, cfg).half() for c in clips]
        self.targets = [torch.from_numpy(c.aus) for c in clips]
        self.valid = [torch.from_numpy(c.valid) for c in clips]
        extra = frame_weights or [np.ones(len(c.aus), np.float32) for c in clips]
        self.weights = [v.float() * torch.from_numpy(np.asarray(e, np.float32)) for v, e in zip(self.valid, extra)]
        self.gaps = [
            torch.from_numpy(np.asarray(g, np.float32)) if g is not None else torch.full((len(c.aus),), float("nan"))
            for c, g in zip(clips, gaps or [c.gap for c in clips])
        ]
        self.silence = compute_features(np.zeros(1, np.float32), 25.0, 1, cfg)[0]  # the same at any position
        # sample clips by length, times speaker_total ** -balance: 0 = every frame alike,
        # 1 = every speaker alike (one speaker with most of the data must not drown the rest)
        totals: dict[str, int] = {}
        for c in clips:
            totals[c.speaker] = totals.get(c.speaker, 0) + len(c.aus)
        w = torch.tensor([len(c.aus) * totals[c.speaker] ** -speaker_balance for c in clips], dtype=torch.float64)
        self._weights = w / w.sum()

    def stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-feature mean and std over every frame and window position."""
        x = torch.cat([f.reshape(-1, f.shape[-1]).double() for f in self.feats])
        return x.mean(0).float(), x.std(0).float()

    def sample(
        self, batch_size: int, seq_len: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(features (B, seq_len + lookahead, window, dim), targets (B, seq_len, AUs),
        frame weights (B, seq_len), measured lip gaps (B, seq_len), NaN where unknown);
        clips shorter than seq_len are padded with silence and weight 0."""
        idx = torch.multinomial(self._weights, batch_size, replacement=True, generator=generator)
        xs, ys, ws, gs = [], [], [], []
        for i in idx.tolist():
            n = len(self.targets[i])
            s = int(torch.randint(0, max(1, n - seq_len + 1), (1,), generator=generator))
            t = min(seq_len, n - s)
            x = self.silence.repeat(seq_len + self.lookahead, 1, 1)
            x[: t + self.lookahead] = self.feats[i][s : s + t + self.lookahead].float()
            y = torch.zeros(seq_len, self.targets[i].shape[1])
            y[:t] = self.targets[i][s : s + t]
            w = torch.zeros(seq_len)
            w[:t] = self.weights[i][s : s + t]
            g = torch.full((seq_len,), float("nan"))
            g[:t] = self.gaps[i][s : s + t]
            xs.append(x), ys.append(y), ws.append(w), gs.append(g)
        return torch.stack(xs), torch.stack(ys), torch.stack(ws), torch.stack(gs)
