#!/usr/bin/env python
"""Head motion (issue 26): render the shared portraits with and without head motion and
measure them, and real clips, with the independent yardstick (../shared/tools/thevals.py).

Run from the repo root in the project's venv:

    . .venv/bin/activate
    python docs/results/2026-12-06-head-motion/make.py [--out /tmp/head-results]

Writes into --out: renders/ (mp4 + AU CSV, large: not for the repo), json/ (one thevals
answer per call), renders.csv/json, real.csv/json, goals.json, sheets/*.jpg, pose_timeline.png.
Only the small files (sheets, plot, csv/json summaries) belong in docs/results.
"""

import argparse
import csv
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

DATA = Path("/work/shared/data")
THEVALS = ["/tmp/th-eval/venv/bin/python", "/work/shared/tools/thevals.py"]
SPEECH = DATA / "speech" / "musetalk_eng.wav"

# Real reference clips (held out, web-style speech). label -> path under DATA/video.
REAL = [
    ("lrs2 00001", "more/lrs2_deep_avsr/00001.mp4"),
    ("lrs2 00009", "more/lrs2_deep_avsr/00009.mp4"),
    ("lrs2 00019", "more/lrs2_deep_avsr/00019.mp4"),
    ("voxceleb 00002", "clips/pcavs_voxceleb/00002.mp4"),
    ("voxceleb 00010", "clips/pcavs_voxceleb/00010.mp4"),
    ("video_retalking 1", "clips/video_retalking/1.mp4"),
    ("theresa may", "more/mimictalk/May_5s.mp4"),
    ("obama (edtalk uncrop)", "more/edtalk/uncrop_Obama.mp4"),
    ("obama (DNC 2004, 1T)", "more/lipsync_supratim/1T.mp4"),
    ("macron", "more/dfrf/french.mp4"),
    ("cnn acosta", "more/dfrf/cnn2_25fps.mp4"),
    ("liveportrait d6", "clips/liveportrait_driving/d6.mp4"),
    ("liveportrait d10", "clips/liveportrait_driving/d10.mp4"),
    ("liveportrait d11", "clips/liveportrait_driving/d11.mp4"),
    ("liveportrait d12", "clips/liveportrait_driving/d12.mp4"),
    ("liveportrait d14", "clips/liveportrait_driving/d14.mp4"),
    ("liveportrait d20", "clips/liveportrait_driving/d20.mp4"),
    ("liveportrait s18", "clips/liveportrait_driving/s18.mp4"),
]

# Kinds judged by eye from the contact sheets (make.py does not infer them).
KINDS = {
    "grace_hopper": "studio (official photo), glasses, cap",
    "grid_s1": "studio (blue screen), frontal",
    "liveportrait_s1": "colour photo, short hair, earrings",
    "liveportrait_s12_bw": "historic, colourised (not b/w), moustache",
    "liveportrait_s2_bw": "black-and-white, curly hair",
    "pcavs_voxceleb_00002": "three-quarter/profile, long hair, 224 px crop",
    "pcavs_voxceleb_00010": "glasses, slight three-quarter, 224 px crop",
    "pcavs_voxceleb_00015": "TV crop, slight three-quarter, 224 px crop",
    "pcavs_voxceleb_00373": "long hair, three-quarter, 224 px crop",
    "video_retalking_1": "frontal speaker, brick wall (straight lines)",
    "video_retalking_2": "frontal speaker, map background",
    "video_retalking_4": "long hair, earrings, plain background",
    "video_retalking_5": "glasses, busy background",
}

AXES = ("yaw", "pitch", "roll")


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def thevals(args, cache):
    """One thevals call; the JSON is cached in cache (a path)."""
    cache = Path(cache)
    if cache.exists():
        return json.loads(cache.read_text())
    p = subprocess.run(["nice", "-n", "10", *THEVALS, *map(str, args)], capture_output=True, text=True)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    cache.write_text(json.dumps(out))
    return out


def demo_photo():
    from talkinghead.commands.demo import demo_photo as f

    return Path(f())


def cut_speech(seconds, dst):
    import soundfile as sf

    x, sr = sf.read(str(SPEECH))
    sf.write(str(dst), x[: int(seconds * sr)], sr)


def render(photo, wav, out_mp4, csv_path, head_motion, seed, *extra):
    if out_mp4.exists() and csv_path.exists():
        return None
    cmd = [
        "nice",
        "-n",
        "10",
        "talkinghead",
        "render",
        "--photo",
        str(photo),
        "--audio",
        str(wav),
        "-o",
        str(out_mp4),
        "--save-aus",
        str(csv_path),
        "--seed",
        str(seed),
        "--quiet",
    ]
    if head_motion is not None:
        cmd += ["--head-motion", str(head_motion)]
    cmd += list(extra)
    t0 = time.time()
    subprocess.run(cmd, check=True)
    return time.time() - t0


