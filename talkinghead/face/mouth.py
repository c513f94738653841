"""The inside of an opening mouth, drawn where the lips part beyond the photo's own opening.

A warp cannot show what the photo never did. Between the moved inner-lip contours this
draws a shaded cavity (darker away from the lips), upper teeth hanging from the upper lip
and lower teeth standing on the lower lip (both fading towards the corners), and a tongue
low in the mouth, all in colours taken from the photo (its lips, its own teeth or its lit
skin, grey for a grey photo). The fill is confined to the inner-lip polygon, anti-aliased
at its edge, so the lips themselves are never covered. A learned interior is GATH-W's job.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkinghead.face.landmarks import FACE_OVAL, LEFT_EYE, RIGHT_EYE
from talkinghead.face.warp import LOWER_INNER_LIP, LOWER_OUTER_LIP, UPPER_INNER_LIP, UPPER_OUTER_LIP

TOOTH_WHITE = np.array([236.0, 228.0, 208.0])  # the hue of a white tooth in neutral light
# Teeth the photo does not show are about as bright as its lit skin (the face's 90th
# brightness percentile) and take on part of the skin's hue (the light, the lips'
# reflection): TEETH_LEVEL and TEETH_TINT were fitted to the teeth in 23 speakers'
# widest-open real frames, then checked on the shared portraits that show their own teeth
# (docs/results/2026-12-02-teeth/fit_teeth.py).
TEETH_LEVEL = 0.98
TEETH_TINT = 0.55
# A photo that shows its own teeth lends them: pixels up to TEETH_REACH eye-corner
# distances outside the inner-lip contour (the landmarks sit on the lips' edge), at least
# MIN_TEETH_PIXELS of them.
TEETH_REACH = 0.02
MIN_TEETH_PIXELS = 30
# The proportions below were fitted to real open mouths of the tracked video (warp-only
# crops against the real frames: docs/results/2026-12-02-drawn-interior/fit_fill.py).
# GATH-W's training pairs bake the drawing in: bump DRAWING with any change to it, and pairs
# built with another drawing are refused (talkinghead.refiner_pairs).
DRAWING = 3
# Visible tooth height along each lip: a share of the inner-mouth width, at most a share of
# the opening (upper incisors hang into a small opening; lower teeth show less).
UPPER_TEETH = (0.13, 0.4)
LOWER_TEETH = (0.045, 0.2)
# Share of the mouth width with teeth in view (the corners show cavity); the lower teeth,
# further back behind the lower lip, show only in the middle.
TEETH_SPAN = 0.72
LOWER_TEETH_SPAN = 0.06
# Gaps between neighbouring teeth, in mouth widths from the centre line (incisors, canines).
TOOTH_GAPS = (0.0, -0.09, 0.09, -0.17, 0.17)
CAVITY = 0.45  # the cavity's colour at the lips, as a share of the lip colour,
SHADE_DEPTH = 0.55  # and how much darker the back of the mouth is than that
# The tongue's height (share of the opening) and colour (share of the lip colour): 0.9 fits
# real mouths a little better but is too close to the lips on a black and white print, where
# the mouth then reads half closed (MediaPipe's lip gap 0.10 instead of 0.16 at jawOpen 1).
TONGUE = (0.55, 0.7)
# GATH-W's mouth crop: its side in eye distances (an open mouth with its lips, the top of
# the chin and the philtrum) and its centre, the middle of the inner lips.
MOUTH_CROP_SPAN = 1.2


def inner_lip_gap(points: np.ndarray) -> float:
    """Largest gap between paired upper and lower inner-lip points (pixels)."""
    up, lo = points[list(UPPER_INNER_LIP[1:-1]), :2], points[list(LOWER_INNER_LIP[1:-1]), :2]
    return float(np.linalg.norm(lo - up, axis=1).max())


def inner_lip_polygon(points: np.ndarray) -> np.ndarray:
    """(N, 2) the inner-lip contour of `points` (468+ landmarks), upper lip from corner to
    corner, then the lower lip back (the corners are the upper lip's)."""
    up, lo = points[list(UPPER_INNER_LIP), :2], points[list(LOWER_INNER_LIP), :2]
    return np.concatenate([up, lo[-2:0:-1]])


def _polygon_mask(shape: tuple[int, int], polygon: np.ndarray, ss: int = 4) -> np.ndarray:
    """Each pixel's covered share of a polygon (coordinates of the mask's own pixels, pixel
    centres at integers): filled at `ss` times the resolution, then area-averaged, so the
    edge is smooth and never reaches past the polygon."""
    h, w = shape
    m = np.zeros((h * ss, w * ss), np.uint8)
    pts = (polygon + 0.5) * ss - 0.5
    cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_8, shift=4)
    return cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def is_grey(rgb: np.ndarray) -> bool:
    """Whether pixels (..., 3) are black-and-white: their channels agree, on average and
    pixel by pixel (within 2 levels). The drawn fill and GATH-W's paint stay grey there."""
    px = np.asarray(rgb, np.float64).reshape(-1, 3)
    return float(np.ptp(px.mean(0))) < 2.0 and float(np.abs(px - px.mean(1, keepdims=True)).mean()) < 2.0


