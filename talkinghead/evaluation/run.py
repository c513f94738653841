"""The whole evaluation: load the variants and the held-out data, measure the real frames
once, then per variant synthesize, measure and score; then audio2au lip sync, and lip sync
end to end (held-out clips rendered from their first frame and audio, minutes); write the
report. --sync-only skips everything but lip sync, --no-lips the end-to-end part."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audio2au.degrade import DEGRADATIONS
from gath.data import TargetSet
from gath.inference import FaceAnimator
from talkinghead.clip_sources import ClipTask
from talkinghead.commands.render import RenderOptions
from talkinghead.data_root import data_root
from talkinghead.errors import UserError
from talkinghead.evaluation.controllability import controllability, render_batches, render_sweep, sweep
from talkinghead.evaluation.heldout import (
    DEFAULT_SPEAKERS,
    NOT_SPEECH,
    EvalPairs,
    inter_pairs,
    intra_pairs,
    load_held_out,
    load_portraits,
)
from talkinghead.evaluation.identity import FaceEmbedder, distances, summary
from talkinghead.evaluation.languages import read_languages
from talkinghead.evaluation.lips import CLEAN, STILL_HEAD, held_out_clips, lips_end_to_end
from talkinghead.evaluation.measure import CropMeasurer
from talkinghead.evaluation.protocol import inter_class, intra_class
from talkinghead.evaluation.report import GridRow, write_report
from talkinghead.evaluation.sync import audio2au_sync
from talkinghead.evaluation.variants import WARP, load_variant
from talkinghead.face.landmarks import LandmarkDetector
from talkinghead.model_files import AUDIO2AU_FILE, DEFAULT_WEIGHTS
from talkinghead.renderers import ModelOptions
from talkinghead.stage_times import Progress

COPY = "source copy"  # the no-animation baseline: the source frame itself as the "synthesis"
GRID_INTRA_ROWS, GRID_INTER_ROWS = 4, 2


@dataclass
class EvalOptions:
    data: Path
    output: Path
    # NAME -> "warp", a motion.pt, a generator file or weights folder, or None (the shipped GATH)
    variants: dict[str, Path | str | None] = field(default_factory=lambda: {"warp": WARP, "gath (shipped)": None})
    speakers: tuple[str, ...] = DEFAULT_SPEAKERS
    portraits: Path | None = None  # None: <data root>/portraits
    audio2au: Path | None = None  # None: the shipped audio2au.pt
    pairs: int = 8  # target frames per source (intra) and per portrait (inter)
    seed: int = 0
    device: str = "auto"
    batch_size: int = 32
    quiet: bool = False
    sync_only: bool = False  # audio2au lip sync only: no renderers, faces or portraits
    not_speech: tuple[str, ...] = NOT_SPEECH  # clip or speaker globs lip sync leaves out (music, not a voice)
    lips: bool = True  # lip sync end to end: render the held-out clips (minutes)
    # the audio as given, again with a still head, then damaged
    lips_conditions: tuple[str, ...] = (CLEAN, STILL_HEAD, *DEGRADATIONS)


def variant_info(meta: dict, speakers: list[str]) -> dict:
    """What the report says about a checkpoint; `seen_speakers` lists evaluated speakers the
    generator trained on (its class list names every target speaker), None when unknown."""
    classes = meta.get("classes")
    trained = {c.removeprefix("target:") for c in classes or [] if c.startswith("target:")}
    return {
        "path": str(meta["path"]),
        "variant": meta.get("variant"),
        "steps": meta.get("steps"),
        "placeholder": bool(meta.get("placeholder")),
        "exclude_speakers": meta.get("exclude_speakers"),
        "seen_speakers": sorted(trained & set(speakers)) if classes is not None else None,
    }


def synthesize(animator: FaceAnimator, pairs: EvalPairs, batch_size: int, bar=None) -> np.ndarray:
    """One synthesis per pair, in pair order: each source encoded once."""
    out = np.empty_like(pairs.targets[pairs.tgt])
    for j in np.unique(pairs.src):
        rows = np.flatnonzero(pairs.src == j)
        animator.set_source(pairs.sources[j])
        out[rows] = render_batches(animator, pairs.target_aus[pairs.tgt[rows]], batch_size, bar)
    return out


def grid_picks(intra: EvalPairs, inter: EvalPairs) -> tuple[np.ndarray, np.ndarray]:
    """Sample pairs for the grid: neutral sources of speakers spread over the list, each with
    its most open-mouthed target; the first target of the first portraits."""
    neutral = np.unique(intra.src)[::2]
    spread = neutral[np.linspace(0, len(neutral) - 1, min(GRID_INTRA_ROWS, len(neutral))).round().astype(int)]
    jaw = intra.target_aus[:, 0]
    picks = [max(np.flatnonzero(intra.src == j), key=lambda p: jaw[intra.tgt[p]]) for j in np.unique(spread)]
    firsts = [np.flatnonzero(inter.src == j)[0] for j in np.unique(inter.src)[:GRID_INTER_ROWS]]
    return np.array(picks), np.array(firsts)


def reference_distances(embedder: FaceEmbedder, intra: EvalPairs) -> dict:
    """Scale for identity distances: two real frames of one person (each speaker's two
    sources) and real frames of different people (one per speaker, every pair)."""
    e = embedder(intra.sources)
    first, second = e[0::2], e[1::2]
    i, j = np.triu_indices(len(first), k=1)
    return {
        "same_person": summary(distances(first, second)),
        "different_people": summary(distances(first[i], first[j])),
    }


def run_eval(options: EvalOptions) -> dict:
    """Evaluate every variant, then audio2au, then lip sync end to end; write eval.json,
    report.md, plots, grid.png and lips/ to options.output; return the results."""
    start = time.perf_counter()
    progress = Progress(options.quiet)
    if options.pairs < 1:
        raise UserError(f"--pairs must be at least 1, got {options.pairs}")
    audio2au = Path(options.audio2au) if options.audio2au else DEFAULT_WEIGHTS / AUDIO2AU_FILE
    lip_clips = lips_clips(options)
    if options.sync_only:
        results, grid, names = {"settings": {"data": str(Path(options.data).resolve())}}, [], []
    else:
        results, grid, names = evaluate_images(options, progress)
    with progress.stage("audio2au"):
        languages, manifests = read_languages(data_root())
        results["audio2au"] = {
            "checkpoint": str(audio2au),
            "languages_from": [str(m.resolve()) for m in manifests],
            **audio2au_sync(audio2au, options.data, options.speakers, languages, options.not_speech),
        }
    if options.lips:
        with progress.stage("lips"):
            bar = progress.bar(len(lip_clips), "clips", "clip")
            results["audio2au"]["end_to_end"] = render_lips(options, lambda _: bar.update(1))
            bar.close()
    results["settings"]["seconds"] = round(time.perf_counter() - start, 1)
    with progress.stage("report"):
        write_report(options.output, results, grid, names)
    return results


def lips_clips(options: EvalOptions) -> list[ClipTask]:
    """The clips lip sync end to end will render, found first: none is a one-line error
    before minutes of work, not after."""
    if not options.lips:
        return []
    try:
        return held_out_clips(data_root(), options.speakers, options.not_speech)
    except UserError as e:
        raise UserError(f"{e} (--no-lips skips lip sync end to end)") from None


def render_lips(options: EvalOptions, on_clip: Callable[[str], None]) -> dict:
    """Lip sync end to end as a user gets it: `render` with its defaults and the evaluated
    audio2au (a weights file stands for itself only under its own name, so it is copied to
    one); side-by-side videos to <output>/lips."""
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = None
        if options.audio2au:
            checkpoint = Path(tmp) / AUDIO2AU_FILE
            shutil.copyfile(options.audio2au, checkpoint)
        render = RenderOptions(model=ModelOptions(checkpoint=checkpoint, device=options.device))
        return lips_end_to_end(
            data_root(),
            options.speakers,
            render,
            Path(options.output) / "lips",
            options.lips_conditions,
            options.not_speech,
            on_clip,
        )


def evaluate_images(options: EvalOptions, progress: Progress) -> tuple[dict, list[GridRow], list[str]]:
    """The renderers' part: load the variants and the held-out frames, then score them."""
    with progress.stage("load"):
        target = load_held_out(options.data, options.speakers)
        variants = {
            name: load_variant(path, options.device, target.images.shape[-1]) for name, path in options.variants.items()
        }
        for name, (animator, _) in variants.items():
            if animator.au_names != target.au_names or animator.crop_size != target.images.shape[-1]:
                raise UserError(f"variant {name}: its generator's AUs or crop size differ from the dataset's")
    with LandmarkDetector(video=False) as detector:
        results, grid = evaluate_variants(options, variants, target, detector, progress)
    return results, grid, list(variants)


