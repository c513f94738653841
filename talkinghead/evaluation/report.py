"""The evaluation's outputs, each written atomically: eval.json (every number), report.md
(the paper's Tables 1-3 with the variants side by side, then identity, controllability,
audio2au lip sync and lip sync end to end), four plots and grid.png (source | target |
synthesis per variant); with --sync-only, only the lip-sync sections and their plot."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from actionunits.atomic import atomic_output
from audio2au.degrade import DEGRADATIONS
from talkinghead.evaluation.head import (
    BACKGROUND_GOAL,
    GROW,
    LEAD,
    PHRASE_S,
    RELATIONS,
    ROTATION_GOAL,
    SOURCES,
    SPEED_GOAL,
    STILL_GOAL,
    STILL_MIN_HEIGHT,
)
from talkinghead.evaluation.identity import SAME_PERSON_THRESHOLD
from talkinghead.evaluation.lips import AMPLITUDE_RANGE, CLEAN, STAGES, STILL_HEAD
from talkinghead.evaluation.protocol import REGIONS, TREATMENTS
from talkinghead.evaluation.sync import GAP_PREDICTORS, LABEL_PREDICTORS
from talkinghead.io.image import write_image

GRID_SCALE = 2
LABEL_HEIGHT = 22
IMAGE_PLOTS = ("pixel_errors.png", "au_rmse.png", "controllability.png")
SYNC_PLOT = "audio2au_sync.png"
GAP_HEADS = {
    "model lip gap": "model lip gap",
    "model jawOpen": "model jawOpen",
    "loudness": "loudness",
    "gated loudness": "gated loudness",
    "tracker lip gap": "tracker's lip gap (ceiling)",
}
# Lip sync end to end, the goals of the issue that added it (on the clean audio's means).
GOAL_R, GOAL_OVER_LOUDNESS, GOAL_R_SPEECH, GOAL_IN_RANGE, GOAL_CLOSURES, GOAL_DAMAGE = 0.55, 0.1, 0.6, 0.85, 0.7, 0.05
IN_RANGE = "{}-{}x".format(*AMPLITUDE_RANGE)


@dataclass
class GridRow:
    source: np.ndarray
    target: np.ndarray
    syntheses: list[np.ndarray]  # one per variant
    label: str


def jsonable(value):
    """Numpy numbers to Python ones; NaN (e.g. the correlation of a constant) to null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def _f(x, digits: int = 3, missing: str = "n/a") -> str:
    return missing if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def _largest(values: list) -> float | None:
    """The largest measured value (None and NaN are what the face mesh could not read)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return max(finite) if finite else None


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def markdown(results: dict, variants: list[str]) -> str:
    """The report; without variants (--sync-only) the data line and lip sync only."""
    if variants:
        sections = [
            _settings(results),
            _pixel_table(results),
            _au_table(results),
            _identity_table(results, variants),
            _controllability_table(results, variants),
        ]
    else:
        s = results["settings"]
        sections = [f"Data `{s['data']}`: lip sync only (`--sync-only`), {s['seconds']} s."]
    plots = [*IMAGE_PLOTS, SYNC_PLOT] if variants else [SYNC_PLOT]
    sections.append(_sync_table(results))
    if "end_to_end" in results["audio2au"]:
        sections.append(_lips_section(results["audio2au"]["end_to_end"]))
    sections.append("## Plots\n\n" + "\n".join(f"![{p}]({p})" for p in plots))
    if variants:
        sections.append(
            "## Samples\n\nRows: intra-class pairs of held-out speakers, then inter-class pairs on "
            "portraits. Columns: source | target | " + " | ".join(variants) + ".\n\n![grid](grid.png)"
        )
    return "\n\n".join(["# talkinghead eval", *sections]) + "\n"


def _settings(results: dict) -> str:
    s = results["settings"]
    seen = [
        [
            v,
            f"`{i['path']}`" + (" (placeholder)" if i["placeholder"] else ""),
            str(i["steps"]),
            "unknown (the checkpoint lists no classes)"
            if i["seen_speakers"] is None
            else ", ".join(i["seen_speakers"]) or "none",
        ]
        for v, i in results["variants"].items()
    ]
    return (
        f"Data `{s['data']}`: {len(s['speakers'])} held-out speakers, {s['intra_pairs']} intra-class pairs "
        f"({s['pairs_per_source']} target frames per source, two sources per speaker); {s['inter_pairs']} "
        f"inter-class pairs on {len(s['portrait_names'])} portraits from `{s['portraits']}`. "
        f"{s['seconds']} s on {s['device']}. The AU tracker found a face in "
        f"{100 * s['real_targets_tracked']:.0f} % of the real target frames. docs/eval.md says what each number "
        "means; *source copy* is the no-animation baseline (the source frame itself as the synthesis).\n\n"
        "Held-out speakers: "
        + ", ".join(f"`{x}`" for x in s["speakers"])
        + "\n\n"
        + _table(["variant", "checkpoint", "steps", "evaluated speakers seen in training"], seen)
    )


def _pixel_table(results: dict) -> str:
    intra = results["intra"]
    settings = [(r, t) for r in REGIONS for t in TREATMENTS]
    label = {"full": "full image", "mask": "face mask", "mouth": "mouth"}
    head = (
        ["variant"]
        + [f"{label[r]}{', CLAHE' if t == 'clahe' else ''} {m}" for r, t in settings for m in ("MAE", "RMSE")]
        + ["mouth sharpness"]
    )
    rows = [
        [v]
        + [_f(intra[v]["pixels"][f"{r}/{t}"][m], 1) for r, t in settings for m in ("mae", "rmse")]
        + [_f(intra[v].get("mouth_sharpness", float("nan")), 2)]
        for v in intra
    ]
    return (
        "## Table 1: intra-class pixel error (0-255, lower is better)\n\n*mouth*: the target's lips and what "
        "lies between them; *mouth sharpness*: mean |Laplacian| of the synthesis there over the real frame's "
        "(1 = as sharp as the real mouth; a blurry average mouth scores low)\n\n" + _table(head, rows)
    )


def _au_table(results: dict) -> str:
    intra, inter = results["intra"], results["inter"]
    rows = [
        [
            v,
            _f(intra[v]["au"]["rmse"]),
            _f(inter[v]["au"]["rmse"]),
            f"{100 * intra[v]['tracked']:.0f} % / {100 * inter[v]['tracked']:.0f} %",
        ]
        for v in intra
    ]
    return (
        "## Tables 2 and 3: AU intensity RMSE (tracker on the synthesis vs on the target frame, lower is "
        "better)\n\n"
        + _table(
            ["variant", "intra-class (Table 2)", "inter-class (Table 3)", "syntheses tracked (intra / inter)"], rows
        )
    )


def _identity_table(results: dict, variants: list[str]) -> str:
    ident = results["identity"]
    rows = [
        ["real: two frames of one person", *_dist(ident["reference"]["same_person"])],
        ["real: different people", *_dist(ident["reference"]["different_people"])],
    ]
    rows += [[f"{v}: portrait -> synthesis", *_dist(ident[v])] for v in variants]
    return (
        f"## Identity: face-embedding distance (dlib ResNet; < {SAME_PERSON_THRESHOLD} usually the same "
        f"person)\n\n" + _table(["pairs", "mean", "median", f"share < {SAME_PERSON_THRESHOLD}", "n"], rows)
    )


def _controllability_table(results: dict, variants: list[str]) -> str:
    ctrl = results["controllability"]
    names = list(ctrl[variants[0]]["per_au"])
    cell = lambda v, n: f"{_f(ctrl[v]['per_au'][n]['r'], 2)} ({_f(ctrl[v]['per_au'][n]['slope'], 2)})"  # noqa: E731
    rows = [[n, *(cell(v, n) for v in variants)] for n in names]
    rows.append(["**mean r**", *(_f(ctrl[v]["mean_r"]) for v in variants)])
    return (
        "## AU controllability on unseen faces (requested vs tracked, one AU at a time)\n\n"
        f"Correlation r (and slope) per AU over every portrait and level {ctrl[variants[0]]['levels']}; "
        "higher is better.\n\n" + _table(["AU", *variants], rows)
    )


def _sync_table(results: dict) -> str:
    sync = results["audio2au"]
    gap = sync["lip_gap"]
    manifests = ", ".join(f"`{m}`" for m in sync["languages_from"]) or "none found (every language unknown)"
    not_scored = ", ".join(f"`{g}`" for g in sync["not_scored"])
    intro = (
        f"`{sync['checkpoint']}` on {sync['clips']} clips ({sync['frames']} frames) of {len(sync['speakers'])} "
        f"held-out speakers; of these, seen in its training: {', '.join(sync['seen_in_training']) or 'none'}."
        + (f" Not scored (their audio is not the speaker's voice): {not_scored}." if not_scored else "")
    )
    if gap["speakers"]:

        def line(label: str, language: str, row: dict) -> list[str]:
            return [
                label,
                language,
                f"{row['frames']} ({row['speech_frames']})",
                *(f"{_f(row['r_all'][k], 2)} / {_f(row['r_speech'][k], 2)}" for k in GAP_PREDICTORS),
                f"{_f(row['lips_silence'])} / {_f(row['lips_speech'])}",
            ]

        rows = [line(f"`{r['speaker']}`", r["language"], r) for r in gap["speakers"]]
        rows += [line(f"**mean** ({m['speakers']})", f"**{g}**", m) for g, m in gap["means"].items()]
        real = _table(
            [
                "speaker",
                "language",
                "frames (speech)",
                *(GAP_HEADS[k] for k in GAP_PREDICTORS),
                "lip-opening AUs silence / speech",
            ],
            rows,
        )
    else:
        real = "No held-out clip has `landmarks.npy` (prepare the dataset again to record them): nothing to compare."
    if gap["without_landmarks"]:
        real += "\n\nWithout landmarks, not in this table: " + ", ".join(f"`{s}`" for s in gap["without_landmarks"])
    labels = [[p, *(_f(sync["mouth"][p][m]) for m in ("r", "r_clip"))] for p in LABEL_PREDICTORS]
    return (
        "## audio2au lip sync on unseen speakers\n\n" + intro + "\n\n"
        "### Against the real mouth\n\n"
        "Pearson r with the inner-lip gap measured in the real video, per speaker over all its clips: "
        "**whole clips / within speech** (frames the voice-activity detector calls speech). Loudness: the audio "
        "level; gated loudness: the level above the speech threshold, 0 below it (a mouth that only opens "
        "when the voice is on; within speech it is loudness again); the tracker's lip gap: the same "
        "AUs -> gap mapping on the labels the model learns from, its ceiling. Last column: mean predicted "
        "lip-opening AUs in silence / in speech (the mouth should close in silence). Means count each speaker "
        f"once. Languages from {manifests}.\n\n" + real + "\n\n"
        "### Against the tracker's labels\n\n"
        "Mean r of the predicted mouth AUs (jaw*, mouth*) with the tracker's labels (what the model is trained "
        "to imitate, not the truth), pooled and per clip, beside a linear map from loudness fitted on every "
        "other clip.\n\n" + _table(["predictor", "r", "r per clip"], labels)
    )


def _lips_section(e2e: dict) -> str:
    """Per condition one row per clip and the means, then the clean means per photo mouth
    group, then the goals: where along the chain the mouth is lost, and for which photos."""
    intro = (
        "## Lip sync end to end (rendered vs real lips)\n\n"
        "Each held-out web-style clip's first frame rendered with the clip's audio by `render` (default "
        "settings, the evaluated audio2au), and the inner-lip gap of the result (a fresh face mesh on the "
        "decoded video) against the real clip's, frame by frame at lag 0. Pearson r of each stage of the chain "
        "with the real gap: *audio2au* (its AUs' lip gap), *aupost* (after the rest, smoothing and the photo's "
        "own expression), *motion* (the warp's planned lips), *render* (the video), beside the loudness. "
        "*amplitude*: the render's gap std over the real one (1 = as wide a movement); *closures*: share of the "
        "real closures within speech that the render closes too (and how many). Side-by-side videos "
        "(rendered | real) in `lips/`. docs/eval.md says more."
    )
    if not e2e["clips"]:
        return intro + "\n\nNo held-out clip had a face the mesh could read: nothing to compare."
    sections = [intro]
    for condition in e2e["conditions"]:
        rows = [
            [f"`{r['clip']}`", f"`{r['speaker']}`", r["mouth"], _f(r["seconds"], 2, "-")]
            + _lips_cells(r, r["conditions"][condition])
            for r in e2e["clips"]
        ]
        means = e2e["means"]
        rows.append([f"**mean** ({means['clips']})", "", "", ""] + _lips_cells(means, means[condition]))
        head = ["clip", "speaker", "photo mouth", "s", "loudness r", *(f"{s} r" for s in STAGES)]
        head += ["render r speech", "render amplitude", "render closures"]
        sections.append(f"### {condition}\n\n" + _table(head, rows))
    if CLEAN in e2e["conditions"]:
        groups = [
            [g, str(m["clips"])] + _lips_cells(m, m[CLEAN]) + [_f(m[CLEAN]["render"]["amplitude_in_range"], 2, "-")]
            for g, m in e2e["groups"].items()
        ]
        head = ["photo mouth", "clips", "loudness r", *(f"{s} r" for s in STAGES), "render r speech"]
        head += ["render amplitude", "render closures", f"amplitude in {IN_RANGE}"]
        sections.append(f"### Means per photo mouth ({CLEAN})\n\n" + _table(head, groups))
        sections.append("### Goals\n\n" + "\n".join(_lips_goals(e2e["means"], e2e["conditions"])))
    if e2e.get("head", {}).get("clips"):
        sections.append(_head_section(e2e["clips"], e2e["head"]))
    return "\n\n".join(sections)


def _lips_cells(row: dict, stages: dict) -> list[str]:
    """Loudness r, each stage's r, then the render's r within speech, amplitude and closure
    recall (with how many real closures: a clip's, or the sum over the clips of a mean)."""
    render = stages["render"]
    closures = int(render.get("closures", 0))
    return [
        _f(row["loudness"].get("r"), 2, "-"),
        *(_f(stages.get(s, {}).get("r"), 2, "-") for s in STAGES),
        _f(render.get("r_speech"), 2, "-"),
        _f(render.get("amplitude"), 2, "-"),
        f"{_f(render.get('closure_recall'), 2, '-')} ({closures})",
    ]


def _lips_goals(means: dict, conditions: list[str]) -> list[str]:
    """Each goal with its measured value and whether it is met (undefined: not met)."""
    render, loudness = means[CLEAN]["render"], means["loudness"].get("r")
    r = render.get("r")
    lines = [
        _goal(f"mean render r >= {GOAL_R}", r, GOAL_R),
        _goal(
            f"mean render r >= loudness r ({_f(loudness, 2, '-')}) + {GOAL_OVER_LOUDNESS}",
            r,
            math.inf if loudness is None else loudness + GOAL_OVER_LOUDNESS,
        ),
        _goal(f"mean render r within speech >= {GOAL_R_SPEECH}", render.get("r_speech"), GOAL_R_SPEECH),
        _goal(
            f"share of clips with render amplitude within {IN_RANGE} >= {GOAL_IN_RANGE}",
            render.get("amplitude_in_range"),
            GOAL_IN_RANGE,
        ),
        _goal(f"mean closure recall >= {GOAL_CLOSURES}", render.get("closure_recall"), GOAL_CLOSURES),
    ]
    for condition in (c for c in conditions if c in DEGRADATIONS):
        damaged = means[condition]["render"].get("r")
        cost = None if r is None or damaged is None else r - damaged
        lines.append(_goal(f"{condition} costs <= {GOAL_DAMAGE} render r vs clean", cost, high=GOAL_DAMAGE))
    return lines


def _goal(text: str, value: float | None, low: float = -math.inf, high: float = math.inf) -> str:
    """A goal line with its measured value, met when within [low, high] (undefined: not met)."""
    return _goal_line(text, _f(value, 2, "-"), value is not None and low <= value <= high)


def _goal_line(text: str, shown: str, met: bool) -> str:
    return f"- {text}: {shown}, " + ("met" if met else "**not met**")


def _head_section(rows: list[dict], head: dict) -> str:
    """Per clip the real head beside the clean render's, the means, the still-head check,
    then issue 26's goals."""
    left, right, up, down = GROW
    intro = (
        "### Head motion (issue 26)\n\n"
        f"The head pose of the {CLEAN} render (the same face mesh, `face.head_pose`) beside the real clip's. "
        "*rot std*: mean over yaw, pitch and roll of each axis's std (degrees); *speed*: mean |frame "
        "difference| x fps over the axes (thevals', deg/s); *r lead*: Pearson r of the head's angular speed "
        f"with the clip's loudness, the head {-LEAD} frames ahead, and *r {PHRASE_S:g} s* on {PHRASE_S:g} s "
        "averages, each as own voice / the next clip's voice (mismatched); *background*: mean absolute grey "
        f"difference (0-255) of the render from the photo outside the face-mesh box grown {left:g} face widths "
        f"left, {right:g} right, {up:g} up and {down:g} down (the codec alone gives 1.2-1.7; - where that box "
        "covers the frame, as in close crops)."
    )

    def cells(h: dict, background: float | None) -> list[str]:
        relation = [
            f"{_f(h[s]['relation'][k], 2, '-')} / {_f(h[s]['relation'][f'{k}_mismatched'], 2, '-')}"
            for k in RELATIONS
            for s in SOURCES
        ]
        return [
            *(_f(h[s]["rot_std_mean"], 2, "-") for s in SOURCES),
            *(_f(h[s]["speed"], 1, "-") for s in SOURCES),
            *relation,
            _f(background, 2, "-"),
        ]

    table = [[f"`{r['clip']}`", *cells(r["head"], r["head"]["background"])] for r in rows if "head" in r]
    table.append([f"**mean** ({head['clips']})", *cells(head, head["background"])])
    names = [f"{s} {m}" for m in ("rot std", "speed") for s in SOURCES]
    names += [f"{s} r {k}" for k in ("lead", f"{PHRASE_S:g} s") for s in SOURCES]
    still = head["still"]
    still_text = (
        f"Still head (`--head-motion 0`, the {STILL_HEAD} render): the largest axis's rotation std per clip "
        "(degrees; what the face mesh reads of a head that does not move: jitter, more on small frames): "
        + ", ".join(f"`{c['clip']}` {_f(_largest(c['rot_std']), 2, '-')} ({c['height']} px)" for c in still)
        + "."
        if still
        else "No still-head render."
    )
    return "\n\n".join(
        [
            intro,
            _table(["clip", *names, "background"], table),
            still_text,
            "Goals:\n\n" + "\n".join(_head_goals(head)),
        ]
    )


def _head_goals(head: dict) -> list[str]:
    """Issue 26's goals on the means, with the real clips' values beside the render's."""
    real, render = head["real"], head["render"]
    lines = [
        _goal(
            "mean render rotation std within {}-{} degrees (real {})".format(
                *ROTATION_GOAL, _f(real["rot_std_mean"], 2, "-")
            ),
            render["rot_std_mean"],
            *ROTATION_GOAL,
        ),
        _goal(
            "mean render speed within {}-{} deg/s (real {})".format(*SPEED_GOAL, _f(real["speed"], 1, "-")),
            render["speed"],
            *SPEED_GOAL,
        ),
    ]
    sized = [_largest(c["rot_std"]) for c in head["still"] if c["height"] >= STILL_MIN_HEIGHT]
    sized = [v for v in sized if v is not None]
    lines.append(
        _goal_line(
            f"still head (`--head-motion 0`): every axis's rotation std < {STILL_GOAL:g} degree, on the "
            f"{len(sized)} clips at least {STILL_MIN_HEIGHT} px tall (largest)",
            _f(max(sized), 2) if sized else "-",
            bool(sized) and max(sized) < STILL_GOAL,
        )
    )
    lines.append(
        _goal(
            f"mean background <= {BACKGROUND_GOAL:g} levels ({head['background_clips']} clips with background "
            f"outside the grown box, worst {_f(head['background_max'], 2, '-')})",
            head["background"],
            high=BACKGROUND_GOAL,
        )
    )
    for key, label in zip(RELATIONS, (f"head {-LEAD} frames ahead", f"on {PHRASE_S:g} s averages")):
        pair = {s: (head[s]["relation"][key], head[s]["relation"][f"{key}_mismatched"]) for s in SOURCES}
        own, other = pair["render"]
        shown = " vs ".join(_f(v, 2, "-") for v in pair["render"])
        lines.append(
            _goal_line(
                f"render head speed follows its own voice better than another clip's, {label} "
                f"(r own vs mismatched; real {' vs '.join(_f(v, 2, '-') for v in pair['real'])})",
                shown,
                own is not None and other is not None and own > other,
            )
        )
    return lines


def _dist(d: dict) -> list[str]:
    return [_f(d["mean"]), _f(d["median"]), _f(d["same_person_share"], 2), str(d["n"])]


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _bars(ax, labels: list[str], series: dict[str, list[float]], horizontal: bool = False) -> None:
    """Grouped bars: one group per label, one bar per series."""
    x = np.arange(len(labels))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        v = np.array([np.nan if y is None else y for y in values], float)
        (ax.barh if horizontal else ax.bar)(x + i * width - 0.4 + width / 2, v, width, label=name)
    if horizontal:
        ax.set_yticks(x, labels)
    else:
        ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.legend(fontsize=8)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_image_plots(folder: Path, results: dict, variants: list[str]) -> None:
    plt = _pyplot()
    rows_v = ["source copy", *variants]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    keys = [f"{r}/{t}" for r in REGIONS for t in TREATMENTS]
    for ax, metric in zip(axes, ("mae", "rmse")):
        _bars(ax, keys, {v: [results["intra"][v]["pixels"][k][metric] for k in keys] for v in rows_v})
        ax.set_title(f"intra-class pixel {metric.upper()} (0-255)")
    _save(fig, folder / "pixel_errors.png")

    names = list(results["intra"][variants[0]]["au"]["per_au"])
    fig, ax = plt.subplots(figsize=(7, 9))
    _bars(ax, names, {v: [results["intra"][v]["au"]["per_au"][n] for n in names] for v in rows_v}, horizontal=True)
    ax.set_title("intra-class AU RMSE per AU")
    ax.invert_yaxis()
    _save(fig, folder / "au_rmse.png")

    fig, ax = plt.subplots(figsize=(7, 9))
    _bars(
        ax,
        names,
        {v: [results["controllability"][v]["per_au"][n]["r"] for n in names] for v in variants},
        horizontal=True,
    )
    ax.set_title("controllability: r(requested, tracked) per AU")
    ax.invert_yaxis()
    _save(fig, folder / "controllability.png")


def write_sync_plot(folder: Path, results: dict) -> None:
    """r with the measured lip gap per held-out speaker, whole clips and within speech."""
    plt = _pyplot()
    gap = results["audio2au"]["lip_gap"]
    rows = gap["speakers"] + ([{"speaker": "mean all", **gap["means"]["all"]}] if gap["speakers"] else [])
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.2), sharey=True)
    for ax, key, title in zip(axes, ("r_all", "r_speech"), ("whole clips", "within speech")):
        if rows:
            _bars(ax, [r["speaker"][-22:] for r in rows], {k: [r[key][k] for r in rows] for k in GAP_PREDICTORS})
            ax.set_ylim(-0.3, 1.5)  # room for the legend above the ceiling's bars
        ax.set_title(
            f"audio2au, unseen speakers: r with the measured lip gap, {title}" + ("" if rows else " (no landmarks)"),
            fontsize=9,
        )
    _save(fig, folder / SYNC_PLOT)


