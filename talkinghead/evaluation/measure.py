"""What the paper measured with OpenFace, measured with this project's AU tracker: the AU
vector of a face crop (real or synthesized), and the face and mouth regions for masked
errors (the mouth is where GATH-W paints, so it gets its own numbers).

Every crop is measured the same way, from its own landmarks with the population neutral,
so syntheses and real frames are compared on one scale (the dataset's labels use a
per-clip neutral and the whole video frame, so they are not that scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkinghead.face.au_tracker import AUTracker
from talkinghead.face.landmarks import FACE_OVAL, LandmarkDetector


@dataclass
class Measured:
    """aus (N, K) with NaN rows where no face was tracked; masks (N, H, W) bool, the
    convex hull of the face oval, and mouths (N, H, W) bool, the lips and what lies between
    them (both empty where no face)."""

    aus: np.ndarray
    masks: np.ndarray
    mouths: np.ndarray

    @property
    def found(self) -> np.ndarray:
        return np.isfinite(self.aus).all(axis=1)

    def take(self, index: np.ndarray) -> Measured:
        return Measured(self.aus[index], self.masks[index], self.mouths[index])


def face_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool: inside the convex hull of the face-oval landmarks (478, 3)."""
    mask = np.zeros((size, size), np.uint8)
    hull = cv2.convexHull(np.round(landmarks[list(FACE_OVAL), :2]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def mouth_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool: inside the outer lip contour, grown by 3 % of the crop (the lips'
    edges and the shading around them)."""
    from talkinghead.face.warp import LOWER_OUTER_LIP, UPPER_OUTER_LIP

    mask = np.zeros((size, size), np.uint8)
    outline = np.concatenate([landmarks[list(UPPER_OUTER_LIP), :2], landmarks[list(LOWER_OUTER_LIP), :2][::-1]])
    cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 1)
    grow = max(1, round(0.03 * size))
    return cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)).astype(bool)


class CropMeasurer:
    """Landmarks of single crops (static mode: no tracking between unrelated images)."""

    def __init__(self, au_names: tuple[str, ...], detector: LandmarkDetector) -> None:
        self.tracker = AUTracker(names=au_names)
        self.detector = detector

    def __call__(self, crops: np.ndarray, bar=None) -> Measured:
        n, size = len(crops), crops.shape[1]
        aus = np.full((n, len(self.tracker.names)), np.nan, np.float32)
        masks = np.zeros((n, size, size), bool)
        mouths = np.zeros((n, size, size), bool)
        for i, crop in enumerate(crops):
            faces = self.detector.detect(np.ascontiguousarray(crop))
            if faces:
                values, valid = self.tracker.from_landmarks(faces[0][None])
                masks[i] = face_mask(faces[0], size)
                mouths[i] = mouth_mask(faces[0], size)
                if valid[0]:
                    aus[i] = values[0]
            if bar is not None:
                bar.update(1)
        return Measured(aus, masks, mouths)
