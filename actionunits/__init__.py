"""The project's shared vocabulary: AU names, AU series and the prepared-dataset layout.

`gath`, `audio2au` and `talkinghead` all import from here and from nowhere else when they
need to agree on what an AU vector means, so that a checkpoint, a CSV column and a model
head always line up.
"""

from actionunits.names import AU_NAMES, mirror_permutation, parse_assignments
from actionunits.series import AUSeries

__all__ = ["AU_NAMES", "AUSeries", "mirror_permutation", "parse_assignments"]
