"""audio2au lip sync on unseen speakers, two ways. Against the real mouth
(audio2au.lipsync): correlation of the predicted mouth with the lip gap measured in the
held-out videos, per speaker and per language, whole clips and within speech, beside
loudness, voice-gated loudness and the tracker's own labels (the ceiling). Against the
tracker's labels (audio2au.evaluate): what the model was trained to imitate, beside a
loudness map fitted on every other clip. The labels are not the truth; the lip gap is the
check that does not trust them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict

from actionunits.prepared import matches_any
from audio2au import CheckpointError, load_audio2au
from audio2au.data import load_clips
from audio2au.evaluate import evaluate, mean_ignoring_nan, mouth_names
from audio2au.lipsync import SpeakerSync, lip_sync, mean_sync
from talkinghead.errors import UserError
from talkinghead.evaluation.languages import UNKNOWN, language_groups

LABEL_PREDICTORS = ("model", "loudness")
# r: pooled over all frames; r_clip: each clip's own r, averaged (timing, blind to offsets).
# No RMSE: the model predicts AUs relative to the speaker's rest, the labels are absolute.
LABEL_STATS = ("r", "r_clip")
# What the report shows of audio2au.lipsync.PREDICTORS; eval.json keeps them all.
GAP_PREDICTORS = ("model lip gap", "model jawOpen", "loudness", "gated loudness", "tracker lip gap")


def audio2au_sync(
    checkpoint: str | os.PathLike,
    root: str | os.PathLike,
    speakers: Sequence[str],
    languages: dict[str, str],
    exclude: Sequence[str] = (),
) -> dict:
    """Lip sync of the audio2au model on the clips of the held-out speakers (globs); label
    baselines fitted on every other clip; clips matching `exclude` (globs) are left out of
    both; `languages`: speaker -> language."""
    try:
        model = load_audio2au(checkpoint)
        clips, names = load_clips(root)
        model.check_au_names(names, f"the dataset {root}")
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    scored = [c for c in clips if not matches_any(exclude, c.speaker, c.name)]
    test = [c for c in scored if matches_any(speakers, c.speaker, c.name)]
    train = [c for c in scored if not matches_any(speakers, c.speaker, c.name)]
    held = {c.speaker for c in clips if matches_any(speakers, c.speaker, c.name)}
    not_scored = sorted(held - {c.speaker for c in test})
    if not test or not train:
        raise UserError(
            f"audio2au sync needs clips with speech of held-out and of other speakers in {root}"
            + (f" (not scored: {', '.join(not_scored)})" if not_scored else "")
        )
    results = evaluate(model, test, train)
    mouth = mouth_names(model.au_names)
    idx = [model.au_names.index(n) for n in mouth]
    tested = sorted({c.speaker for c in test})
    trained_on = set(model.meta.get("info", {}).get("train_speakers", []))
    return {
        "speakers": tested,
        "not_scored": not_scored,
        "seen_in_training": sorted(trained_on & set(tested)),
        "clips": len(test),
        "frames": int(sum(c.valid.sum() for c in test)),
        "lip_gap": lip_gap_summary(lip_sync(model, test), languages, tested),
        "mouth": {p: {s: mean_ignoring_nan(results[p][s][idx]) for s in LABEL_STATS} for p in LABEL_PREDICTORS},
        "per_au": {
            n: {p: {s: float(results[p][s][i]) for s in LABEL_STATS} for p in LABEL_PREDICTORS}
            for n, i in zip(mouth, idx)
        },
    }


def lip_gap_summary(rows: list[SpeakerSync], languages: dict[str, str], tested: list[str]) -> dict:
    """Each speaker's scores with its language; the mean of each language group and of all
    (a speaker counts once); the tested speakers without a measured lip gap."""
    language = {r.speaker: languages.get(r.speaker, UNKNOWN) for r in rows}
    groups = language_groups(language.keys(), language)
    means = {
        g: _mean(mean_sync([r for r in rows if r.speaker in members], g)) | {"speakers": len(members)}
        for g, members in groups.items()
    }
    if rows:
        means["all"] = _mean(mean_sync(rows, "all")) | {"speakers": len(rows)}
    return {
        "speakers": [asdict(r) | {"language": language[r.speaker]} for r in rows],
        "means": means,
        "without_landmarks": sorted(set(tested) - set(language)),
    }


def _mean(row: SpeakerSync) -> dict:
    return {k: v for k, v in asdict(row).items() if k != "speaker"}
