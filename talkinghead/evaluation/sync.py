"""audio2au lip sync on unseen speakers: audio2au.evaluate's correlations between predicted
and tracked mouth coefficients, next to its two baselines (training mean, loudness)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from actionunits.prepared import matches_any
from audio2au import CheckpointError, load_audio2au
from audio2au.data import load_clips
from audio2au.evaluate import evaluate, mean_ignoring_nan, mouth_names
from talkinghead.errors import UserError

PREDICTORS = ("model", "mean", "loudness")
STATS = ("r", "r_clip", "rmse")


def audio2au_sync(checkpoint: str | os.PathLike, root: str | os.PathLike, speakers: Sequence[str]) -> dict:
    """Mouth-AU agreement of the audio2au model with the tracker on the clips of the
    held-out speakers (globs); baselines fitted on every other clip."""
    try:
        model = load_audio2au(checkpoint)
        clips, names = load_clips(root)
        model.check_au_names(names, f"the dataset {root}")
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    test = [c for c in clips if matches_any(speakers, c.speaker, c.name)]
    train = [c for c in clips if not matches_any(speakers, c.speaker, c.name)]
    if not test or not train:
        raise UserError(f"audio2au sync needs clips with speech of held-out and of other speakers in {root}")
    results = evaluate(model, test, train)
    mouth = mouth_names(model.au_names)
    idx = [model.au_names.index(n) for n in mouth]
    tested = sorted({c.speaker for c in test})
    trained_on = set(model.meta.get("info", {}).get("train_speakers", []))
    return {
        "speakers": tested,
        "seen_in_training": sorted(trained_on & set(tested)),
        "clips": len(test),
        "frames": int(sum(c.valid.sum() for c in test)),
        "mouth": {p: {s: mean_ignoring_nan(results[p][s][idx]) for s in STATS} for p in PREDICTORS},
        "per_au": {n: {p: {s: float(results[p][s][i]) for s in STATS} for p in PREDICTORS}
                   for n, i in zip(mouth, idx)},
    }
