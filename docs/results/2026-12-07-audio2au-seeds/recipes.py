"""audio2au recipes judged over several seeds, and ensembles of them (run from the repository root):

    python docs/results/2026-12-07-audio2au-seeds/recipes.py --runs /work/runs [--data /work/prepared]

Each recipe's runs (`train.sh` made them: RUNS/<recipe>_s<seed>/audio2au.pt) are scored
singly and as one Audio2AUEnsemble with compare_audio2au.scores (the 10 test and 5
validation speakers of docs/audio2au.md; r of the AU lip gap with the measured lip gap,
all frames), clean, through a telephone band + MP3 and in white noise at 10 dB. Writes
recipes.json, recipes.md and learning_curve.png beside this script.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from audio2au.checkpoint import ensemble_checkpoint, from_checkpoint, load_audio2au, read_checkpoint  # noqa: E402

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    "compare_audio2au", HERE.parent / "2026-12-06-lips" / "compare_audio2au.py"
)
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)

# recipe -> (run-name prefix, what changed); "o" is the shipped recipe, its seed 0 the shipped file
RECIPES = {
    "o": "shipped recipe (config defaults, offline)",
    "v1": "train.speaker_balance=1.0 (every speaker alike)",
    "v2": "train.gap_corr_weight=3.0 (lip-gap correlation loss x3)",
    "v3": "train.formant_warp=0.1 (vocal-tract-length perturbation)",
    "v4": "train.band_masks=[2,6] (frequency masking)",
    "v5": "train.speaker_balance=0.4 (GRID s1 weighs more)",
    "v6": "train.speaker_balance=0.4 train.gap_corr_weight=3.0 (v5 and v2)",
    "st": "shipped recipe, streaming",
    "stv2": "train.gap_corr_weight=3.0, streaming",
    "stv5": "train.speaker_balance=0.4, streaming",
    "lc0": "GRID s1 only (0 of 66 other training speakers)",
    "lc16": "GRID s1 + 16 of 66 other training speakers",
    "lc33": "GRID s1 + 33 of 66 other training speakers",
}
SHIPPED_SEED0 = {"o": "talkinghead/weights/audio2au.pt", "st": "talkinghead/weights/audio2au_stream.pt"}
KEYS = [("test", "clean"), ("test", "telephone+mp3"), ("test", "noise 10 dB"), ("validation", "clean")]


def members(runs: Path, recipe: str) -> list[Path]:
    found = sorted(runs.glob(f"{recipe}_s*/audio2au.pt"))
    return ([Path(SHIPPED_SEED0[recipe])] if recipe in SHIPPED_SEED0 else []) + found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("/work/runs"))
    parser.add_argument("--data", type=Path, default=Path("/work/prepared"))
    args = parser.parse_args()
    clips = compare.held_out(args.data)
    out: dict[str, dict] = {}
    for recipe, what in RECIPES.items():
        paths = members(args.runs, recipe)
        if not paths:
            continue
        singles = [compare.scores(load_audio2au(p), clips) for p in paths]
        ensemble = compare.scores(from_checkpoint(ensemble_checkpoint([read_checkpoint(p) for p in paths])), clips)
        out[recipe] = {
            "what": what,
            "members": [str(p) for p in paths],
            **{
                f"{g} {c}": {
                    "seeds": [s[(g, c, False)] for s in singles],
                    "ensemble": ensemble[(g, c, False)],
                }
                for g, c in KEYS
            },
        }
        print(recipe, {k: round(v["ensemble"], 3) for k, v in out[recipe].items() if isinstance(v, dict)}, flush=True)
    (HERE / "recipes.json").write_text(json.dumps(out, indent=1) + "\n")
    head = "| recipe | seeds | " + " | ".join(f"{g} {c}: seed mean (min-max) / ensemble" for g, c in KEYS) + " |"
    rows = [head, "|" + "---|" * (len(KEYS) + 2)]
    for recipe, res in out.items():
        cells = []
        for g, c in KEYS:
            seeds, ens = res[f"{g} {c}"]["seeds"], res[f"{g} {c}"]["ensemble"]
            cells.append(f"{np.mean(seeds):.3f} ({min(seeds):.3f}-{max(seeds):.3f}) / **{ens:.3f}**")
        rows.append(f"| {recipe}: {res['what']} | {len(res['members'])} | " + " | ".join(cells) + " |")
    (HERE / "recipes.md").write_text("\n".join(rows) + "\n")
    curve = [(n, out[r]) for n, r in ((0, "lc0"), (16, "lc16"), (33, "lc33"), (66, "o")) if r in out]
    if curve:
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, colour in (("test clean", "C0"), ("validation clean", "C1"), ("test telephone+mp3", "C2")):
            xs = [n for n, _ in curve]
            seeds = [res[key]["seeds"] for _, res in curve]
            ax.plot(xs, [np.mean(s) for s in seeds], "o-", color=colour, label=f"{key} (seed mean)")
            for x, s in zip(xs, seeds):
                ax.plot([x] * len(s), s, ".", color=colour, alpha=0.4)
        ax.set_xlabel("training speakers besides GRID s1 (GRID s1's 45 min always in)")
        ax.set_ylabel("mean r, AU lip gap vs real lip gap")
        ax.set_title("audio2au learning curve (offline, shipped recipe)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(HERE / "learning_curve.png", dpi=110)


if __name__ == "__main__":
    main()
