"""A dense warp of a photo's face region, driven by landmark motion, at the photo's own
resolution: every output pixel is a photo pixel moved, so the face stays as sharp as the
photo and keeps its identity.

The mesh (built once per photo) is MediaPipe's face tessellation plus what it lacks:
- the eye openings, triangulated lid to lid, so a blink pulls the upper lid down over
  the eye;
- the mouth opening, as its own triangles between the inner lips: they carry no skin, so
  when the lips part the gap shows nothing but a smear of the lip line, which the mouth
  interior (`talkinghead.face.mouth`) covers; the lips themselves never stretch across it;
- two rings outside the face oval: the first moves with a fraction of its oval point's
  motion, the second stays put. Chin, cheeks and forehead therefore fall off smoothly into
  the neck, ears, hair and background (no old chin line left behind), and beyond the second
  ring the photo is untouched;
- for a head that turns (`head=True`), a third ring further out (`HEAD_RING_SCALE`, kept
  inside the band that `head_turn` may move): the second ring then carries hair and ears
  with the head and the band to the third stretches the background behind them.

Per frame only the mesh vertices move; the map is piecewise affine over the triangles.
`cv2.remap` needs it backwards (for each frame pixel, where in the photo to sample), which
is the moved mesh rasterised with each triangle's corners' photo positions interpolated:
exact however much a triangle stretches (an opening mouth stretches its gap triangles from
nothing). Grid points no moved triangle covers keep the identity map, so pixels outside the
support come back bit-exact, and a frame whose vertices do not move is the photo itself.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from talkinghead.face.landmarks import FACE_OVAL

N_MESH = 468  # tessellated face points (the 10 iris points are not in the mesh)

UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
UPPER_OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_OUTER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_EYE_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)

RING_SCALES = (1.3, 1.75)  # rings at these multiples of the oval's distance from the face centre
RING_FOLLOW = 0.35  # the inner ring moves this fraction of its oval point's motion
HEAD_RING_SCALE = 2.2  # the still ring of a turning head, at most this far out ...
HEAD_RING_MIN = 1.95  # ... and at least this far (past the second ring)
# ... and inside the face-mesh box grown by these face widths (left/right, up, down): the
# background outside it stays the photo's (issue 26's measure grows it 0.8, 0.8, 1.2).
HEAD_BAND = (0.7, 0.7, 1.1)
FIELD_STEP = 2  # the motion field is computed on a grid this much coarser than the photo


def strip(upper: tuple[int, ...], lower: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Triangles between two vertex chains that share their end points (lids, lips)."""
    tris = []
    for i in range(len(upper) - 1):
        a, b, c, d = upper[i], upper[i + 1], lower[i + 1], lower[i]
        if a != d:
            tris.append((a, b, d))
        if b != c:
            tris.append((b, c, d))
    return tris


@lru_cache(maxsize=1)
def face_triangles() -> np.ndarray:
    """MediaPipe's tessellation as triangles (3-cycles of its edge list, minus the few
    3-cycles that are not faces: those whose three edges all border two other triangles),
    plus the two eye openings. The mouth opening is `mouth_triangles()`."""
    import mediapipe as mp

    edges = {tuple(sorted(e)) for e in mp.solutions.face_mesh_connections.FACEMESH_TESSELATION}
    adj = collections.defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    tris = sorted({tuple(sorted((a, b, c))) for a, b in edges for c in adj[a] & adj[b]})
    uses = collections.Counter(e for t in tris for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))
    faces = [t for t in tris if not all(uses[e] > 2 for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))]
    faces += strip(RIGHT_EYE_UPPER, RIGHT_EYE_LOWER) + strip(LEFT_EYE_UPPER, LEFT_EYE_LOWER)
    return np.array(faces, np.int32)


def mouth_triangles() -> np.ndarray:
    return np.array(strip(UPPER_INNER_LIP, LOWER_INNER_LIP), np.int32)


