"""audio2au models on the held-out speakers, clean and damaged (run from the repository root):

    python docs/results/2026-12-06-lips/compare_audio2au.py MODEL.pt [MODEL.pt ...] [--data /work/prepared]

Per model: the mean over speakers of the Pearson r between the lip gap its AUs ask for
(audio2au.frame_measures.au_lip_gap) and the lip gap measured in the video, over all frames
with a face / within speech, for the 10 test and the 5 validation speakers, on the clip's
audio as recorded and through audio2au.degrade's DEGRADATIONS.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from actionunits import AU_NAMES
from audio2au import load_audio2au, predict_aus
from audio2au.degrade import DEGRADATIONS
from audio2au.frame_measures import au_lip_gap, frame_rms_db, lip_gap, speech_frames

TEST = (
    "grid_s2 grid_f_brbk7n grid_m_sbwe5n lrs2_deepavsr_00001 lrs2_deepavsr_00019 obama macron "
    "cnn_anchor_jim_acosta clips__video_retalking__1 clips__pcavs_voxceleb__00002"
).split()
VAL = "grid_f_lbbc2a grid_m_lbax4n lrs2_deepavsr_00009 theresa_may clips__pcavs_voxceleb__00010".split()


def held_out(root: Path) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
    """(speaker, measured lip gap, {condition: 16 kHz audio}) per held-out clip with audio."""
    out = []
    for row in csv.DictReader(open(root / "target" / "clips.csv")):
        if row["speaker"] in TEST + VAL and row["audio"]:
            folder = root / "target" / "clips" / row["clip"]
            wav = sf.read(folder / "audio.wav", dtype="float32")[0]
            damaged = {name: damage(wav) for name, damage in DEGRADATIONS.items()}
            out.append(
                (row["speaker"], lip_gap(np.load(folder / "landmarks.npy", mmap_mode="r")), {"clean": wav, **damaged})
            )
    return out


def scores(model, clips) -> dict[tuple[str, str, bool], float]:
    """{(group, condition, within speech): mean over the group's speakers of r} for a model."""
    pooled: dict[tuple[str, str], list] = {}
    for speaker, real, wavs in clips:
        speech = speech_frames(frame_rms_db(wavs["clean"], 25.0, len(real))[:, 0], 25.0)
        for condition, wav in wavs.items():
            gap = au_lip_gap(predict_aus(model, wav, 25.0, len(real)), AU_NAMES)
            pooled.setdefault((speaker, condition), []).append((real, gap, speech))

    def r(speaker: str, condition: str, within_speech: bool) -> float:
        real, gap, speech = (np.concatenate(x) for x in zip(*pooled[(speaker, condition)]))
        ok = np.isfinite(real) & (speech if within_speech else True)
        return float(np.corrcoef(real[ok], gap[ok])[0, 1])

    return {
        (group, c, within): float(np.nanmean([r(s, c, within) for s in speakers]))
        for group, speakers in (("test", TEST), ("validation", VAL))
        for c in clips[0][2]
        for within in (False, True)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=Path("/work/prepared"))
    args = parser.parse_args()
    clips = held_out(args.data)
    for path in args.models:
        got = scores(load_audio2au(path), clips)
        cells = [
            f"{group} {c}: {got[(group, c, False)]:.3f} / {got[(group, c, True)]:.3f}"
            for group in ("test", "validation")
            for c in clips[0][2]
        ]
        print(f"{path}: " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
