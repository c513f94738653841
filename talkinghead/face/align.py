"""Similarity alignment of a face to the model's canonical crop, and pasting a crop back.

The crop is a loose portrait like the paper's 100x100 training images: eye centres and the
mouth centre land on fixed places (TEMPLATE), leaving the whole face, some hair, the chin
and a little background in view. `AlignedFace.matrix` is the 2x3 similarity that made the
crop, so pasting a generated crop back is its exact inverse.

Typical use (render: align once per photo, paste back every frame):

    aligned = detect_and_align(photo)                 # AlignedFace
    paster = Paster(aligned, photo.shape)             # feather mask etc. computed once
    frame = paster.paste(photo, generated_crop)       # fast: only the face region is touched
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from talkinghead.errors import UserError
from talkinghead.face.landmarks import LEFT_EYE, MOUTH_LEFT, MOUTH_RIGHT, RIGHT_EYE, LandmarkDetector

DEFAULT_CROP_SIZE = 100

# Where the subject's right eye, left eye and mouth centre go, in units of the crop side.
TEMPLATE = np.array([[0.365, 0.41], [0.635, 0.41], [0.5, 0.71]], dtype=np.float64)


@dataclass
class AlignedFace:
    """An aligned face crop and the transform that made it.

    crop: HxWx3 uint8 RGB; matrix: 2x3 similarity mapping photo pixels to crop pixels;
    source_size: (height, width) of the photo; landmarks: (478, 3) in photo pixels.
    """

    crop: np.ndarray
    matrix: np.ndarray
    source_size: tuple[int, int]
    landmarks: np.ndarray = field(repr=False)

    @property
    def crop_size(self) -> int:
        return int(self.crop.shape[0])

    @property
    def scale(self) -> float:
        """Crop pixels per photo pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))


def anchor_points(landmarks: np.ndarray) -> np.ndarray:
    """The three alignment anchors in the photo: right eye, left eye, mouth centre (3x2)."""
    pts = landmarks[:, :2].astype(np.float64)
    return np.stack(
        [pts[list(RIGHT_EYE)].mean(0), pts[list(LEFT_EYE)].mean(0), (pts[MOUTH_RIGHT] + pts[MOUTH_LEFT]) / 2]
    )


