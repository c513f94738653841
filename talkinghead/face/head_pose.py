"""Head pose as three angles (`actionunits.series.POSE_NAMES`, degrees) and the rotation
they stand for, in image axes (x right, y down, z away from the camera): yaw about y,
pitch about x, roll about z, R = Rz(roll) Ry(yaw) Rx(pitch). The same decomposition as
the independent yardstick (`../shared/tools/thevals.py pose`), so a pose the renderer is
asked for is the pose that yardstick reads back.
"""

from __future__ import annotations

import numpy as np


def rotation(angles: np.ndarray) -> np.ndarray:
    """(..., 3) yaw, pitch, roll in degrees -> (..., 3, 3) rotation matrices."""
    yaw, pitch, roll = np.moveaxis(np.radians(np.asarray(angles, np.float64)), -1, 0)
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    return np.stack(
        [
            np.stack([cr * cy, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp], -1),
            np.stack([sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp], -1),
            np.stack([-sy, cy * sp, cy * cp], -1),
        ],
        -2,
    )


def angles(r: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) yaw, pitch, roll in degrees."""
    r = np.asarray(r, np.float64)
    yaw = np.arcsin(np.clip(-r[..., 2, 0], -1.0, 1.0))
    pitch = np.arctan2(r[..., 2, 1], r[..., 2, 2])
    roll = np.arctan2(r[..., 1, 0], r[..., 0, 0])
    return np.degrees(np.stack([yaw, pitch, roll], -1))


def landmark_angles(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the head's yaw, pitch and roll (N, 3) in degrees from face-mesh landmarks
    (N, 478, 3) in image pixels, and a valid mask (N,): frames with a face whose rigid
    points fit the tracker's reference head (`au_tracker.MAX_RIGID_RESIDUAL`). The angles
    are of the reference head in the image, so differences between frames are head turns;
    invalid rows are NaN."""
    from talkinghead.face.au_tracker import MAX_RIGID_RESIDUAL, RIGID, Calibration, _umeyama, remove_pose

    landmarks = np.asarray(landmarks, np.float64)
    out = np.full((len(landmarks), 3), np.nan)
    ok = np.isfinite(landmarks).all(axis=(1, 2))
    if not ok.any():
        return out, ok
    reference = Calibration.load().reference
    _, rot, _ = _umeyama(landmarks[ok][:, list(RIGID)], reference)
    _, resid = remove_pose(landmarks[ok], reference)
    out[ok] = angles(np.transpose(rot, (0, 2, 1)))  # the fit maps image -> reference; its transpose turns the head
    valid = ok.copy()
    valid[ok] = resid < MAX_RIGID_RESIDUAL
    out[~valid] = np.nan
    return out, valid
