"""The head turned as a 3D body inside a still photo: the rigid part of head motion, as
offsets of the warp mesh's vertices (`WarpMesh` with `head=True`).

Three zones, as a viewer sees a real talker:
- the head: the face mesh's own 3D points rotated by the pose about a pivot in the neck
  and projected (orthographically: a portrait's head spans a small angle of view), so the
  nose moves against the cheeks and a nod carries the face down and forward;
- hair and ears: the first two rings, at the depth of their face-oval point, carried with
  the head at full weight above the jaw and at less below it;
- the neck and everything beyond the outer ring: a blend down to none, so the torso and
  the far background stay the photo's pixels, and the band between the second and the
  third ring stretches the background behind a moving edge instead of tearing it.

Where the photo looks into the camera, the eyes keep looking into it as the head turns,
as people on camera do: the eyeballs turn back against the head (`keep_gaze`), which moves
the irises inside the lids.

A head the photo shows from the side turns less (`side_view_reach`): the face mesh's far
outline then lies inside the visible face, and a turn folds or ghosts the nose and cheek.

A pose of zero moves nothing, so a frame without head motion is the AU-driven frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from talkinghead.face.head_pose import landmark_angles, rotation
from talkinghead.face.landmarks import FACE_OVAL
from talkinghead.face.warp import LEFT_EYE_LOWER, LEFT_EYE_UPPER, N_MESH, RIGHT_EYE_LOWER, RIGHT_EYE_UPPER, WarpMesh

# The pivot: between the ears (landmarks 234, 454), PIVOT_DROP face widths lower, at their
# depth: near where the skull sits on the spine, so a nod moves the face more than the crown.
EARS = (234, 454)
PIVOT_DROP = 0.25
# How much of the head's motion each ring takes: (above the jaw, below it); the third ring
# takes none.
RING_WEIGHTS = ((1.0, 0.5), (0.85, 0.1))
JAW_TURN = (0.2, 0.8)  # a ring point's downward share at which its weight starts and ends its fall
# Eyes: the lids' loops and iris centres (MediaPipe), the eyeball's radius (~12 mm of the
# ~63 mm between the pupils) and how far from the middle of the eye opening (in eye widths)
# an iris may sit for the photo to count as looking into the camera.
EYE_LOOPS = (RIGHT_EYE_UPPER + RIGHT_EYE_LOWER[-2:0:-1], LEFT_EYE_UPPER + LEFT_EYE_LOWER[-2:0:-1])
INNER_CORNER = len(RIGHT_EYE_UPPER) - 1  # a loop's index of the eye's other corner
IRIS_CENTRES = (468, 473)
EYEBALL_RADIUS = 0.19  # pupil distances
LOOKS_AT_CAMERA = 0.1
GAZE_RAMP = 0.35  # the counter-turn fades in over this share of the opening's half-height from the lids
# A photo's own yaw (degrees) up to FRONTAL turns fully; beyond, yaw and pitch turns shrink
# linearly to MIN_REACH at SIDE_VIEW (224 px crops at 28-46 degrees tore at 10 degrees of
# turn: docs/results/2026-12-06-head-motion/); roll stays in the image plane and is kept.
FRONTAL, SIDE_VIEW, MIN_REACH = 20.0, 45.0, 0.25


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


class HeadTurn:
    """The photo's head as rigid 3D points with their weights; `offsets` turns it."""

    def __init__(self, mesh: WarpMesh, landmarks: np.ndarray) -> None:
        if mesh.n_rings < 3:
            raise ValueError("a turning head needs the mesh with its head ring (WarpMesh.from_landmarks(head=True))")
        lm = np.asarray(landmarks, np.float64)
        face, oval = lm[:, :3], lm[list(FACE_OVAL), :3]
        centre = oval[:, :2].mean(0)
        down = lm[152, :2] - lm[10, :2]
        down /= max(float(np.linalg.norm(down)), 1e-6)
        width = float(np.linalg.norm(lm[EARS[1], :2] - lm[EARS[0], :2]))
        ears = lm[list(EARS)].mean(0)
        self.pivot = np.r_[ears[:2] + PIVOT_DROP * width * down, ears[2]]
        self.landmarks = face  # every landmark (irises too) turns rigidly
        rings, weights = [], []
        direction = oval[:, :2] - centre
        share = direction @ down / np.maximum(np.linalg.norm(direction, axis=1), 1e-6)
        fall = smoothstep(share, *JAW_TURN)
        for i in range(mesh.n_rings):
            rings.append(np.c_[mesh.ring(i), oval[:, 2]])
            top, bottom = RING_WEIGHTS[i] if i < len(RING_WEIGHTS) else (0.0, 0.0)
            weights.append(top + (bottom - top) * fall)
        self.triangles, self.n_mouth = mesh.triangles, mesh.n_mouth
        self.vertices = np.concatenate([face[:N_MESH], *rings])
        self.weights = np.concatenate([np.ones(N_MESH), *weights])[:, None]
        self.reach = side_view_reach(lm)
        self.eyeball = EYEBALL_RADIUS * float(np.linalg.norm(lm[IRIS_CENTRES[1], :2] - lm[IRIS_CENTRES[0], :2]))
        self.gaze_at_camera = looks_at_camera(lm)

    def turned(self, points: np.ndarray, r: np.ndarray) -> np.ndarray:
        """(N, 3) points -> the same (N, 3) with the head turned by the rotation `r`: x, y
        their image position, z their depth."""
        return (points - self.pivot) @ r.T + self.pivot

    def offsets(self, pose: np.ndarray, vertex_offsets: np.ndarray, landmark_offsets: np.ndarray):
        """The mesh's (V, 2) vertex offsets and the (478, 2) landmark offsets of a frame with
        the head turned to `pose` (yaw, pitch, roll in degrees), from the AU-driven offsets
        (V, 2 or 3) and (478, 2 or 3), with their depth where given (a dropped jaw moves the
        chin back, which a nod shows); and the order to draw the mesh's triangles in: far to
        near (painter's order), so where a turn folds the face over itself (a cheek turning
        away) the near side shows, not the far one or the background behind the outline.
        The mouth-opening triangles stay first: the lips always cover them."""
        r = rotation(np.asarray(pose, np.float64) * self.reach)
        v = self.vertices.copy()
        v[:, : vertex_offsets.shape[1]] += vertex_offsets
        turned = self.turned(v, r)
        vertex = vertex_offsets[:, :2] + self.weights * (turned[:, :2] - v[:, :2])
        depth = turned[self.triangles, 2].mean(1)
        order = np.r_[np.arange(self.n_mouth), self.n_mouth + np.argsort(-depth[self.n_mouth :], kind="stable")]
        lm = self.landmarks.copy()
        lm[:, : landmark_offsets.shape[1]] += landmark_offsets
        return vertex, self.turned(lm, r)[:, :2] - self.landmarks[:, :2], order

    def keep_gaze(
        self, map_x: np.ndarray, map_y: np.ndarray, origin: tuple[int, int], points: np.ndarray, pose
    ) -> None:
        """Turn the eyeballs back against the head (in place on a backward map whose pixel
        (0, 0) is photo pixel `origin`, x then y): inside each eye opening at the frame's
        `points`, the map samples the photo shifted by the eyeball's counter-turn: fully in
        the opening's middle, where the iris is, fading to nothing at the lids."""
        # where the rigid turn carried the iris, less where it looks
        shift = self.eyeball * rotation(np.asarray(pose, np.float64) * self.reach)[:2, 2]
        for loop in EYE_LOOPS:
            corners = points[list(loop)]
            lo = np.floor(corners.min(0)).astype(int) - 1 - np.array(origin)
            hi = np.ceil(corners.max(0)).astype(int) + 2 - np.array(origin)
            lo, hi = np.maximum(lo, 0), np.minimum(hi, map_x.shape[::-1])
            if np.any(hi - lo < 3):
                continue
            mask = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.uint8)
            cv2.fillPoly(mask, [np.round((corners - origin - lo) * 16).astype(np.int32)], 1, shift=4)
            depth = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
            ramp = max(GAZE_RAMP * float(depth.max()), 1.0)  # the whole iris shifts; the white by the lids gives
            weight = np.clip(depth / ramp, 0.0, 1.0).astype(np.float32)
            box = slice(lo[1], hi[1]), slice(lo[0], hi[0])
            map_x[box] -= shift[0] * weight
            map_y[box] -= shift[1] * weight


def side_view_reach(landmarks: np.ndarray) -> np.ndarray:
    """(3,) how much of a yaw, pitch and roll turn a photo's head takes, by its own yaw."""
    yaw = abs(float(landmark_angles(landmarks[None])[0][0, 0]))
    share = 1.0 if not np.isfinite(yaw) else np.clip((SIDE_VIEW - yaw) / (SIDE_VIEW - FRONTAL), MIN_REACH, 1.0)
    return np.array([share, share, 1.0])


def looks_at_camera(landmarks: np.ndarray) -> bool:
    """Both irises near the middle of their eye openings (a gaze into the lens)."""
    for loop, iris in zip(EYE_LOOPS, IRIS_CENTRES):
        eye = landmarks[list(loop), :2]
        width = float(np.linalg.norm(eye[0] - eye[INNER_CORNER]))
        middle = (eye[0] + eye[INNER_CORNER]) / 2
        if np.linalg.norm(landmarks[iris, :2] - middle) > LOOKS_AT_CAMERA * max(width, 1e-6):
            return False
    return True