def evaluate_variants(
    options: EvalOptions,
    variants: dict[str, tuple[FaceAnimator, dict]],
    target: TargetSet,
    detector: LandmarkDetector,
    progress: Progress,
) -> tuple[dict, list[GridRow]]:
    """Everything but lip sync: pairs, the real faces measured once, then every variant."""
    names, device = target.au_names, next(iter(variants.values()))[0].device
    portraits_dir = Path(options.portraits) if options.portraits else data_root() / "portraits"
    measurer = CropMeasurer(names, detector)
    with progress.stage("real faces"):
        intra = intra_pairs(target, options.pairs, options.seed)
        portraits, portrait_names = load_portraits(portraits_dir, target.images.shape[-1], detector)
        inter = inter_pairs(portraits, portrait_names, target, options.pairs, options.seed + 1)
        bar = progress.bar(len(intra.sources) + len(intra.targets) + len(inter.sources) + len(inter.targets), "faces")
        real = {
            "intra_src": measurer(intra.sources, bar),
            "intra_tgt": measurer(intra.targets, bar),
            "inter_src": measurer(inter.sources, bar),
            "inter_tgt": measurer(inter.targets, bar),
        }
        bar.close()
        if not real["intra_tgt"].found.any():
            raise UserError("the AU tracker found no face in any held-out target frame")
        embedder = FaceEmbedder()
        portrait_embeddings = embedder(inter.sources)
        reference = reference_distances(embedder, intra)
    speakers = sorted(set(intra.source_names))
    results = {
        "settings": {
            "data": str(Path(options.data).resolve()),
            "speakers": speakers,
            "portraits": str(portraits_dir.resolve()),
            "portrait_names": portrait_names,
            "pairs_per_source": options.pairs,
            "seed": options.seed,
            "intra_pairs": len(intra),
            "inter_pairs": len(inter),
            "device": str(device),
            "real_targets_tracked": float(real["intra_tgt"].found.mean()),
        },
        "variants": {name: variant_info(meta, speakers) for name, (_, meta) in variants.items()},
        "intra": {
            COPY: intra_class(
                intra.sources[intra.src], intra, real["intra_tgt"], real["intra_src"].take(intra.src), names
            )
        },
        "inter": {COPY: inter_class(inter, real["inter_tgt"], real["inter_src"].take(inter.src), names)},
        "identity": {"reference": reference},
        "controllability": {},
    }
    grid_intra, grid_inter = grid_picks(intra, inter)
    grid = [
        GridRow(pairs.sources[pairs.src[p]], pairs.targets[pairs.tgt[p]], [], pairs.source_names[pairs.src[p]])
        for pairs, picks in ((intra, grid_intra), (inter, grid_inter))
        for p in picks
    ]
    n_sweep = len(sweep(len(names))[0]) * len(inter.sources)
    for name, (animator, _) in variants.items():
        with progress.stage(name):
            bar = progress.bar(2 * len(intra) + 3 * len(inter) + 2 * n_sweep, name)  # renders, measures, embeds
            synth_intra = synthesize(animator, intra, options.batch_size, bar)
            measured = measurer(synth_intra, bar)
            results["intra"][name] = intra_class(synth_intra, intra, real["intra_tgt"], measured, names)
            synth_inter = synthesize(animator, inter, options.batch_size, bar)
            results["inter"][name] = inter_class(inter, real["inter_tgt"], measurer(synth_inter, bar), names)
            results["identity"][name] = summary(distances(portrait_embeddings[inter.src], embedder(synth_inter, bar)))
            swept = render_sweep(animator, inter.sources, measurer, options.batch_size, bar)
            results["controllability"][name] = controllability(swept, names)
            bar.close()
        for row, crop in zip(grid, [*synth_intra[grid_intra], *synth_inter[grid_inter]]):
            row.syntheses.append(crop)
    return results, grid