def mouth_crop_matrix(points: np.ndarray, size: int) -> np.ndarray:
    """2x3 similarity from the image to a size x size crop centred on the inner lips,
    upright along the eye line, MOUTH_CROP_SPAN eye distances wide: the same mouth lands at
    the same place and scale whatever the photo's resolution or head roll."""
    from talkinghead.face.align import anchor_points

    right, left, _ = anchor_points(points)
    centre = points[list(UPPER_INNER_LIP + LOWER_INNER_LIP), :2].astype(np.float64).mean(0)
    across = left - right
    eyes = max(float(np.linalg.norm(across)), 1e-6)
    c, s = across / eyes * size / (MOUTH_CROP_SPAN * eyes)
    rot = np.array([[c, s], [-s, c]])
    return np.hstack([rot, ((size - 1) / 2 - rot @ centre)[:, None]])


def mouth_crop(image: np.ndarray, points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GATH-W's view of a mouth, the same in training pairs and in renders: (2x3 matrix,
    size x size RGB crop, parted-lip coverage of `points` in it). Area averaging when the
    crop shrinks the image, bilinear when it enlarges it."""
    m = mouth_crop_matrix(points, size)
    shrink = m[0, 0] ** 2 + m[0, 1] ** 2 < 1
    crop = cv2.warpAffine(
        image, m, (size, size), flags=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return m, crop, mouth_opening(points, m, size)


def mouth_opening(points: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """(size, size) float32 coverage of the inner-lip polygon of `points` (image pixels) in
    the crop that `matrix` makes: where the lips are parted."""
    poly = inner_lip_polygon(points).astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
    return _polygon_mask((size, size), poly)


def face_skin(photo: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(N, 3) float64 the pixels inside the face oval."""
    face = np.zeros(photo.shape[:2], np.uint8)
    cv2.fillPoly(face, [np.round(landmarks[list(FACE_OVAL), :2]).astype(np.int32)], 1)
    return photo[face > 0].reshape(-1, 3).astype(np.float64)


def teeth_from_skin(skin: np.ndarray) -> np.ndarray:
    """(3,) the colour of teeth in a photo whose face skin pixels are `skin` (N, 3): as bright
    as the lit skin, part of the way from a white tooth's hue to the skin's."""
    hue = TEETH_TINT * skin.mean(0) / max(skin.mean(), 1.0) + (1 - TEETH_TINT) * TOOTH_WHITE / TOOTH_WHITE.mean()
    return np.clip(TEETH_LEVEL * np.percentile(skin.mean(1), 90) * hue, 0, 255)


