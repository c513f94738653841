"""The rest frame of photos with parted lips, two ways: every lip-opening AU at 0 (before,
A) and the upper lip's raise kept (after, B; talkinghead.portrait.CLOSING_AUS). Prints the
rest frame's inner-lip gap (eye distances) and dlib's identity distance to the photo (the
shared `look` tools' evaluator venv, /tmp/th-eval/venv), writes rest_lips.jpg (rows:
portraits; columns: photo, A, B).

    python docs/results/2026-12-02-rest-lips/rest_lips.py   # from the repo root, in its venv
"""
import numpy as np, cv2, subprocess, json
from talkinghead.checkpoints import load_motion
from talkinghead.portrait import Portrait, WarpAnimator
LIP_OPENING_AUS = ("jawOpen", "mouthFunnel", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight")
from talkinghead.face.mouth import inner_lip_gap
from talkinghead.face.align import anchor_points
motion = load_motion(None)
def ident(photo_path, img):
    cv2.imwrite("/tmp/re.png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    out = subprocess.run(["/tmp/th-eval/venv/bin/python", "../shared/tools/thevals.py", "identity", photo_path, "/tmp/re.png"], capture_output=True, text=True).stdout
    v = json.loads(out)["dist_mean"]; return float("nan") if v is None else v
rows = []
for name in ["liveportrait_s1.jpg", "video_retalking_2.png", "video_retalking_5.png", "pcavs_voxceleb_00002.png", "video_retalking_4.png", "pcavs_voxceleb_00373.png"]:
    P = f"../shared/data/portraits/{name}"
    p = Portrait.open(P, max_height=720)
    an = WarpAnimator(p, motion)
    eyes = anchor_points(p.landmarks); ed = np.linalg.norm(eyes[1] - eyes[0])
    idx = [p.names.index(n) for n in LIP_OPENING_AUS]
    def variant(keep):
        r = p.aus.copy(); r[[i for i, n in zip(idx, LIP_OPENING_AUS) if n not in keep]] = 0; return r
    vs = {"photo": p.aus.copy(), "A_all": variant(()), "B_noUpper": variant(("mouthUpperUpLeft", "mouthUpperUpRight"))}
    line = [name, f"gap {p.lip_gap:.3f}"]
    crops = []
    mouth = p.landmarks[[61, 291, 0, 17], :2]; c = mouth.mean(0).astype(int); s = int(ed * 0.9)
    for k, a in vs.items():
        plan = an.plan(a[None]); f = an.draw(plan)[0]
        g = inner_lip_gap(plan.points[0]) / ed
        line.append(f"{k}: gap {g:.3f} id {ident(P, f):.3f}")
        crops.append(cv2.resize(f[max(c[1]-s//2,0):c[1]+s//2, max(c[0]-s,0):c[0]+s], (240, 120)))
    rows.append(np.concatenate(crops, 1))
    print(" | ".join(line), flush=True)
cv2.imwrite("docs/results/2026-12-02-rest-lips/rest_lips.jpg", cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))
