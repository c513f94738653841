"""Lip sync against the real mouth: how well audio2au's mouth follows the inner-lip gap
measured in held-out speakers' videos (frame_measures.lip_gap), per speaker, over whole clips and
within speech, next to predictors that need no model (the loudness envelope; the loudness
gated by voice activity) and the tracker's own labels (what the model is trained to
imitate: its ceiling). The tracker's labels are not the truth: this is the check that does
not trust them. Also the mean predicted lip-opening AUs in silence and in speech: the
renderer adds them to the photo's rest, so in silence they must be near 0.

    python -m audio2au.lipsync CHECKPOINT --data PREPARED_ROOT [--speakers GLOB ...] [--audio WAV ...]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from actionunits.prepared import matches_any
from audio2au.checkpoint import load_audio2au
from audio2au.data import Clip, load_clips
from audio2au.evaluate import mean_ignoring_nan, pearson
from audio2au.features import load_audio
from audio2au.frame_measures import LIP_OPENING_AUS, au_lip_gap, frame_rms_db, gated_loudness, speech_frames
from audio2au.model import Audio2AU
from audio2au.predict import predict_aus

PREDICTORS = ("model jawOpen", "model lip gap", "loudness", "gated loudness", "tracker jawOpen", "tracker lip gap")
_SHORT = {
    "model jawOpen": "jaw",
    "model lip gap": "gap",
    "loudness": "loud",
    "gated loudness": "gated",
    "tracker jawOpen": "t.jaw",
    "tracker lip gap": "t.gap",
}


@dataclass
class SpeakerSync:
    """One speaker's scores. r_*: Pearson r of each predictor with the measured lip gap over
    the frames with a face; lips_*/jaw_*: mean predicted lip-opening AUs / jawOpen."""

    speaker: str
    frames: int
    speech_frames: int
    r_all: dict[str, float]
    r_speech: dict[str, float]
    lips_silence: float
    lips_speech: float
    jaw_silence: float
    jaw_speech: float


def clip_series(
    pred: np.ndarray, tracker: np.ndarray | None, names: tuple[str, ...], waveform: np.ndarray, fps: float
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The per-frame series of one clip that are compared with its lip gap (PREDICTORS; the
    tracker's only when its labels are given), and its speech mask. Loudness is in dB
    relative to the clip's loud frames, so clips recorded at other gains pool fairly."""
    level = frame_rms_db(waveform, fps, len(pred))[:, 0]
    speech = speech_frames(level, fps)
    jaw = names.index("jawOpen")
    series = {
        "model jawOpen": pred[:, jaw],
        "model lip gap": au_lip_gap(pred, names),
        "loudness": level - np.percentile(level, 95),
        "gated loudness": gated_loudness(level),
    }
    if tracker is not None:
        series |= {"tracker jawOpen": tracker[:, jaw], "tracker lip gap": au_lip_gap(tracker, names)}
    return series, speech