def video_size(path):
    cap = cv2.VideoCapture(str(path))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return w, h, n


def read_frames(path, indices):
    want, got = set(indices), {}
    cap = cv2.VideoCapture(str(path))
    i = 0
    while want - set(got):
        ok, f = cap.read()
        if not ok:
            break
        if i in want:
            got[i] = f
        i += 1
    cap.release()
    return got


def head_csv(path):
    """(time, yaw, pitch, roll) in degrees from a --save-aus CSV (radians there)."""
    rows = list(csv.DictReader(open(path)))
    t = np.array([float(r["time"]) for r in rows])
    if "HeadYaw" not in rows[0]:  # --head-motion 0 writes no head columns
        return t, None
    a = np.array([[math.degrees(float(r[k])) for k in ("HeadYaw", "HeadPitch", "HeadRoll")] for r in rows])
    return t, a


def face_box(bgr):
    """Face-mesh box (x0, y0, x1, y1) in pixels of one image, or None."""
    import mediapipe as mp

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as m:
        res = m.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if not res.multi_face_landmarks:
        return None
    h, w = bgr.shape[:2]
    xs = np.array([p.x for p in res.multi_face_landmarks[0].landmark]) * w
    ys = np.array([p.y for p in res.multi_face_landmarks[0].landmark]) * h
    return xs.min(), ys.min(), xs.max(), ys.max()


def head_crop_box(box, w, h, grow=1.0):
    x0, y0, x1, y1 = box
    fw = x1 - x0
    return (
        int(max(0, x0 - grow * fw)),
        int(max(0, y0 - grow * fw)),
        int(min(w, x1 + grow * fw)),
        int(min(h, y1 + grow * fw)),
    )