def visible_teeth(photo: np.ndarray, landmarks: np.ndarray, lip: np.ndarray) -> np.ndarray | None:
    """(3,) the median colour of the teeth a photo shows between its lips, or None when it
    shows fewer than MIN_TEETH_PIXELS: the pixels at most a little outside the inner-lip
    contour that are brighter than the lips (`lip`, their mean colour) and much less
    saturated. A grey photo has no such pixels."""
    pts = landmarks[:, :2]
    inner = inner_lip_polygon(pts)
    radius = max(1, int(round(TEETH_REACH * np.linalg.norm(pts[RIGHT_EYE[0]] - pts[LEFT_EYE[0]]))))
    x0, y0 = np.maximum(np.floor(inner.min(0)).astype(int) - radius, 0)
    x1, y1 = np.ceil(inner.max(0)).astype(int) + radius + 1
    box = np.ascontiguousarray(photo[y0:y1, x0:x1])
    if box.size == 0:
        return None
    mouth = np.zeros(box.shape[:2], np.uint8)
    cv2.fillPoly(mouth, [np.round(inner - [x0, y0]).astype(np.int32)], 1)
    mouth = cv2.dilate(mouth, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)) > 0
    hsv = cv2.cvtColor(box, cv2.COLOR_RGB2HSV)
    lip_saturation = cv2.cvtColor(np.uint8([[np.clip(lip, 0, 255)]]), cv2.COLOR_RGB2HSV)[0, 0, 1]
    teeth = mouth & (hsv[..., 1] < 0.6 * lip_saturation) & (box.mean(2) > lip.mean() + 15)
    return np.median(box[teeth].astype(np.float64), 0) if teeth.sum() >= MIN_TEETH_PIXELS else None


@dataclass
class MouthColours:
    """Colours of the fill, from the photo."""

    lip: np.ndarray  # (3,) mean lip colour
    teeth: np.ndarray  # (3,) the photo's own teeth where it shows them, else from its lit skin

    @classmethod
    def from_photo(cls, photo: np.ndarray, landmarks: np.ndarray) -> MouthColours:
        pts = landmarks[:, :2]
        outer = np.concatenate([pts[list(UPPER_OUTER_LIP)], pts[list(LOWER_OUTER_LIP)][::-1]])
        inner = inner_lip_polygon(pts)
        x0, y0 = np.floor(outer.min(0)).astype(int) - 1
        x1, y1 = np.ceil(outer.max(0)).astype(int) + 2
        x0, y0 = max(x0, 0), max(y0, 0)
        box = photo[y0:y1, x0:x1].reshape(-1, 3).astype(np.float64)
        shape = (y1 - y0, x1 - x0)
        lips = (_polygon_mask(shape, outer - [x0, y0]) > 0.5) & (_polygon_mask(shape, inner - [x0, y0]) < 0.5)
        lip = box[lips.ravel()].mean(0) if lips.sum() >= 4 else box.mean(0)
        grey = is_grey(box)
        teeth = visible_teeth(photo, landmarks, lip)
        if teeth is None:
            skin = face_skin(photo, landmarks)
            teeth = teeth_from_skin(skin if len(skin) else lip[None])
        if grey:
            lip, teeth = np.full(3, lip.mean()), np.full(3, teeth.mean())
        return cls(lip, teeth)