def lip_levels(pred: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(frames,) mean of the predicted lip-opening AUs, and jawOpen."""
    lips = [names.index(n) for n in LIP_OPENING_AUS if n in names]
    return pred[:, lips].mean(1), pred[:, names.index("jawOpen")]


def speaker_sync(
    speaker: str,
    gaps: list[np.ndarray],
    speech: list[np.ndarray],
    series: list[dict[str, np.ndarray]],
    lips: list[np.ndarray],
    jaw: list[np.ndarray],
) -> SpeakerSync:
    """Scores of one speaker from per-clip arrays (clips pooled)."""
    gap, sp = np.concatenate(gaps), np.concatenate(speech)
    face = np.isfinite(gap)
    pooled = {k: np.concatenate([s[k] for s in series]) for k in series[0]}
    lip, jw = np.concatenate(lips), np.concatenate(jaw)

    def r(mask: np.ndarray) -> dict[str, float]:
        return {k: pearson(v[mask], gap[mask]) if mask.sum() > 2 else float("nan") for k, v in pooled.items()}

    def mean(v: np.ndarray, mask: np.ndarray) -> float:
        return float(v[mask].mean()) if mask.any() else float("nan")

    return SpeakerSync(
        speaker,
        int(face.sum()),
        int((face & sp).sum()),
        r(face),
        r(face & sp),
        mean(lip, ~sp),
        mean(lip, sp),
        mean(jw, ~sp),
        mean(jw, sp),
    )


def lip_sync(model: Audio2AU, clips: list[Clip]) -> list[SpeakerSync]:
    """Per-speaker scores (sorted by speaker) of the clips that have a measured lip gap."""
    by_speaker: dict[str, list[tuple]] = {}
    for c in clips:
        if c.gap is None:
            continue
        pred = predict_aus(model, c.waveform, c.fps, len(c.aus))
        series, speech = clip_series(pred, c.aus, model.au_names, c.waveform, c.fps)
        by_speaker.setdefault(c.speaker, []).append((c.gap, speech, series, *lip_levels(pred, model.au_names)))
    return [speaker_sync(s, *map(list, zip(*parts))) for s, parts in sorted(by_speaker.items())]


def mean_sync(rows: list[SpeakerSync], label: str) -> SpeakerSync:
    """The mean of speakers' scores (each speaker counts once, whatever its length; scores
    that are undefined for a speaker are left out), frames summed."""
    avg = lambda get: mean_ignoring_nan(np.array([get(r) for r in rows], dtype=np.float64))  # noqa: E731
    keys = rows[0].r_all
    return SpeakerSync(
        label,
        sum(r.frames for r in rows),
        sum(r.speech_frames for r in rows),
        {k: avg(lambda r: r.r_all[k]) for k in keys},
        {k: avg(lambda r: r.r_speech[k]) for k in keys},
        avg(lambda r: r.lips_silence),
        avg(lambda r: r.lips_speech),
        avg(lambda r: r.jaw_silence),
        avg(lambda r: r.jaw_speech),
    )


def format_sync(rows: list[SpeakerSync], groups: dict[str, list[str]] | None = None) -> str:
    """Per-speaker table, then the mean of each group of speakers (and of all)."""
    keys = [k for k in PREDICTORS if k in rows[0].r_all]
    head = (
        f"{'speaker':<32}{'frames':>7}{'speech':>7}  |"
        + "".join(f"{_SHORT[k]:>7}" for k in keys)
        + "  |"
        + "".join(f"{_SHORT[k]:>7}" for k in keys)
        + f"  |{'lips sil':>9}{'sp':>6}{'jaw sil':>9}{'sp':>6}"
    )
    width = 7 * len(keys)
    title = (
        f"{'':<49}{' r with the measured lip gap, whole clips':<{width}}  |{' the same, within speech':<{width}}"
        f"  | mean predicted, silence/speech"
    )
    fmt = lambda v: f"{v:>7.2f}" if np.isfinite(v) else f"{'-':>7}"  # noqa: E731

    def line(r: SpeakerSync) -> str:
        return (
            f"{r.speaker[:31]:<32}{r.frames:>7}{r.speech_frames:>7}  |"
            + "".join(fmt(r.r_all[k]) for k in keys)
            + "  |"
            + "".join(fmt(r.r_speech[k]) for k in keys)
            + f"  |{r.lips_silence:>9.3f}{r.lips_speech:>6.3f}{r.jaw_silence:>9.3f}{r.jaw_speech:>6.3f}"
        )

    out = [title, head, "-" * len(head), *map(line, rows), "-" * len(head)]
    for label, speakers in (groups or {}).items():
        chosen = [r for r in rows if r.speaker in speakers]
        if chosen:
            out.append(line(mean_sync(chosen, f"mean {label} ({len(chosen)})")))
    out.append(line(mean_sync(rows, f"mean all ({len(rows)})")))
    return "\n".join(out)


def audio_levels(model: Audio2AU, waveform: np.ndarray, fps: float = 25.0) -> dict[str, np.ndarray]:
    """jawOpen percentiles (10, 50, 90) and the mean lip-opening AU in silence and in speech
    of one recording without video (e.g. a demo voice)."""
    pred = predict_aus(model, waveform, fps)
    speech = speech_frames(frame_rms_db(waveform, fps, len(pred))[:, 0], fps)
    lips, jaw = lip_levels(pred, model.au_names)
    out = {}
    for label, mask in (("silence", ~speech), ("speech", speech)):
        out[label] = (
            np.array([*np.percentile(jaw[mask], (10, 50, 90)), lips[mask].mean()]) if mask.any() else np.full(4, np.nan)
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m audio2au.lipsync", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="audio2au checkpoint or fp16 export")
    p.add_argument("--data", help="prepared dataset root whose clips have landmarks.npy")
    p.add_argument(
        "--speakers",
        nargs="*",
        help="speaker or clip globs to score (default: every speaker the checkpoint did not train on)",
    )
    p.add_argument("--exclude", nargs="*", default=[], help="speaker or clip globs to leave out")
    p.add_argument(
        "--audio", nargs="*", default=[], help="recordings without video: jawOpen levels in silence and speech"
    )
    args = p.parse_args(argv)
    if not args.data and not args.audio:
        p.error("give --data and/or --audio")
    try:
        model = load_audio2au(args.checkpoint)
        info = model.meta.get("info", {})
        if args.data:
            clips, names = load_clips(args.data, args.exclude)
            model.check_au_names(names, f"the dataset {args.data}")
            trained = set(info.get("train_speakers", []))
            test = (
                [c for c in clips if matches_any(args.speakers, c.speaker, c.name)]
                if args.speakers
                else [c for c in clips if c.speaker not in trained]
            )
            rows = lip_sync(model, test)
            if not rows:
                raise ValueError(f"no held-out clips with landmarks.npy in {args.data}")
            seen = sorted({r.speaker for r in rows} & trained)
            val = set(info.get("val_speakers", []))
            groups = {"validation": sorted(val), "test": sorted({r.speaker for r in rows} - val - trained)}
            print(f"{len(test)} clips of {len(rows)} speakers" + (f"; SEEN IN TRAINING: {seen}" if seen else ""))
            print(format_sync(rows, groups))
        for path in args.audio:
            levels = audio_levels(model, load_audio(path), model.fps)
            for label, (p10, p50, p90, lips) in levels.items():
                print(
                    f"{path} {label:>8}: jawOpen p10 {p10:.3f} p50 {p50:.3f} p90 {p90:.3f}; "
                    f"lip-opening AUs mean {lips:.3f}"
                )
    except (FileNotFoundError, ValueError) as e:
        print(f"audio2au.lipsync: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
