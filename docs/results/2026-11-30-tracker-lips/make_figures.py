"""Does jawOpen stay the jaw? On GRID s1 (prepared at PREPARED, word timings from the shared
data): jawOpen, mouthClose and the measured lip gap in silence vs speech, and two 5x5 sheets:
the 25 frames with the jaw open and the lips pressed (min(jawOpen, mouthClose) highest) and
the 25 with the jaw open and the lips apart. Labels: j jawOpen, c mouthClose, g lip gap.

    python docs/results/2026-11-30-tracker-lips/make_figures.py [PREPARED=/work/prepared]
"""

import glob
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from actionunits import AUSeries
from audio2au.frame_measures import lip_gap

OUT = Path(__file__).parent
root = (sys.argv[1] if len(sys.argv) > 1 else "/work/prepared") + "/target/clips"
al = str(Path(__file__).parents[3].parent / "shared/data/video/grid/s1/align")
rng = np.random.default_rng(0)
clips = sorted(glob.glob(root + "/grid__s1__video__*"))
sil = []
sp = []
rows = []
for d in clips[::3]:
    name = d.split("__")[-1]
    f = f"{al}/{name}.align"
    if not os.path.exists(f):
        continue
    s = AUSeries.read_csv(d + "/aus.csv")
    v = s.values
    n = len(v)
    lab = np.zeros(n, bool)
    for line in open(f):
        a, b, w = line.split()
        a = int(a) // 1000
        b = int(b) // 1000
        if w != "sil":
            lab[a:b] = True
    jaw = v[:, s.names.index("jawOpen")]
    close = v[:, s.names.index("mouthClose")]
    g = lip_gap(np.load(d + "/landmarks.npy"))[:n]
    sil.append((jaw[~lab], g[~lab], close[~lab]))
    sp.append((jaw[lab], g[lab], close[lab]))
    for i in range(n):
        rows.append((d, i, jaw[i], close[i], g[i], lab[i]))
for nm, L in (("silence", sil), ("speech", sp)):
    j = np.concatenate([x[0] for x in L])
    g = np.concatenate([x[1] for x in L])
    c = np.concatenate([x[2] for x in L])
    print(
        f"{nm:8s} frames {len(j)} jawOpen mean {j.mean():.3f} p90 {np.percentile(j, 90):.3f}  "
        f"lip gap mean {np.nanmean(g):.3f}  mouthClose mean {c.mean():.3f}"
    )
rows = np.array(rows, dtype=object)
jaw = rows[:, 2].astype(float)
close = rows[:, 3].astype(float)
gap = rows[:, 4].astype(float)
# jaw open, lips pressed: high jawOpen*mouthClose
k1 = np.argsort(-(np.minimum(jaw, close)))[:25]
# jaw open, lips apart
k2 = np.argsort(-(jaw - close))[:25]


def tile(ks, title):
    ims = []
    for k in ks:
        d, i = rows[k][0], rows[k][1]
        im = cv2.imread(f"{d}/frames/{i:06d}.jpg")
        im = cv2.resize(im, (120, 120))
        cv2.putText(
            im,
            f"j{rows[k][2]:.2f} c{rows[k][3]:.2f} g{rows[k][4]:.2f}",
            (2, 116),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.32,
            (0, 255, 255),
            1,
        )
        ims.append(im)
    grid = np.vstack([np.hstack(ims[r * 5 : r * 5 + 5]) for r in range(5)])
    return grid


print(
    "jaw open & lips pressed frames: mean gap",
    np.nanmean(gap[k1]).round(3),
    "jaw",
    jaw[k1].mean().round(2),
    "close",
    close[k1].mean().round(2),
)
print("jaw open & lips apart frames: mean gap", np.nanmean(gap[k2]).round(3))
cv2.imwrite(str(OUT / "jaw_pressed.jpg"), tile(k1, ""), [cv2.IMWRITE_JPEG_QUALITY, 80])
cv2.imwrite(str(OUT / "jaw_apart.jpg"), tile(k2, ""), [cv2.IMWRITE_JPEG_QUALITY, 80])
