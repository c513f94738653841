"""How the drawn teeth get their colour (talkinghead.face.mouth): fit the rule for photos
that do not show their teeth on real open mouths, and check it on portraits that do.

Fit: for every speaker of a prepared dataset but the portraits' own, the widest-open frame of its first clip whose
lips part at least 0.12 eye distances; its teeth are `visible_teeth` of that frame. The
rule, `teeth_from_skin`, maps the face's skin to a teeth colour with two numbers
(TEETH_LEVEL, TEETH_TINT), chosen on a grid by the mean absolute error (0-255) over the
colour photos' frames. Check: the shared portraits that show their own teeth, rule against
their teeth. The previous rule (a neutral white scaled by the skin's mean) is scored too.

    python docs/results/2026-12-02-teeth/fit_teeth.py --data /work/prepared --videos ../shared/data
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

# The folder is named after nothing importable, but keep the script from shadowing packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

MIN_GAP = 0.12  # lip gap over eye distance (audio2au.frame_measures.lip_gap): a mouth open enough to show teeth
# The shared portraits are frames of these speakers' clips: kept out of the fit, so the check is not.
PORTRAIT_SOURCES = ("clips__video_retalking__*", "clips__pcavs_voxceleb__*", "grid_s1")


def previous_rule(skin: np.ndarray) -> np.ndarray:
    from talkinghead.face.mouth import TOOTH_WHITE

    exposure = np.clip(skin.mean() / 150.0, 0.55, 1.05)
    return np.clip(0.8 * TOOTH_WHITE * exposure + 0.2 * skin.mean(0), 0, 255)


def open_frames(prepared: Path, videos: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(speaker, frame, landmarks) of each speaker's widest-open frame."""
    from actionunits.prepared import landmarks_path, matches_any, read_clips
    from audio2au.frame_measures import lip_gap
    from talkinghead.clip_sources import list_clips, shared_data_inputs
    from talkinghead.refiner_pairs import read_frames

    _, targets, root = shared_data_inputs(videos)
    paths = {task.clip: task.path for task in list_clips(targets, root)}
    out, seen = [], set()
    for clip in read_clips(prepared):
        if (
            clip.speaker in seen
            or clip.clip not in paths
            or not landmarks_path(prepared, clip.clip).is_file()
            or matches_any(list(PORTRAIT_SOURCES), clip.speaker, clip.clip)
        ):
            continue
        landmarks = np.load(landmarks_path(prepared, clip.clip))
        gap = lip_gap(landmarks)
        if not np.isfinite(gap).any() or np.nanmax(gap) < MIN_GAP:
            continue
        i = int(np.nanargmax(gap))
        frames = read_frames(paths[clip.clip], clip.fps, {i})
        if i in frames:
            seen.add(clip.speaker)
            out.append((clip.speaker, frames[i], landmarks[i]))
    return out


def samples(images: list[tuple[str, np.ndarray, np.ndarray]]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, skin pixels, teeth colour) of the colour images that show teeth."""
    from talkinghead.face.mouth import MouthColours, face_skin, is_grey, visible_teeth

    out = []
    for name, image, landmarks in images:
        skin = face_skin(image, landmarks)
        teeth = visible_teeth(image, landmarks, MouthColours.from_photo(image, landmarks).lip)
        if teeth is not None and len(skin) and not is_grey(skin):
            out.append((name, skin, teeth))
    return out


def main() -> None:
    import talkinghead.face.mouth as mouth
    from talkinghead.portrait import Portrait

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="prepared dataset (talkinghead prepare)")
    ap.add_argument("--videos", type=Path, required=True, help="the shared data folder")
    args = ap.parse_args()

    fit = samples(open_frames(args.data, args.videos))
    portraits = []
    for path in sorted((args.videos / "portraits").glob("*")):
        p = Portrait.open(path, max_height=720)
        portraits.append((path.name, p.image, p.landmarks))
    check = samples(portraits)

    def error(rule, data) -> float:
        return float(np.mean([np.abs(rule(skin) - teeth).mean() for _, skin, teeth in data]))

    best = None
    for level in np.arange(0.70, 1.30, 0.01):
        for tint in np.arange(0.0, 1.001, 0.05):
            mouth.TEETH_LEVEL, mouth.TEETH_TINT = float(level), float(tint)
            e = error(mouth.teeth_from_skin, fit)
            if best is None or e < best[0]:
                best = (e, round(float(level), 2), round(float(tint), 2))
    _, mouth.TEETH_LEVEL, mouth.TEETH_TINT = best
    print(
        f"fitted on the widest-open frames of {len(fit)} speakers that show teeth: "
        f"TEETH_LEVEL {mouth.TEETH_LEVEL}, TEETH_TINT {mouth.TEETH_TINT}"
    )
    print("| rule | fit frames | " + " | ".join(name for name, _, _ in check) + " | portraits' mean |")
    print("|---|---|" + "---|" * (len(check) + 1))
    for label, rule in (("previous", previous_rule), ("fitted", mouth.teeth_from_skin)):
        cells = [f"{np.abs(rule(skin) - teeth).mean():.1f}" for _, skin, teeth in check]
        print(f"| {label} | {error(rule, fit):.1f} | " + " | ".join(cells) + f" | {error(rule, check):.1f} |")


if __name__ == "__main__":
    main()