@dataclass
class WarpMesh:
    """The photo's mesh: vertices (face points, then the rings outward, each a loop of
    len(FACE_OVAL) points) in photo pixels."""

    points: np.ndarray  # (N_MESH + n_rings * len(FACE_OVAL), 2)
    triangles: np.ndarray  # (T, 3); the mouth-opening triangles come first
    n_mouth: int

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray, head: bool = False) -> WarpMesh:
        face = np.asarray(landmarks, np.float64)[:N_MESH, :2]
        oval = face[list(FACE_OVAL)]
        centre = oval.mean(0)
        rings = [centre + s * (oval - centre) for s in RING_SCALES]
        if head:
            rings.append(head_ring(face, oval, centre))
        n, k = N_MESH, len(FACE_OVAL)
        loops = [list(FACE_OVAL)] + [list(range(n + i * k, n + (i + 1) * k)) for i in range(len(rings))]
        ring_tris = [t for a, b in zip(loops, loops[1:]) for t in strip(tuple(a + a[:1]), tuple(b + b[:1]))]
        mouth = mouth_triangles()
        tris = np.concatenate([mouth, face_triangles(), np.array(ring_tris, np.int32)])
        return cls(np.concatenate([face, *rings]), tris, len(mouth))

    @property
    def n_rings(self) -> int:
        return (len(self.points) - N_MESH) // len(FACE_OVAL)

    def ring(self, i: int) -> np.ndarray:
        k = len(FACE_OVAL)
        return self.points[N_MESH + i * k : N_MESH + (i + 1) * k]

    @property
    def outline(self) -> np.ndarray:
        """The outermost ring: the warp's support is inside it."""
        return self.ring(self.n_rings - 1)

    def vertex_offsets(self, face_offsets: np.ndarray) -> np.ndarray:
        """(..., >=468, 2) offsets of the face points -> (..., V, 2) of every vertex."""
        face = face_offsets[..., :N_MESH, :]
        inner = RING_FOLLOW * face[..., list(FACE_OVAL), :]
        still = np.zeros_like(inner)
        return np.concatenate([face, inner] + [still] * (self.n_rings - 1), axis=-2)


