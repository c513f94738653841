"""The face that speech AUs are added to: the photo's own expression at rest.

A still's speech AUs (aupost.SPEECH_AUS) are kept measured from the face's rest, as
audio2au predicts them and as the tracker measures a video (from each clip's own rest
face): 0 where the face rests, so speech adds to 0. The tracker's reading of one still has
no rest face of its own to start from (a long chin reads as jawOpen 0.6, full lips as
mouthClose 0.8); added to speech, such a reading pinned the sum at the [0, 1] bound, which
capped the jaw and sealed the lips over it. Only parted lips are away from rest: they keep
their opening (CLOSING_AUS), so the rest closes them. The other AUs (smile, brows, eyes)
are the photo's expression and stay as read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from talkinghead.aupost import SPEECH_AUS

# A photo whose lips are apart by more than LIPS_APART (inner-lip gap / eye distance; closed
# mouths measure ~0.002, open ones 0.13-0.22) keeps its reading of CLOSING_AUS, so that
# driving them to 0 closes it: the jaw, the funnel and the lower lip's pull-down. Not the
# upper lip's raise: the motion model moves the whole upper lip with it, so undoing the raise
# the tracker reads in a smile that shows teeth would thin that lip to a line
# (docs/results/2026-12-02-rest-lips/).
CLOSING_AUS = ("jawOpen", "mouthFunnel", "mouthLowerDownLeft", "mouthLowerDownRight")
LIPS_APART = 0.04


def from_rest(aus: np.ndarray, names: Sequence[str], lip_gap: float) -> np.ndarray:
    """A still's AU reading with its speech AUs measured from the face's rest: 0, but for
    the CLOSING_AUS of parted lips (their opening)."""
    out = np.asarray(aus, np.float32).copy()
    apart = lip_gap > LIPS_APART
    out[[i for i, n in enumerate(names) if n in SPEECH_AUS and not (apart and n in CLOSING_AUS)]] = 0.0
    return out


def rest_aus(aus: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The AU vector of the face at rest, which speech AUs are added to: the photo's
    expression with its speech AUs at 0 (its rest; closed lips for parted ones)."""
    rest = np.asarray(aus, np.float32).copy()
    rest[[i for i, n in enumerate(names) if n in SPEECH_AUS]] = 0.0
    return rest
