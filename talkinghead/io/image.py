"""Read any photo a user may hand us as an RGB uint8 array, or fail with one clear line.

Handles what real photos throw at a face pipeline: EXIF orientation (phone pictures are
stored sideways), grayscale, alpha (composited on white), palettes, 16-bit and float
images, and very large files.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from talkinghead.errors import UserError

# Pixels above this are refused: decoding would need several GB of memory.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")  # what edit writes and eval reads as portraits
MAX_PIXELS = 150_000_000

_EXIF_ORIENTATION = 0x0112


def _exif_orientation(data: bytes) -> int:
    from io import BytesIO

    from PIL import Image

    try:
        with Image.open(BytesIO(data)) as im:
            return int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - no readable EXIF means "as stored"
        return 1


def _apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip the stored pixels so they display upright (EXIF orientation 1-8)."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.swapaxes(a, 0, 1)[:, ::-1],
        7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],
        8: lambda a: np.swapaxes(a, 0, 1)[::-1, :],
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(img)) if op else img


def _to_uint8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return (img.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating):
        return (np.clip(np.nan_to_num(img), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    info = np.iinfo(img.dtype)
    scaled = (img.astype(np.float64) - info.min) / (info.max - info.min)
    return (scaled * 255.0 + 0.5).astype(np.uint8)


def _decode_with_pil(data: bytes) -> np.ndarray | None:
    from io import BytesIO

    from PIL import Image, ImageOps

    try:
        with Image.open(BytesIO(data)) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode not in ("RGB", "RGBA", "L", "LA"):
                im = im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB")
            arr = np.asarray(im)
    except Exception:  # noqa: BLE001 - any decoder failure means "not an image we can read"
        return None
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = arr[..., [2, 1, 0, 3][: arr.shape[2]]]  # to OpenCV channel order, like cv2.imdecode
    return arr


def to_rgb(img: np.ndarray) -> np.ndarray:
    """Any decoded array (gray, gray+alpha, BGR, BGRA; any bit depth) -> RGB uint8.
    Transparent pixels are composited on white."""
    img = _to_uint8(img)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    channels = img.shape[2]
    if channels == 1:
        return cv2.cvtColor(img[..., 0], cv2.COLOR_GRAY2RGB)
    if channels == 2:
        gray, alpha = img[..., 0], img[..., 1]
        img = np.dstack([gray, gray, gray, alpha])
        channels = 4
    if channels == 4:
        alpha = img[..., 3:4].astype(np.float32) / 255.0
        bgr = img[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return cv2.cvtColor((bgr + 0.5).astype(np.uint8), cv2.COLOR_BGR2RGB)
    return cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an upright HxWx3 RGB uint8 array.

    Raises UserError when the file is missing, empty, not an image, corrupt, or too large.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"image not found: {path}")
    if path.is_dir():
        raise UserError(f"expected an image file, got a folder: {path}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read image {path}: {e.strerror or e}") from None
    if not data:
        raise UserError(f"cannot read image {path}: the file is empty")
    _check_size(path, data)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is not None and img.size:
        img = _apply_orientation(img, _exif_orientation(data))
    else:
        img = _decode_with_pil(data)
    if img is None or img.size == 0:
        raise UserError(f"cannot read image {path}: not a valid image file (corrupt or unsupported format)")
    return to_rgb(img)


def _check_size(path: Path, data: bytes) -> None:
    from io import BytesIO

    from PIL import Image

    try:
        with Image.open(BytesIO(data)) as im:
            w, h = im.size
    except Image.DecompressionBombError:
        raise UserError(f"image {path} is too large (over {MAX_PIXELS // 1_000_000} MP)") from None
    except Exception:  # noqa: BLE001 - size unknown: let the decoders decide
        return
    if w * h > MAX_PIXELS:
        raise UserError(f"image {path} is too large ({w}x{h} pixels; at most {MAX_PIXELS // 1_000_000} MP)")


def write_image(path: Path, rgb: np.ndarray, params: list[int] | None = None) -> None:
    """Encode an RGB image by `path`'s extension (with OpenCV's encoder `params`, e.g. JPEG
    quality) into a temp file beside it, then rename."""
    from actionunits.atomic import atomic_output

    ok, data = cv2.imencode(path.suffix.lower(), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params or [])
    if not ok:
        raise UserError(f"cannot encode an image as {path.suffix}")
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.tobytes())