def similarity_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2D similarity (rotation, uniform scale, translation) mapping src to dst."""
    src_c, dst_c = src - src.mean(0), dst - dst.mean(0)
    # z = a + ib maps (x + iy) -> z (x + iy): closed form for complex least squares.
    zs, zd = src_c[:, 0] + 1j * src_c[:, 1], dst_c[:, 0] + 1j * dst_c[:, 1]
    z = np.vdot(zs, zd) / max(np.vdot(zs, zs).real, 1e-12)
    a, b = z.real, z.imag
    rot = np.array([[a, -b], [b, a]])
    t = dst.mean(0) - rot @ src.mean(0)
    return np.hstack([rot, t[:, None]])


def warp_region(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """warpAffine of only the region the crop sees, pre-shrunk when the face is much larger
    than the crop so the result is not aliased."""
    h, w = image.shape[:2]
    inv = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64) @ inv.T
    x0, y0 = np.floor(corners.min(0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((size, size, 3), np.uint8)
    roi = image[y0:y1, x0:x1]
    shift = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    f = 1.0
    if scale < 0.5:  # shrink to ~2x the crop resolution with area averaging first
        f = 2.0 * scale
        rw, rh = max(1, round(roi.shape[1] * f)), max(1, round(roi.shape[0] * f))
        f_x, f_y = rw / roi.shape[1], rh / roi.shape[0]
        roi = cv2.resize(roi, (rw, rh), interpolation=cv2.INTER_AREA)
        shift = shift @ np.diag([1 / f_x, 1 / f_y, 1.0])
    m = np.vstack([matrix, [0, 0, 1]]) @ shift
    return cv2.warpAffine(roi, m[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align_face(image: np.ndarray, landmarks: np.ndarray, crop_size: int = DEFAULT_CROP_SIZE) -> AlignedFace:
    """Crop the face with these landmarks (photo pixels) to the canonical crop."""
    if crop_size < 16:
        raise ValueError(f"crop size must be at least 16, got {crop_size}")
    matrix = similarity_matrix(anchor_points(landmarks), TEMPLATE * crop_size)
    crop = warp_region(image, matrix, crop_size)
    return AlignedFace(
        crop, matrix.astype(np.float64), (int(image.shape[0]), int(image.shape[1])), np.asarray(landmarks, np.float32)
    )


def detect_and_align(
    image: np.ndarray,
    crop_size: int = DEFAULT_CROP_SIZE,
    face_index: int | None = None,
    detector: LandmarkDetector | None = None,
) -> AlignedFace:
    """Find the faces in an RGB uint8 photo and align one: the largest by default, or the
    `face_index`-th largest (0-based). Raises UserError when there is no such face."""
    if detector is None:
        with LandmarkDetector(video=False) as det:
            faces = det.detect(image)
    else:
        faces = detector.detect(image)
    if not faces:
        raise UserError("no face found in the image (try a frontal, well-lit photo where the face is clearly visible)")
    index = 0 if face_index is None else face_index
    if not 0 <= index < len(faces):
        raise UserError(
            f"face index {index} requested but only {len(faces)} face(s) found (indices 0..{len(faces) - 1})"
        )
    return align_face(image, faces[index], crop_size)


def feather_mask(size: int) -> np.ndarray:
    """Blend weight in crop space: 1 inside, falling smoothly to 0 before the crop border."""
    inset = max(2, round(0.07 * size))
    mask = np.zeros((size, size), np.float32)
    cv2.rectangle(mask, (inset, inset), (size - 1 - inset, size - 1 - inset), 1.0, -1)
    sigma = max(1.0, 0.035 * size)
    return cv2.GaussianBlur(mask, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)


class Paster:
    """Pastes crops of one aligned face back into its photo (or same-size video frames).

    Everything that depends only on the photo geometry (the inverse warp of the face
    region, the feathered mask) is computed once here; `paste` then costs one small
    warpAffine and one blend over the face's bounding region.
    """

    def __init__(self, aligned: AlignedFace, crop_size: int | None = None) -> None:
        self.aligned = aligned
        size = crop_size or aligned.crop_size
        self.crop_size = size
        h, w = aligned.source_size
        matrix = np.vstack([aligned.matrix, [0, 0, 1]])
        matrix = np.diag([size / aligned.crop_size, size / aligned.crop_size, 1.0]) @ matrix
        inv = np.linalg.inv(matrix)
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64) @ inv.T
        x0, y0 = np.floor(corners[:, :2].min(0)).astype(int)
        x1, y1 = np.ceil(corners[:, :2].max(0)).astype(int)
        self.x0, self.y0, self.x1, self.y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            raise ValueError("the aligned face lies outside the photo")
        shifted = np.array([[1, 0, -self.x0], [0, 1, -self.y0], [0, 0, 1]], dtype=np.float64) @ inv
        self._to_roi = shifted[:2]
        self._roi_size = (self.x1 - self.x0, self.y1 - self.y0)
        mask = feather_mask(size)
        self._crop_mask = mask
        warped = cv2.warpAffine(
            mask, self._to_roi, self._roi_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        self._weight = np.ascontiguousarray(warped, np.float32)
        self._weight_bg = np.ascontiguousarray(1.0 - warped, np.float32)
        # The band just inside the feather, where the generated crop meets the photo.
        self._band = (mask > 0.05) & (mask < 0.9)
        ref = aligned.crop
        if ref.shape[0] != size:
            ref = cv2.resize(ref, (size, size), interpolation=cv2.INTER_LINEAR)
        self._ref_band_mean = ref[self._band].reshape(-1, 3).astype(np.float32).mean(0)

    def colour_matched(self, crop: np.ndarray) -> np.ndarray:
        """The crop shifted per channel so its border band matches the photo's (removes the
        global colour/brightness drift of a generator, which would show as a seam)."""
        offset = self._ref_band_mean - crop[self._band].reshape(-1, 3).astype(np.float32).mean(0)
        return np.clip(crop.astype(np.float32) + offset, 0, 255).astype(np.uint8)

    def paste(
        self, photo: np.ndarray, crop: np.ndarray, colour_match: bool = True, inplace: bool = False
    ) -> np.ndarray:
        """Blend `crop` (crop_size x crop_size x 3 uint8 RGB) into `photo` and return it."""
        h, w = self.aligned.source_size
        if photo.shape[:2] != (h, w):
            raise ValueError(f"photo is {photo.shape[1]}x{photo.shape[0]}, the face was aligned on {w}x{h}")
        if crop.shape != (self.crop_size, self.crop_size, 3) or crop.dtype != np.uint8:
            raise ValueError(
                f"expected a {self.crop_size}x{self.crop_size}x3 uint8 crop, got {crop.dtype} {crop.shape}"
            )
        if colour_match:
            crop = self.colour_matched(crop)
        warped = cv2.warpAffine(
            crop, self._to_roi, self._roi_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        out = photo if inplace else photo.copy()
        roi = out[self.y0 : self.y1, self.x0 : self.x1]
        roi[:] = cv2.blendLinear(warped, np.ascontiguousarray(roi), self._weight, self._weight_bg)
        return out


def paste_back(photo: np.ndarray, aligned: AlignedFace, crop: np.ndarray, colour_match: bool = True) -> np.ndarray:
    """One-off paste of a crop into a copy of the photo. For video, build a `Paster` once."""
    return Paster(aligned, crop.shape[0]).paste(photo, crop, colour_match)