class MouthFill:
    """Draws the interior into frames of one photo."""

    def __init__(self, photo: np.ndarray, landmarks: np.ndarray) -> None:
        self.colours = MouthColours.from_photo(photo, landmarks)
        self.photo_gap = inner_lip_gap(landmarks)

    def strength(self, gap: float) -> float:
        """How much the drawn interior covers the warped one: 0 at the photo's own opening
        (its own interior, warped), 1 from twice that, fading in over the first pixels."""
        new = np.clip(2.0 * (gap - self.photo_gap) / max(gap, 1e-6), 0.0, 1.0)
        return float(new * np.clip((gap - 0.5) / 1.5, 0.0, 1.0))

    def draw(self, frame: np.ndarray, points: np.ndarray) -> None:
        """Fill the mouth of `frame` (in place) whose inner lips are at `points` (468+, 2)."""
        alpha = self.strength(inner_lip_gap(points))
        if alpha <= 0.0:
            return
        up, lo = points[list(UPPER_INNER_LIP), :2], points[list(LOWER_INNER_LIP), :2]
        h, w = frame.shape[:2]
        poly = inner_lip_polygon(points)
        x0, y0 = np.maximum(np.floor(poly.min(0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(poly.max(0)).astype(int) + 3, [w, h])
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        shape, off = (y1 - y0, x1 - x0), np.array([x0, y0], np.float64)
        up, lo, poly = up - off, lo - off, poly - off
        mouth = _polygon_mask(shape, poly)
        width = float(np.linalg.norm(up[-1] - up[0]))
        across = (up[-1] - up[0]) / max(width, 1e-6)
        down = np.array([-across[1], across[0]])  # towards the chin in the face's own frame
        if down @ (lo.mean(0) - up.mean(0)) < 0:
            down = -down
        gap = float(np.linalg.norm(lo - up, axis=1).max())
        # Cavity: darker with distance from the lips.
        dist = cv2.distanceTransform((mouth > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
        depth = np.clip(dist / (0.35 * gap + 1.0), 0, 1)
        c = self.colours
        fill = (CAVITY * c.lip)[None, None] * (1.0 - SHADE_DEPTH * depth)[..., None]
        # Tongue: a lip-coloured rise filling the bottom of the cavity, darker towards its back
        # (the real open mouths of the tracked video show it more than a dark hole).
        t = np.linspace(0, 1, len(lo))
        corner = np.sin(np.pi * t) ** 0.6  # 0 at the corners, 1 in the middle
        height, tone = TONGUE[0] * gap, TONGUE[1]
        tongue = _polygon_mask(shape, np.concatenate([lo, (lo - down * (height * corner)[:, None])[::-1]]))
        pixels = np.indices(shape)[::-1].transpose(1, 2, 0) + 0.5
        centre = (up[len(up) // 2] + lo[len(lo) // 2]) / 2
        along = ((pixels - centre) @ across) / max(width, 1e-6)  # -0.5 .. 0.5 corner to corner
        rise = np.clip(((lo[len(lo) // 2] - pixels) @ down) / max(height, 1e-6), 0, 1)
        rounded = (1.0 - 0.35 * rise) * (1.0 - 0.3 * np.clip(2 * np.abs(along), 0, 1) ** 2)
        fill = fill * (1 - 0.9 * tongue[..., None]) + 0.9 * tongue[..., None] * (tone * c.lip) * rounded[..., None]
        # Teeth: bands along the middle of the inner lips, darker towards the corners, with
        # thin shadows between neighbouring teeth.
        gaps = np.ones(shape, np.float32)
        for g in TOOTH_GAPS:
            gaps *= 1 - 0.25 * np.exp(-0.5 * ((along - g) * width / max(0.5, 0.006 * width)) ** 2)
        for lip, (share, cap), span, tone, sign in (
            (up, UPPER_TEETH, TEETH_SPAN, 1.0, 1.0),
            (lo, LOWER_TEETH, LOWER_TEETH_SPAN, 0.78, -1.0),
        ):
            middle = np.clip((corner - (1 - span)) / span, 0, 1) ** 0.5
            edge = lip + sign * down * (min(share * width, cap * gap) * middle)[:, None]
            teeth = _polygon_mask(shape, np.concatenate([lip, edge[::-1]]))
            shade = tone * (0.72 + 0.28 * np.clip(1 - np.abs(along) / (0.5 * TEETH_SPAN), 0, 1)) * gaps
            fill = fill * (1 - teeth[..., None]) + teeth[..., None] * c.teeth * shade[..., None]
        # A soft shadow just inside the lips, then the anti-aliased polygon as the alpha.
        rim = np.clip(dist / 2.0, 0, 1) * 0.15 + 0.85
        fill *= rim[..., None]
        fill = cv2.GaussianBlur(fill.astype(np.float32), (0, 0), 0.5 + 0.004 * width)
        a = (alpha * mouth)[..., None]
        region = frame[y0:y1, x0:x1]
        region[:] = np.clip(region * (1 - a) + fill * a, 0, 255).astype(np.uint8)
