"""A photo set up once for animation: read, scaled to the output size, its face's
landmarks and the AU vector it shows. Every command and renderer animates a photo through
this one form (`talkinghead.renderers`' `Renderer.open` makes it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from actionunits import AU_NAMES
from talkinghead.errors import UserError
from talkinghead.options import option


def face_index_option() -> Any:
    """The option of every command that opens a photo: which of its faces to animate."""
    return option(None, "which face when the photo has several (0 = largest)")


def even(n: int) -> int:
    return n + (n % 2)


@dataclass
class Portrait:
    """A photo (HxWx3 uint8 RGB, at output size), its face's 478 landmarks in its pixels
    and the AU vector it shows: the tracker's reading (zeros where it cannot tell), with the
    speech AUs measured from the face's rest (`rest_face`)."""

    image: np.ndarray
    landmarks: np.ndarray
    aus: np.ndarray
    names: tuple[str, ...] = AU_NAMES

    @classmethod
    def from_image(
        cls, image: np.ndarray, face_index: int | None = None, names: tuple[str, ...] = AU_NAMES
    ) -> Portrait:
        from talkinghead.face.au_tracker import AUTracker
        from talkinghead.face.landmarks import LandmarkDetector

        with LandmarkDetector(video=False) as det:
            faces = det.detect(image)
        if not faces:
            raise UserError(
                "no face found in the image (try a frontal, well-lit photo where the face is clearly visible)"
            )
        index = 0 if face_index is None else face_index
        if not 0 <= index < len(faces):
            raise UserError(
                f"face index {index} requested but only {len(faces)} face(s) found (indices 0..{len(faces) - 1})"
            )
        from talkinghead.rest_face import from_rest

        values, valid = AUTracker(names=names).from_landmarks(faces[index][None])
        reading = values[0] if valid[0] else np.zeros(len(names), np.float32)
        portrait = cls(image, faces[index], reading, tuple(names))
        portrait.aus = from_rest(reading, names, portrait.lip_gap)
        return portrait

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        height: int | None = None,
        max_height: int | None = None,
        face_index: int | None = None,
        even_size: bool = True,
        names: tuple[str, ...] = AU_NAMES,
    ) -> Portrait:
        """Read the photo, scale it to `height` (or down to `max_height`; sizes made even for
        H.264 when `even_size`) and find its face. UserError when unreadable or faceless."""
        from talkinghead.io.image import read_image

        img = read_image(path)
        h, w = img.shape[:2]
        if height is None and max_height is not None and h > max_height:
            height = max_height
        if height is not None and height != h:
            new_w = max(2, round(w * height / h))
            new_w = even(new_w) if even_size else new_w
            img = cv2.resize(img, (new_w, height), interpolation=cv2.INTER_AREA if height < h else cv2.INTER_CUBIC)
        elif even_size and (h % 2 or w % 2):
            img = np.ascontiguousarray(img[: h // 2 * 2, : w // 2 * 2])
        return cls.from_image(img, face_index, names)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.image.shape[1], self.image.shape[0]

    @property
    def rest(self) -> np.ndarray:
        """The AU vector of this face at rest, which speech AUs are added to."""
        from talkinghead.rest_face import rest_aus

        return rest_aus(self.aus, self.names)

    @property
    def lip_gap(self) -> float:
        """Inner-lip gap in eye distances (0 for closed lips)."""
        from talkinghead.face.align import anchor_points
        from talkinghead.face.mouth import inner_lip_gap

        eyes = anchor_points(self.landmarks)
        return inner_lip_gap(self.landmarks) / max(float(np.linalg.norm(eyes[1] - eyes[0])), 1e-6)

    def aligned(self, crop_size: int):
        """The face aligned to a generator's canonical crop (GATH)."""
        from talkinghead.face.align import align_face

        return align_face(self.image, self.landmarks, crop_size)
