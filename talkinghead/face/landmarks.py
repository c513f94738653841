"""Dense 3D face landmarks (MediaPipe Face Mesh: 478 points with irises), fully offline.

The face detector and mesh models ship inside the mediapipe 0.10.21 wheel; nothing is
downloaded. Points are returned in pixel units of the input image: x, y in pixels and z
(depth, relative to the head centre, smaller = closer to the camera) on the scale of x.

Landmark indices follow MediaPipe's canonical face mesh; "left"/"right" below mean the
subject's own left/right (ARKit convention), so the subject's left eye is on the image's
right in an unmirrored photo.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # silence mediapipe's C++ info lines
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

N_LANDMARKS = 478

# Subject's right eye (image left) and left eye (image right): contour points.
RIGHT_EYE = (33, 133, 159, 145, 160, 158, 144, 153)
LEFT_EYE = (263, 362, 386, 374, 387, 385, 373, 380)
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
# Face oval, for the face's extent (largest-face choice, plausibility checks).
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)

# Detection runs on a copy whose longer side is at most this (very large photos).
DETECT_MAX_SIDE = 1280


# Lines mediapipe's C++ side (TFLite, absl/glog) writes to file descriptor 2.
NATIVE_LOG_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d\d|INFO: Created TensorFlow Lite|"
    rb"WARNING: All log messages before absl::InitializeLog)"
)
_native_filter: threading.Thread | None = None


def filter_native_logs() -> None:
    """Drop mediapipe's native log lines from this process's stderr, so users see our one
    line messages only. They come from graph threads at any moment (start-up, the first
    frames of a video, shutdown), so file descriptor 2 is routed, once per process, through
    a pipe whose reader forwards everything else unchanged (progress bars included). At
    exit the pipe is drained and the real stderr restored."""
    global _native_filter
    if _native_filter is not None:
        return
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward() -> None:
        pending = b""
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            out = b"".join(line + b"\n" for line in lines if not NATIVE_LOG_LINE.match(line))
            if pending[:1] not in (b"I", b"W", b"E", b"F") or b"\r" in pending:
                out, pending = out + pending, b""  # cannot become a native line (a progress bar): show it now
            if out:
                os.write(real, out)
        if not NATIVE_LOG_LINE.match(pending):
            os.write(real, pending)

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(real, 2)  # the write end's last copy closes: the reader sees EOF after draining
        _native_filter.join(timeout=2)

    _native_filter = threading.Thread(target=forward, name="native-log-filter", daemon=True)
    _native_filter.start()
    atexit.register(restore)


def face_area(points: np.ndarray) -> float:
    """Area of the landmark bounding box in pixels, to rank faces by size."""
    span = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
    return float(span[0] * span[1])


class LandmarkDetector:
    """Finds faces and their 478 landmarks in RGB uint8 images.

    `video=True` tracks one face across consecutive frames (faster and steadier);
    `video=False` treats every image independently and can return several faces.
    Use as a context manager or call `close()`: it holds a mediapipe graph.
    """

    def __init__(self, video: bool = False, max_faces: int = 4, min_confidence: float = 0.5) -> None:
        import mediapipe as mp

        self.video = video
        filter_native_logs()
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=not video,
            max_num_faces=1 if video else max_faces,
            refine_landmarks=True,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=0.5,
        )

    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Landmarks of every face found, largest first: a list of (478, 3) float32 arrays."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        h, w = rgb.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(h, w))
        small = rgb
        if scale < 1.0:
            import cv2

            small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        result = self._mesh.process(np.ascontiguousarray(small))
        if not result.multi_face_landmarks:
            return []
        faces = []
        for face in result.multi_face_landmarks:
            pts = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32)
            pts *= np.array([w, h, w], dtype=np.float32)
            faces.append(pts)
        faces.sort(key=face_area, reverse=True)
        return faces

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> LandmarkDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
