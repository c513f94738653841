"""Identity preservation: distances between 128-d face embeddings of dlib's face
recognition ResNet (the model the face_recognition_models package ships, 99.4 % on LFW).
dlib's usual same-person threshold is a distance of 0.6.

The model files are located without importing face_recognition_models (its __init__ needs
pkg_resources, which recent setuptools no longer has); nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from talkinghead.errors import UserError
from talkinghead.face.align import TEMPLATE

SAME_PERSON_THRESHOLD = 0.6
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
EMBEDDING_MODEL = "dlib_face_recognition_resnet_model_v1.dat"


def model_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    folder = Path(spec.submodule_search_locations[0]) / "models" if spec and spec.submodule_search_locations else None
    if folder is None or not (folder / EMBEDDING_MODEL).is_file():
        raise UserError("the face recognition model is missing: pip install face_recognition_models==0.3.0")
    return folder


def template_box(size: int) -> tuple[int, int, int, int]:
    """The box dlib's face detector would draw around an aligned crop's face, from where
    alignment put the eyes and mouth: no detector run, and no miss on a blurry synthesis."""
    eye_dist = (TEMPLATE[1, 0] - TEMPLATE[0, 0]) * size
    cx, eye_y, mouth_y = TEMPLATE[:, 0].mean() * size, TEMPLATE[0, 1] * size, TEMPLATE[2, 1] * size
    return (
        round(cx - 1.25 * eye_dist),
        round(eye_y - 0.9 * eye_dist),
        round(cx + 1.25 * eye_dist),
        round(mouth_y + 0.5 * eye_dist),
    )


class FaceEmbedder:
    """Embeds aligned face crops (N, H, W, 3) uint8 RGB."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError:
            raise UserError("dlib is missing: pip install dlib-bin==20.0.1.post1") from None
        folder = model_dir()
        self._dlib = dlib
        self.shapes = dlib.shape_predictor(str(folder / SHAPE_MODEL))
        self.net = dlib.face_recognition_model_v1(str(folder / EMBEDDING_MODEL))

    def __call__(self, crops: np.ndarray, bar=None) -> np.ndarray:
        out = np.empty((len(crops), 128), np.float32)
        for i, crop in enumerate(crops):
            crop = np.ascontiguousarray(crop)
            shape = self.shapes(crop, self._dlib.rectangle(*template_box(crop.shape[0])))
            out[i] = np.asarray(self.net.compute_face_descriptor(crop, shape))
            if bar is not None:
                bar.update(1)
        return out


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean distances of two (N, 128) embedding arrays."""
    return np.linalg.norm(a - b, axis=1)


def summary(d: np.ndarray) -> dict:
    """Mean, median and the share under the same-person threshold of some distances."""
    if not len(d):
        return {"mean": float("nan"), "median": float("nan"), "same_person_share": float("nan"), "n": 0}
    return {
        "mean": float(d.mean()),
        "median": float(np.median(d)),
        "same_person_share": float((d < SAME_PERSON_THRESHOLD).mean()),
        "n": int(len(d)),
    }
