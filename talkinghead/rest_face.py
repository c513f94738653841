"""The face that speech AUs are added to: the photo's own expression at rest."""

from __future__ import annotations

import numpy as np

from talkinghead.portrait import Portrait

# A photo whose lips are apart by more than LIPS_APART (inner-lip gap / eye distance; closed
# mouths measure ~0.002, open ones 0.13-0.22) rests with CLOSING_AUS at 0: the jaw, the
# funnel and the lower lip's pull-down. Not the upper lip's raise: the motion model moves
# the whole upper lip with it, so undoing the raise the tracker reads in a smile that shows
# teeth would thin that lip to a line (docs/results/2026-12-02-rest-lips/).
CLOSING_AUS = ("jawOpen", "mouthFunnel", "mouthLowerDownLeft", "mouthLowerDownRight")
LIPS_APART = 0.04


def rest_aus(portrait: Portrait) -> np.ndarray:
    """The AU vector of this face at rest, which speech AUs are added to: the photo's
    own (the tracker reads a long chin or full lips of a closed mouth as some jawOpen or
    mouthClose, which must not be undone), except that parted lips rest closed (or
    nearly: the upper lip keeps its raise, see CLOSING_AUS)."""
    rest = portrait.aus.copy()
    if portrait.lip_gap > LIPS_APART:
        rest[[i for i, n in enumerate(portrait.names) if n in CLOSING_AUS]] = 0.0
    return rest