def tile(img, size, label, sub=""):
    """img resized to fit size x size on grey, with a label bar on top."""
    h, w = img.shape[:2]
    s = size / max(h, w)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    r = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)
    t = np.full((size + 44, size, 3), 40, np.uint8)
    oy, ox = 22 + (size - r.shape[0]) // 2, (size - r.shape[1]) // 2
    t[oy : oy + r.shape[0], ox : ox + r.shape[1]] = r
    cv2.putText(t, label, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    if sub:
        cv2.putText(t, sub, (4, size + 38), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1, cv2.LINE_AA)
    return t


def grid(tiles, cols):
    rows = [tiles[i : i + cols] for i in range(0, len(tiles), cols)]
    blank = np.full_like(tiles[0], 40)
    rows[-1] = rows[-1] + [blank] * (cols - len(rows[-1]))
    return np.vstack([np.hstack(r) for r in rows])


def portrait_sheet(name, photo_r, mov, still, csv_path, dst):
    """Photo, 6 frames at the pose extremes (moving render) and the still render at the yaw
    extreme, all cropped to the head grown 1 face width."""
    t, a = head_csv(csv_path)
    picks = []
    for j, ax in enumerate(AXES):
        for fn, tag in ((np.argmin, "min"), (np.argmax, "max")):
            picks.append((int(fn(a[:, j])), f"{ax} {tag}"))
    frames = read_frames(mov, [i for i, _ in picks])
    ymax = picks[1][0]
    sframe = read_frames(still, [ymax]).get(ymax)
    h, w = photo_r.shape[:2]
    box = face_box(photo_r)
    x0, y0, x1, y1 = head_crop_box(box, w, h) if box else (0, 0, w, h)
    size = 300
    tiles = [tile(photo_r[y0:y1, x0:x1], size, f"{name}: photo")]
    for i, tag in picks:
        f = frames.get(i)
        if f is None:
            continue
        yp = a[min(i, len(a) - 1)]
        tiles.append(
            tile(f[y0:y1, x0:x1], size, f"moving f{i} {tag}", f"model y{yp[0]:+.1f} p{yp[1]:+.1f} r{yp[2]:+.1f} deg")
        )
    if sframe is not None:
        tiles.append(tile(sframe[y0:y1, x0:x1], size, f"still (S=0) f{ymax}"))
    cv2.imwrite(str(dst), grid(tiles, 4), [cv2.IMWRITE_JPEG_QUALITY, 80])


def side_by_side(items, dst):
    """items: (name, still mp4, moving mp4, frame index): full frames, still | moving."""
    tiles = []
    for name, still, mov, i in items:
        s = read_frames(still, [i]).get(i)
        m = read_frames(mov, [i]).get(i)
        tiles += [tile(s, 300, f"{name} still f{i}"), tile(m, 300, f"{name} moving f{i}")]
    cv2.imwrite(str(dst), grid(tiles, 4), [cv2.IMWRITE_JPEG_QUALITY, 80])


def timeline(model_items, real_items, dst, seconds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(model_items) + len(real_items)
    fig, axs = plt.subplots(n, 1, figsize=(10, 1.9 * n), sharex=True, sharey=True)
    for ax, (title, t, a, meas) in zip(axs, model_items + real_items):
        for j, (lab, c) in enumerate(zip(AXES, ("C0", "C1", "C2"))):
            ax.plot(t, a[:, j], c, lw=1, label=lab)
            if meas is not None:
                ax.plot(meas[0], meas[1][:, j], c, lw=0.8, ls=":", alpha=0.8)
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_ylabel("deg", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    axs[0].legend(fontsize=7, ncol=3, loc="upper right")
    axs[-1].set_xlabel("s", fontsize=8)
    axs[-1].set_xlim(0, seconds)
    fig.tight_layout()
    fig.savefig(dst, dpi=72)
    plt.close(fig)


def series_of(pose_json):
    s = np.array([[np.nan if v is None else v for v in r] for r in pose_json["series"]], float)
    return np.arange(len(s)) / pose_json["fps"], s


def hold_share(pose_json, seconds, below=5.0, smooth=7):
    """Share of frames (first `seconds`) in which the measured head moves slower than `below`
    deg/s (the norm over yaw/pitch/roll, after a `smooth`-frame moving mean against tracker
    jitter): how much of the time a head holds still, and the median speed so measured."""
    t, s = series_of(pose_json)
    s = s[t < seconds]
    k = np.ones(smooth) / smooth
    s = np.stack([np.convolve(np.nan_to_num(c, nan=float(np.nanmean(c))), k, "valid") for c in s.T], 1)
    sp = np.linalg.norm(np.diff(s, axis=0), axis=1) * pose_json["fps"]
    return {"hold_share": round(float((sp < below).mean()), 2), "median_speed": round(float(np.median(sp)), 1)}


POSE_KEYS = ("rot_std_mean", "yaw_std", "pitch_std", "roll_std", "yaw_speed", "pitch_speed", "roll_speed")


def pose_fields(p, prefix=""):
    d = {prefix + k: p.get(k) for k in POSE_KEYS}
    sp = [p.get(k) for k in ("yaw_speed", "pitch_speed", "roll_speed")]
    d[prefix + "speed_mean"] = round(float(np.mean(sp)), 2) if None not in sp else None
    d[prefix + "detected"] = f"{p.get('detected')}/{p.get('n_frames')}"
    return d


def write_table(rows, path):
    keys = list(rows[0])
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def med(vals):
    v = [x for x in vals if x is not None]
    return round(statistics.median(v), 3) if v else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/head-results", help="output folder")
    ap.add_argument("--seconds", type=float, default=12.0, help="speech length (s)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    for d in ("renders", "json", "sheets", "photos"):
        (out / d).mkdir(parents=True, exist_ok=True)
    wav = out / "speech.wav"
    if not wav.exists():
        cut_speech(args.seconds, wav)

    photos = sorted(p for p in (DATA / "portraits").iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")) + [
        demo_photo()
    ]
    rows, renders = [], {}
    for photo in photos:
        name = photo.stem
        R = {}
        for tag, hm in (("move", None), ("still", 0)):
            mp4, cp = out / "renders" / f"{name}_{tag}.mp4", out / "renders" / f"{name}_{tag}.csv"
            dt = render(photo, wav, mp4, cp, hm, args.seed)
            log(f"render {name} {tag}", f"{dt:.1f} s" if dt else "(kept)")
            R[tag] = (mp4, cp)
        renders[name] = R
        mov, still = R["move"][0], R["still"][0]
        w, h, n = video_size(mov)
        # The photo as the renderer saw it (talkinghead/portrait.py): scaled with INTER_AREA to
        # the render's height (the photo's, at most 720) at an even width, or, at its own
        # height, cropped to even sides. thevals bgdiff would instead resize a photo of
        # another size to the video's, which shifts pixels by up to 1 px when the renderer
        # cropped one column (liveportrait_s12_bw: 5.8 vs 2.4 levels), so all measures
        # that compare with the photo get this copy.
        img = cv2.imread(str(photo))
        ih, iw = img.shape[:2]
        if ih != h:
            photo_r = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        else:
            photo_r = img[:h, :w]
        assert photo_r.shape[:2] == (h, w), (photo_r.shape, w, h)
        pr = out / "photos" / f"{name}_at_render.png"
        cv2.imwrite(str(pr), photo_r)
        J = out / "json"
        pm = thevals(["pose", mov], J / f"{name}_move_pose.json")
        ps = thevals(["pose", still], J / f"{name}_still_pose.json")
        # the box: 0.8 face widths left/right/up, 1.2 (= 1.5 x 0.8) down
        bm = thevals(["bgdiff", "--grow", "0.8", "--n", "40", pr, mov], J / f"{name}_move_bg.json")
        bs = thevals(["bgdiff", "--grow", "0.8", "--n", "40", pr, still], J / f"{name}_still_bg.json")
        im = thevals(["identity", photo, mov], J / f"{name}_move_id.json")
        is_ = thevals(["identity", photo, still], J / f"{name}_still_id.json")
        sm = thevals(["sharp", mov], J / f"{name}_move_sharp.json")
        ss = thevals(["sharp", still], J / f"{name}_still_sharp.json")
        sp = thevals(["sharp", pr], J / f"{name}_photo_sharp.json")
        ref = sp.get("face_lapvar_128")
        row = {
            "portrait": name,
            "kind": KINDS.get(name, "?"),
            "photo_size": f"{img.shape[1]}x{img.shape[0]}",
            "render_size": f"{w}x{h}",
            "frames": n,
        }
        row.update(pose_fields(pm))
        row.update({"still_" + k: ps.get(k) for k in ("rot_std_mean", "yaw_std", "pitch_std", "roll_std")})
        row["still_speed_mean"] = pose_fields(ps)["speed_mean"]
        row["still_axes_below_1"] = (
            None if ps.get("yaw_std") is None else max(ps["yaw_std"], ps["pitch_std"], ps["roll_std"]) < 1.0
        )
        row["still_detected"] = f"{ps.get('detected')}/{ps.get('n_frames')}"
        if row["still_axes_below_1"] is False:
            # diagnostic: is it the tracker reacting to blinks and brows, or a moving head?
            qm, qc = out / "renders" / f"{name}_stillquiet.mp4", out / "renders" / f"{name}_stillquiet.csv"
            render(photo, wav, qm, qc, 0, args.seed, "--no-blinks", "--no-idle")
            pq = thevals(["pose", qm], J / f"{name}_stillquiet_pose.json")
            row["still_noblink_noidle_std"] = "/".join(str(pq.get(k)) for k in ("yaw_std", "pitch_std", "roll_std"))
        row["bg_frac"] = bm.get("bg_frac")
        row["bgdiff_move"], row["bgdiff_still"] = bm.get("bg_diff"), bs.get("bg_diff")
        row["bgdiff_move_max"] = bm.get("bg_diff_max")
        row["id_move"], row["id_move_max"] = im.get("dist_mean"), im.get("dist_max")
        row["id_still"] = is_.get("dist_mean")
        row["sharp_photo_128"] = ref
        row["sharp_move_rel"] = round(sm["face_lapvar_128"] / ref, 3) if ref and sm.get("face_lapvar_128") else None
        row["sharp_still_rel"] = round(ss["face_lapvar_128"] / ref, 3) if ref and ss.get("face_lapvar_128") else None
        t, a = head_csv(R["move"][1])
        row["model_std_mean"] = round(float(a.std(0).mean()), 2)
        row["model_speed_mean"] = round(float((np.abs(np.diff(a, axis=0)).mean(0) * 25).mean()), 2)
        ts, as_ = head_csv(R["still"][1])
        row["model_still_head"] = "no head columns" if as_ is None else f"max |angle| {np.abs(as_).max():.4f} deg"
        rows.append(row)
        log(
            name,
            {
                k: row[k]
                for k in (
                    "rot_std_mean",
                    "speed_mean",
                    "still_rot_std_mean",
                    "bgdiff_move",
                    "bgdiff_still",
                    "id_move",
                    "sharp_move_rel",
                )
            },
        )
        portrait_sheet(name, photo_r, mov, still, R["move"][1], out / "sheets" / f"head_{name}.jpg")
    write_table(rows, out / "renders.csv")
    (out / "renders.json").write_text(json.dumps(rows, indent=1))

    real_rows, real_series = [], {}
    for label, rel in REAL:
        path = DATA / "video" / rel
        if not path.exists():
            real_rows.append({"clip": label, "path": rel, "missing": True})
            log("missing", rel)
            continue
        key = rel.replace("/", "_").replace(".mp4", "")
        p = thevals(["pose", "--series", path], out / "json" / f"real_{key}_pose.json")
        real_series[label] = p
        w, h, n = video_size(path)
        row = {
            "clip": label,
            "path": rel,
            "size": f"{w}x{h}",
            "fps": p.get("fps"),
            "seconds": round(n / p["fps"], 1) if p.get("fps") else None,
        }
        row.update(pose_fields(p))
        real_rows.append(row)
        log(label, row["rot_std_mean"], row["speed_mean"])
    write_table(real_rows, out / "real.csv")
    (out / "real.json").write_text(json.dumps(real_rows, indent=1))

    # side by side: 4 portraits of different kinds, still | moving at the frame of max |yaw|
    items = []
    for name in ("grace_hopper", "liveportrait_s2_bw", "video_retalking_1", "pcavs_voxceleb_00002"):
        if name in renders:
            t, a = head_csv(renders[name]["move"][1])
            items.append((name, renders[name]["still"][0], renders[name]["move"][0], int(np.argmax(np.abs(a[:, 0])))))
    side_by_side(items, out / "sheets" / "still_vs_moving.jpg")

    # timeline: model pose (CSV, solid) with the pose thevals measures on the render (dotted),
    # and the measured pose of two real clips
    model_items, holds = [], {}
    for name in ("grace_hopper", "video_retalking_1"):
        t, a = head_csv(renders[name]["move"][1])
        pm = thevals(["pose", "--series", renders[name]["move"][0]], out / "json" / f"{name}_move_pose_series.json")
        holds[f"render {name}"] = hold_share(pm, args.seconds)
        ms, ma = series_of(pm)
        model_items.append(
            (
                f"render {name}: model pose (solid), measured on the video (dotted)",
                t,
                a - a.mean(0),
                (ms, ma - np.nanmean(ma, 0)),
            )
        )
    real_items = []
    for label in ("cnn acosta", "obama (edtalk uncrop)", "macron"):
        if label in real_series:
            holds[f"real {label}"] = hold_share(real_series[label], args.seconds)
    for label in ("cnn acosta", "obama (edtalk uncrop)"):
        if label in real_series:
            ts, s = series_of(real_series[label])
            real_items.append((f"real {label} (measured)", ts, s - np.nanmean(s, 0), None))
    timeline(model_items, real_items, out / "pose_timeline.png", args.seconds)

    # goals (issue 26, Measures)
    def share(vals, ok):
        v = [x for x in vals if x is not None]
        return f"{sum(ok(x) for x in v)}/{len(v)}"

    rs = [r["rot_std_mean"] for r in rows]
    sp = [r["speed_mean"] for r in rows]
    per_axis = [min(r[k] for k in ("yaw_std", "pitch_std", "roll_std")) for r in rows if r["yaw_std"] is not None]
    goals = {
        "rot_std_mean_1.5_8": {
            "median": med(rs),
            "min": min(x for x in rs if x is not None),
            "max": max(x for x in rs if x is not None),
            "in_range": share(rs, lambda x: 1.5 <= x <= 8),
        },
        "every_axis_std_at_least_1.5": share(per_axis, lambda x: x >= 1.5),
        "speed_5_30": {"median": med(sp), "in_range": share(sp, lambda x: 5 <= x <= 30)},
        "still_every_axis_below_1": share([r["still_axes_below_1"] for r in rows], bool),
        "identity_le_0.25": {
            "median": med([r["id_move"] for r in rows]),
            "max": max(r["id_move"] for r in rows if r["id_move"] is not None),
            "met": share([r["id_move"] for r in rows], lambda x: x <= 0.25),
        },
        "sharpness_ge_0.85": {
            "median": med([r["sharp_move_rel"] for r in rows]),
            "min": min(r["sharp_move_rel"] for r in rows if r["sharp_move_rel"]),
            "met": share([r["sharp_move_rel"] for r in rows], lambda x: x >= 0.85),
        },
        "background_le_3": {
            "median": med([r["bgdiff_move"] for r in rows]),
            "max": max((r["bgdiff_move"] for r in rows if r["bgdiff_move"] is not None), default=None),
            "met": share([r["bgdiff_move"] for r in rows], lambda x: x <= 3),
        },
        "hold_share_below_5_deg_s_first_12_s": holds,
        "real_median": {
            "rot_std_mean": med([r.get("rot_std_mean") for r in real_rows]),
            "speed_mean": med([r.get("speed_mean") for r in real_rows]),
        },
    }
    (out / "goals.json").write_text(json.dumps(goals, indent=1))
    print(json.dumps(goals, indent=1))


if __name__ == "__main__":
    main()
