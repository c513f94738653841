"""Face-mesh landmarks with a chosen inner-lip gap, for tests of the lip-sync measures."""

from __future__ import annotations

import numpy as np


def face_mesh(gaps: np.ndarray, eye_distance: float = 100.0, scale: float = 1.0) -> np.ndarray:
    """(frames, 478, 3) landmarks whose inner lips are gaps * eye_distance apart."""
    pts = np.zeros((len(gaps), 478, 3), np.float32)
    pts[:, [33, 133], 0] = [-eye_distance / 2 - 15, -eye_distance / 2 + 15]  # right eye centre at -d/2
    pts[:, [263, 362], 0] = [eye_distance / 2 + 15, eye_distance / 2 - 15]
    pts[:, 13, 1] = 80.0
    pts[:, 14, 1] = 80.0 + gaps * eye_distance
    pts[:, :, 2] = 7.0  # depth plays no part
    return pts * scale + 300.0