def head_ring(face: np.ndarray, oval: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The still ring around a turning head: HEAD_RING_SCALE times the oval's distance from
    the centre, pulled in (never below HEAD_RING_MIN) to stay inside the face-mesh box grown
    by HEAD_BAND face widths."""
    lo, hi = face.min(0), face.max(0)
    width = hi[0] - lo[0]
    side, up, down = (b * width for b in HEAD_BAND)
    box_lo, box_hi = lo - [side, up], hi + [side, down]
    d = oval - centre
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(d > 0, (box_hi - centre) / d, np.where(d < 0, (box_lo - centre) / d, np.inf))
    scale = np.clip(room.min(1), HEAD_RING_MIN, HEAD_RING_SCALE)
    return centre + scale[:, None] * d


class DenseWarp:
    """Everything that depends only on the photo's geometry is computed once (the region
    the warp can touch, the grid); per frame, `backward_map` rasterises the moved mesh on a
    grid `step` times coarser than the photo and evaluates, at each grid point, its
    triangle's affine map back to the photo (exact for a piecewise-affine warp, however
    much a triangle stretches), then scales that map up to full resolution.

    The map is kept in absolute photo coordinates. The identity is linear, so where no
    triangle moved the linear upscaling reproduces it exactly (the grid has one cell of
    margin around the region so that holds at its border too) and those pixels come back
    bit-exact without a per-pixel mask."""

    def __init__(self, mesh: WarpMesh, image_shape: tuple[int, ...], step: int = FIELD_STEP) -> None:
        h, w = image_shape[:2]
        self.mesh, self.step = mesh, step
        lo = np.floor(mesh.points.min(0)).astype(int) - 2 * step
        hi = np.ceil(mesh.points.max(0)).astype(int) + 2 * step
        self.x0, self.y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
        self.x1, self.y1 = min(int(hi[0]), w), min(int(hi[1]), h)
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            raise ValueError("the face lies outside the photo")
        rw, rh = self.x1 - self.x0, self.y1 - self.y0
        self.fw, self.fh = -(-rw // step) + 2, -(-rh // step) + 2
        # Grid point (i, j) is the centre of a step x step cell: photo pixel x0 + step*(j-1+0.5) - 0.5
        # (column 0 is the margin), the convention cv2.resize uses, so scaling the map up puts
        # every value in place.
        gx, gy = np.meshgrid(np.arange(self.fw, dtype=np.float32), np.arange(self.fh, dtype=np.float32))
        self._gx, self._gy = gx.ravel(), gy.ravel()
        # grid (x, y, 1) -> photo coordinates where nothing moved
        c = -0.5 * step - 0.5
        self._identity_affine = np.array([[step, 0.0], [0.0, step], [self.x0 + c, self.y0 + c]])
        self._grid_photo = (step * self._gx + self.x0 + c, step * self._gy + self.y0 + c)  # each point's own position
        self._source = mesh.points.astype(np.float64)
        outline = np.zeros((self.fh, self.fw), np.uint8)
        cv2.fillPoly(outline, [np.round(self._to_grid(mesh.outline) * 16).astype(np.int32)], 1, shift=4)
        self._outside = outline == 0  # grid points that keep the identity, whatever moves

    @property
    def roi(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def _to_grid(self, points: np.ndarray) -> np.ndarray:
        return (points - [self.x0, self.y0] + 0.5) / self.step + 0.5

    def backward_map(
        self, vertex_offsets: np.ndarray, order: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Absolute photo coordinates (map_x, map_y), each (ROI height, ROI width) float32,
        that the frame's ROI pixels sample. Triangles are drawn in `order` (default: the
        mesh's, mouth-opening triangles first), a later one winning where they overlap."""
        tris = self.mesh.triangles
        grid = self._to_grid(self._source + vertex_offsets)
        ids = np.full((self.fh, self.fw), len(tris), np.int32)  # len(tris): no triangle, the identity
        corners = np.round(grid * 16).astype(np.int32)[tris]
        for t in range(len(tris)) if order is None else order:
            cv2.fillConvexPoly(ids, corners[t], int(t), lineType=cv2.LINE_8, shift=4)
        ids[self._outside] = len(tris)
        ids = ids.ravel()
        affines = np.concatenate([self._affines(grid, tris), self._identity_affine[None]]).astype(np.float32)
        a = np.take(affines.reshape(-1, 6), ids, axis=0)  # per grid point: x, y and constant rows
        # Inside a triangle the backward shift (photo position - frame position) is a blend
        # of its corners' (-offset), so it lies between their extremes. Rasterised edges
        # also claim grid points just outside a triangle, where a sliver's affine map
        # extrapolates far (a nostril pixel sampled the lips 37 px away): clip to them.
        back = np.concatenate([-vertex_offsets[tris], np.zeros((1, 3, 2))]).astype(np.float32)
        low, high = np.take(back.min(1), ids, axis=0), np.take(back.max(1), ids, axis=0)
        size, s = (self.fw * self.step, self.fh * self.step), self.step
        rows, cols = slice(s, s + self.y1 - self.y0), slice(s, s + self.x1 - self.x0)
        maps = []
        for k, here in enumerate(self._grid_photo):  # photo x, then y
            m = a[:, k] * self._gx
            m += a[:, 2 + k] * self._gy
            m += a[:, 4 + k]
            np.clip(m, here + low[:, k], here + high[:, k], out=m)
            maps.append(cv2.resize(m.reshape(self.fh, self.fw), size, interpolation=cv2.INTER_LINEAR)[rows, cols])
        return maps[0], maps[1]

    def _affines(self, grid: np.ndarray, tris: np.ndarray) -> np.ndarray:
        """Per triangle, the affine map (3, 2) from grid coordinates [x, y, 1] to the photo
        position its corners came from (the inverse of the corner matrix written out, which
        is ~50x faster than a batched solve); a collapsed triangle maps to its centroid."""
        (x0, y0), (x1, y1), (x2, y2) = np.moveaxis(grid[tris], 1, 0).transpose(0, 2, 1)
        det = x0 * (y1 - y2) + x1 * (y2 - y0) + x2 * (y0 - y1)
        adjugate = np.stack(
            [
                np.stack([y1 - y2, y2 - y0, y0 - y1], 1),
                np.stack([x2 - x1, x0 - x2, x1 - x0], 1),
                np.stack([x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0], 1),
            ],
            1,
        )
        source = self._source[tris]  # (T, 3, 2)
        ok = np.abs(det) > 1e-6
        out = np.einsum("tij,tjk->tik", adjugate, source) / np.where(ok, det, 1.0)[:, None, None]
        out[~ok] = 0.0
        out[~ok, 2] = source[~ok].mean(1)
        return out
