"""Which frames and faces the evaluation uses (paper section 5).

Intra-class: for each held-out speaker, two source frames (the most neutral one and the one
with the widest mouth opening, as the paper picks a neutral and an expressive still), each
paired with the same `per_source` other frames of that speaker; the target frame's AUs
drive the synthesis and the real target frame is the ground truth.

Inter-class: each unseen portrait paired with `per_source` frames of held-out speakers who
are not that person; only the AUs can be compared.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gath.data import TargetSet, load_target_set
from talkinghead.errors import UserError
from talkinghead.face.align import detect_and_align
from talkinghead.face.landmarks import LandmarkDetector
from talkinghead.io.image import IMAGE_SUFFIXES, read_image

# audio2au's validation and test speakers on the shared data: the speakers the shipped
# audio2au never trained on (train GATH with data.exclude_speakers set to these).
DEFAULT_SPEAKERS = (
    "grid_f_lbbc2a",
    "grid_m_lbax4n",
    "lrs2_deepavsr_00009",
    "theresa_may",
    "clips__pcavs_voxceleb__00010",
    "grid_s2",
    "grid_f_brbk7n",
    "grid_m_sbwe5n",
    "lrs2_deepavsr_00001",
    "lrs2_deepavsr_00019",
    "obama",
    "macron",
    "cnn_anchor_jim_acosta",
    "clips__video_retalking__1",
    "clips__pcavs_voxceleb__00002",
    "clips__liveportrait_driving__*",
)

# Held out, but not scored for lip sync: their audio is music, not the speaker's voice
# (docs/audio2au.md), so no mouth could follow it.
NOT_SPEECH = ("clips__liveportrait_driving__*",)

# Targets closer than this many frames to a source frame are nearly the source itself.
MIN_FRAME_GAP = 12


@dataclass
class EvalPairs:
    """Pair i renders source `src[i]` with the AUs of target `tgt[i]`. Images are (N, H, W, 3)
    uint8 RGB aligned crops; `target_aus` are the dataset's labels that drive the generator."""

    sources: np.ndarray
    source_names: list[str]
    targets: np.ndarray
    target_aus: np.ndarray
    target_speakers: list[str]
    src: np.ndarray
    tgt: np.ndarray

    def __len__(self) -> int:
        return len(self.src)


def load_held_out(root: str | os.PathLike, speakers: Sequence[str]) -> TargetSet:
    """The target frames of the held-out speakers (globs) only."""
    try:
        return load_target_set(root, only=list(speakers))
    except (FileNotFoundError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None


def _crops(target: TargetSet, index: np.ndarray) -> np.ndarray:
    return target.images[np.asarray(index)].permute(0, 2, 3, 1).numpy()


def intra_pairs(target: TargetSet, per_source: int, seed: int = 0) -> EvalPairs:
    """Two source frames per speaker, each with the same `per_source` target frames."""
    rng = np.random.default_rng(seed)
    aus = target.aus.numpy()
    jaw = target.au_names.index("jawOpen") if "jawOpen" in target.au_names else None
    ids = target.speaker_ids.numpy()
    sources, names, targets, speakers, src, tgt = [], [], [], [], [], []
    for s in np.unique(ids):
        frames = np.flatnonzero(ids == s)
        if len(frames) < 3:
            continue
        neutral = frames[np.argmin(aus[frames].sum(1))]
        score = aus[frames, jaw] if jaw is not None else aus[frames].sum(1)
        expressive = frames[np.argmax(np.where(frames == neutral, -np.inf, score))]
        rest = frames[(frames != neutral) & (frames != expressive)]
        far = rest[np.minimum(np.abs(rest - neutral), np.abs(rest - expressive)) > MIN_FRAME_GAP]
        pool = far if len(far) else rest
        chosen = np.sort(rng.choice(pool, min(per_source, len(pool)), replace=False))
        first = len(targets)
        targets += list(chosen)
        speakers += [target.speakers[s]] * len(chosen)
        for source in (neutral, expressive):  # both sources share the speaker's targets
            src += [len(sources)] * len(chosen)
            tgt += range(first, first + len(chosen))
            sources.append(source)
            names.append(target.speakers[s])
    if not src:
        raise UserError("no held-out speaker has enough frames for intra-class pairs (at least 3 each)")
    return EvalPairs(
        _crops(target, np.array(sources)),
        names,
        _crops(target, np.array(targets)),
        aus[targets],
        speakers,
        np.array(src),
        np.array(tgt),
    )


def load_portraits(
    folder: str | os.PathLike, crop_size: int, detector: LandmarkDetector
) -> tuple[np.ndarray, list[str]]:
    """Aligned crops of the largest face in every image of `folder` (images without a face
    are skipped) and the file stems as names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"portrait folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    crops, names = [], []
    for path in files:
        try:
            crops.append(detect_and_align(read_image(path), crop_size, detector=detector).crop)
        except UserError:  # no face in this image: not a portrait
            continue
        names.append(path.stem)
    if not crops:
        raise UserError(f"no faces found in any image of {folder}" if files else f"no images in {folder}")
    return np.stack(crops), names


def same_person(portrait: str, speaker: str) -> bool:
    """A portrait named after a speaker's clip (e.g. video_retalking_1 and
    clips__video_retalking__1): every word of its name is a word of the speaker's."""
    words = lambda s: set(re.findall(r"[a-z0-9]+", s.lower()))  # noqa: E731
    return words(portrait) <= words(speaker)


def inter_pairs(crops: np.ndarray, names: list[str], target: TargetSet, per_source: int, seed: int = 0) -> EvalPairs:
    """Each portrait with `per_source` frames of other people (speakers drawn evenly, then
    a random frame of each)."""
    rng = np.random.default_rng(seed)
    ids = target.speaker_ids.numpy()
    present = np.unique(ids)
    targets, speakers, src = [], [], []
    for j, name in enumerate(names):
        others = [s for s in present if not same_person(name, target.speakers[s])]
        if not others:
            continue
        for s in rng.choice(others, per_source, replace=len(others) < per_source):
            targets.append(rng.choice(np.flatnonzero(ids == s)))
            speakers.append(target.speakers[s])
            src.append(j)
    if not src:
        raise UserError("no inter-class pairs: every held-out speaker is the same person as the portraits")
    return EvalPairs(
        crops,
        list(names),
        _crops(target, np.array(targets)),
        target.aus.numpy()[targets],
        speakers,
        np.array(src),
        np.arange(len(targets)),
    )