def grid_image(rows: list[GridRow], variants: list[str]) -> np.ndarray:
    """Rows of source | target | one synthesis per variant, scaled up, with a header line."""
    labels = ["source", "target", *variants]
    tile = rows[0].source.shape[0] * GRID_SCALE
    header = np.full((LABEL_HEIGHT, tile * len(labels), 3), 255, np.uint8)
    for i, text in enumerate(labels):
        cv2.putText(
            header,
            text[:18],
            (i * tile + 4, LABEL_HEIGHT - 7),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    lines = [header]
    for row in rows:
        crops = [row.source, row.target, *row.syntheses]
        line = np.hstack([cv2.resize(c, (tile, tile), interpolation=cv2.INTER_CUBIC) for c in crops])
        for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # outlined: readable on any face
            cv2.putText(
                line, row.label[:30], (3, tile - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.33, colour, thickness, cv2.LINE_AA
            )
        lines.append(line)
    return np.vstack(lines)


def write_report(folder: Path, results: dict, grid: list[GridRow], variants: list[str]) -> None:
    results = jsonable(results)
    folder.mkdir(parents=True, exist_ok=True)
    _write_text(folder / "eval.json", json.dumps(results, indent=2) + "\n")
    if variants:
        write_image_plots(folder, results, variants)
        write_image(folder / "grid.png", grid_image(grid, variants))
    write_sync_plot(folder, results)
    _write_text(folder / "report.md", markdown(results, variants))
