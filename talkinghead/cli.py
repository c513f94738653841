"""The `talkinghead` command: parse, call, print. Work happens in the modules it calls."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from talkinghead.aupost import post_options
from talkinghead.commands.render import SPEECH_POST, STILL_POST, add_render_options, render_options
from talkinghead.errors import UserError
from talkinghead.options import add_options, from_args
from talkinghead.renderers.registry import add_model_options, model_options


def _train(args: argparse.Namespace) -> int:
    from talkinghead.commands.train import run_training

    run_training(args.model, args.overrides)
    return 0


def _report(result, quiet: bool) -> int:
    if not quiet:
        print(result.summary())
    return 0


def _render(args: argparse.Namespace) -> int:
    from talkinghead.commands.render import render

    return _report(render(args.photo, args.audio, args.output, render_options(args), args.au_csv), args.quiet)


def _reenact(args: argparse.Namespace) -> int:
    from talkinghead.commands.render import reenact

    return _report(reenact(args.photo, args.video, args.output, render_options(args), args.au_csv), args.quiet)


def _demo(args: argparse.Namespace) -> int:
    from talkinghead.commands.demo import SPEECH, demo_output, demo_photo
    from talkinghead.commands.render import render

    output = args.output or demo_output()
    return _report(render(demo_photo(), SPEECH, output, render_options(args)), args.quiet)


def _batch(args: argparse.Namespace) -> int:
    from talkinghead.batch import BatchOptions, run_batch
    from talkinghead.batch.run import summary_json

    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    options = BatchOptions(args.workers, args.ray, args.ray_address, args.quiet or args.json)
    summary = run_batch(args.manifest, args.output, options)
    print(summary_json(summary) if args.json else summary.line())
    return 130 if summary.interrupted else 0 if summary.ok else 1


def _edit(args: argparse.Namespace) -> int:
    from talkinghead.commands.edit import EditOptions, edit

    options = from_args(EditOptions(), args, model=model_options(args))
    aus = edit(args.photo, args.output, post_options(args), options)
    if not args.quiet:
        from actionunits import AU_NAMES

        shown = ", ".join(f"{n}={v:.2f}" for n, v in zip(AU_NAMES, aus) if v >= 0.05) or "all AUs 0"
        print(f"wrote {args.output} ({shown})")
    return 0


def _live(args: argparse.Namespace) -> int:
    from talkinghead.live import LiveOptions, run_live
    from talkinghead.live.audio_input import list_input_devices

    if args.list_devices:
        print(list_input_devices())
        return 0
    if args.photo is None:
        raise UserError("live needs --photo (or --list-devices)")
    defaults = LiveOptions()
    options = from_args(defaults, args, model=model_options(args), post=post_options(args, defaults.post))
    return _report(run_live(args.photo, options), args.quiet)


def _prepare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from talkinghead.clip_sources import shared_data_inputs
    from talkinghead.commands.prepare import format_summary, prepare

    sources = [Path(s) for s in args.source]
    targets = [(Path(t.partition("=")[0]), t.partition("=")[2] or None) for t in args.target]
    name_root = None
    if args.shared_data:
        extra_sources, extra_targets, name_root = shared_data_inputs(Path(args.shared_data))
        sources, targets = extra_sources + sources, extra_targets + targets
    summary = prepare(
        args.output,
        sources,
        targets,
        crop_size=args.crop_size,
        fps=args.fps,
        workers=args.workers,
        neutral_from_clip=not args.population_neutral,
        limit=args.limit,
        name_root=name_root,
        progress=not args.quiet,
    )
    print(format_summary(summary, Path(args.output)))
    return 0


def _pack(args: argparse.Namespace) -> int:
    from talkinghead.commands.pack import PackOptions, pack

    options = PackOptions(
        max_mb=args.max_mb,
        source_share=args.source_share,
        audio=not args.no_audio,
        jpeg_quality=args.jpeg_quality,
        seed=args.seed,
        progress=not args.quiet,
    )
    print(pack(args.source, args.output, options).line())
    return 0


def _track(args: argparse.Namespace) -> int:
    from talkinghead.commands.track import track

    series = track(
        args.video,
        args.output,
        args.plot,
        fps=args.fps,
        neutral_from_clip=not args.population_neutral,
        smooth=not args.no_smooth,
    )
    print(
        f"wrote {args.output}: {len(series)} frames at {series.fps:g} fps, "
        f"{int(series.valid.sum())} with a tracked face" + (f"; plot {args.plot}" if args.plot else "")
    )
    return 0


def _app(args: argparse.Namespace) -> int:
    from talkinghead.app import serve

    serve(args.host, args.port)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from talkinghead.evaluation import EvalOptions, run_eval

    variants = {}
    for text in args.variant or []:
        name, sep, path = text.partition("=")
        if not sep or not name or not path or name in variants:
            raise UserError(
                f"--variant takes a unique NAME=PATH (warp, motion.pt, gath_w, refiner.pt, generator .pt or "
                "weights folder), "
                f"got {text!r}"
            )
        variants[name] = path if path == "warp" else Path(path)
    if args.sync_only and (variants or args.portraits):
        raise UserError("--sync-only evaluates audio2au alone: drop --variant and --portraits")
    options = EvalOptions(
        data=Path(args.data),
        output=Path(args.output),
        **({"variants": variants} if variants else {}),
        portraits=args.portraits and Path(args.portraits),
        audio2au=args.audio2au and Path(args.audio2au),
        pairs=args.pairs,
        seed=args.seed,
        device=args.device,
        quiet=args.quiet,
        sync_only=args.sync_only,
        lips=not args.no_lips,
        **({"speakers": tuple(args.speakers)} if args.speakers else {}),
    )
    run_eval(options)
    plots = ("audio2au_sync.png" if args.sync_only else "plots, grid.png") + ("" if args.no_lips else ", lips/")
    print(f"wrote {Path(args.output) / 'report.md'} and eval.json, {plots}")
    return 0


def _data_root() -> str:
    from talkinghead.data_root import data_root

    return str(data_root())


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1


def _train_arguments(p: argparse.ArgumentParser) -> None:
    from talkinghead.commands.train import TRAINER_NAMES

    p.add_argument("model", choices=TRAINER_NAMES, help="which model to train")
    p.add_argument("overrides", nargs="*", help="hydra overrides, e.g. train.batch_size=32")


def _render_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--photo", required=True, help="portrait (jpg, png, ...)")
    p.add_argument("--audio", help="speech (wav, mp3, flac, m4a, ...); muxed into the video")
    p.add_argument(
        "--au-csv",
        metavar="CSV",
        help="drive the face from an AU CSV (this project's format or an ARKit blendshape CSV) instead of the speech",
    )
    p.add_argument("-o", "--output", default="talkinghead.mp4", help="video to write (default talkinghead.mp4)")
    add_render_options(p, speech=True)


def _batch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "manifest",
        metavar="JOBS",
        help="a CSV with a header or JSONL: photo, audio or au_csv, "
        "optional output, and render's options by their long names with underscores (docs/batch.md)",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the videos and ledger.jsonl")
    p.add_argument("--workers", type=int, help="local worker processes (default: one per two cores)")
    p.add_argument("--ray", action="store_true", help="run the jobs as Ray tasks (pip install '.[cluster]')")
    p.add_argument(
        "--ray-address", metavar="ADDR", help="the Ray cluster to join (default: $RAY_ADDRESS, else a local one)"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _edit_arguments(p: argparse.ArgumentParser) -> None:
    from talkinghead.aupost import PostOptions
    from talkinghead.commands.edit import EditOptions

    p.add_argument("--photo", required=True, help="portrait (jpg, png, ...)")
    p.add_argument("-o", "--output", default="edited.png", help="image to write (png, jpg; default edited.png)")
    add_model_options(p)
    add_options(p, "expression", PostOptions(), STILL_POST)
    add_options(p, "output", EditOptions(), ("size", "face_index", "crop_only", "enhance", "quiet"))
    add_options(p, "head pose", EditOptions(), ("yaw", "pitch", "roll"))


def _reenact_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--photo", required=True, help="portrait (jpg, png, ...)")
    p.add_argument("--video", required=True, help="driving video with a face (its audio is muxed)")
    p.add_argument("--au-csv", metavar="CSV", help="take the AUs from this CSV instead of tracking the video")
    p.add_argument("-o", "--output", default="reenacted.mp4", help="video to write (default reenacted.mp4)")
    add_render_options(p)


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o",
        "--output",
        help="video to write (default: talkinghead_demo.mp4 in $TALKINGHEAD_OUTPUT, else ~/talkinghead-output/)",
    )
    add_render_options(p, speech=True)


def _live_arguments(p: argparse.ArgumentParser) -> None:
    from talkinghead.live import LiveOptions

    p.add_argument("--photo", help="portrait (jpg, png, ...)")
    p.add_argument("--list-devices", action="store_true", help="list audio input devices and exit")
    add_options(p, "session", LiveOptions(), ("input_device", "serve", "record", "window", "duration"))
    add_model_options(p)
    add_options(p, "expression", LiveOptions().post, SPEECH_POST + ("smooth_s",))
    add_options(p, "output", LiveOptions(), ("size", "face_index", "fps", "quiet"))


def _prepare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("output", help="dataset folder to create or extend")
    p.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="DIR",
        help="photo folder for the source set; identities from DIR/identities.csv, sub-folders, "
        "or file names like Name_0001.jpg (repeatable)",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="DIR[=SPEAKER]",
        help="folder of videos (or one video) for the target set; speakers from a manifest.csv, "
        "=SPEAKER, or one per clip (repeatable)",
    )
    p.add_argument(
        "--shared-data",
        nargs="?",
        const=str(_data_root()),
        metavar="ROOT",
        help="add every face folder and video of the shared data (default root: %(const)s)",
    )
    p.add_argument("--crop-size", type=int, default=100, help="aligned crop size in pixels (default 100)")
    p.add_argument("--fps", type=float, default=25.0, help="frame rate sampled from videos (default 25)")
    p.add_argument("--workers", type=int, default=_cpu_count(), help="parallel processes (default: all cores)")
    p.add_argument(
        "--population-neutral",
        action="store_true",
        help="measure AUs from the population's neutral face, not each clip's own rest face",
    )
    p.add_argument("--limit", type=int, help="at most this many files per folder (quick trials)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _pack_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="prepared dataset (talkinghead prepare)")
    p.add_argument("output", help="pack folder to write (an older pack there is replaced)")
    p.add_argument("--seed", type=int, default=0, help="seed of the still and frame choice")
    p.add_argument("--max-mb", type=float, default=56.0, help="size budget in MiB (default 56)")
    p.add_argument(
        "--source-share",
        type=float,
        default=0.35,
        help="share of the budget for source stills (default 0.35; the rest goes to target clips)",
    )
    p.add_argument(
        "--no-audio", action="store_true", help="drop audio (default: kept when it fits in half of the target budget)"
    )
    p.add_argument(
        "--jpeg-quality",
        type=int,
        metavar="Q",
        help="re-encode images as JPEG at quality Q (default: copy them as they are)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _track_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", help="video with a face")
    p.add_argument("-o", "--output", required=True, help="CSV to write (time,valid,<AU names>)")
    p.add_argument("--plot", metavar="PNG", help="also plot the main coefficients over time")
    p.add_argument("--fps", type=float, help="sample at this frame rate (default: the video's)")
    p.add_argument(
        "--population-neutral",
        action="store_true",
        help="measure AUs from the population's neutral face, not the clip's own rest face",
    )
    p.add_argument("--no-smooth", action="store_true", help="no temporal smoothing")


def _app_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")


def _eval_arguments(p: argparse.ArgumentParser) -> None:
    from talkinghead.renderers import ModelOptions

    p.add_argument(
        "--variant",
        action="append",
        metavar="NAME=PATH",
        help="a renderer to evaluate: warp (the shipped motion model), a motion.pt, gath_w (the warp with "
        "the shipped GATH-W refiner), a refiner.pt, or a GATH generator (.pt or weights folder); "
        "repeatable, e.g. warp=warp w=runs/gath_w/refiner.pt gath=runs/gath (default: the warp "
        "renderer and the shipped GATH generator)",
    )
    p.add_argument("--audio2au", metavar="PT", help="audio2au checkpoint (default: the shipped one)")
    p.add_argument(
        "--data",
        default=os.environ.get("TALKINGHEAD_PREPARED", "runs/prepared"),
        help="prepared dataset (talkinghead prepare; default %(default)s)",
    )
    p.add_argument(
        "--speakers",
        nargs="+",
        metavar="GLOB",
        help="held-out speakers (default: audio2au's validation and test speakers of the shared data)",
    )
    p.add_argument(
        "--portraits",
        metavar="DIR",
        help="unseen faces for inter-class pairs, identity and controllability (default: <data root>/portraits)",
    )
    p.add_argument("--pairs", type=int, default=8, help="target frames per source and per portrait (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the frame choice")
    p.add_argument("--sync-only", action="store_true", help="only audio2au lip sync (no renderers, faces or portraits)")
    p.add_argument(
        "--no-lips",
        action="store_true",
        help="skip lip sync end to end (rendering each held-out clip from its first frame and audio, clean and "
        "damaged, against the real lips: minutes on a CPU)",
    )
    add_options(p, "device", ModelOptions(), ("device",))
    p.add_argument("-o", "--output", default="reports/eval", help="report folder (default reports/eval)")
    p.add_argument("--quiet", action="store_true", help="no progress output")


# Each command: its handler, its arguments, its line in `talkinghead --help` and the description
# on its page.
COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None], str, str]] = {
    "train": (
        _train,
        _train_arguments,
        "train a model (hydra overrides after the model name)",
        "Train a model with the shipped hydra configs; append overrides such as "
        "train.steps=100 experiment=gath_c data=prepared data.root=DIR.",
    ),
    "render": (
        _render,
        _render_arguments,
        "photo + speech -> lip-synced talking video",
        "Make the face in a photo say the speech in an audio file (H.264 + AAC).",
    ),
    "edit": (
        _edit,
        _edit_arguments,
        "set facial AUs of a photo (expression editing)",
        "Re-render a portrait with some AUs set, e.g. --au jawOpen=0.6,mouthSmileLeft=0.8; "
        "AUs not given keep the values the photo shows (all 0 with --neutral).",
    ),
    "reenact": (
        _reenact,
        _reenact_arguments,
        "photo + driving video -> the photo makes the driver's faces",
        "Track the AUs of the face in a driving video and render them on the photo, with the driving video's audio.",
    ),
    "batch": (
        _batch,
        _batch_arguments,
        "render many jobs from a manifest, resumable, locally or on a Ray cluster",
        "Render every job of a manifest into OUTDIR, one job a row; rerun to finish what is missing "
        "(OUTDIR/ledger.jsonl records each attempt). Exit 0 when every job succeeded (docs/batch.md).",
    ),
    "demo": (
        _demo,
        _demo_arguments,
        "render the bundled example (no arguments needed)",
        "Render the bundled portrait saying the bundled speech.",
    ),
    "live": (
        _live,
        _live_arguments,
        "talk into the microphone and watch the portrait speak, in real time",
        "Microphone -> streaming audio2au -> the warp renderer (or GATH) -> a window (default), a local "
        "web page (--serve) and/or a recording (--record). Ctrl+C stops and finishes the "
        "recording.",
    ),
    "prepare": (
        _prepare,
        _prepare_arguments,
        "build a training dataset from photo folders and videos",
        "Align faces, track AUs and extract audio into the prepared dataset format "
        "(docs/dataset-format.md). Resumable: run again to continue or extend.",
    ),
    "pack": (
        _pack,
        _pack_arguments,
        "a size-budgeted subset of a prepared dataset (for a GPU machine)",
        "Copy a subset of a prepared dataset, same format, under --max-mb: colour and "
        "repeated identities first among the stills, every clip and speaker with frames "
        "subsampled (docs/dataset-format.md, 'Packs for a GPU machine').",
    ),
    "track": (
        _track,
        _track_arguments,
        "export the AU series of a video (CSV, optional plot)",
        "Track the face in a video and write one row of AU coefficients per frame.",
    ),
    "app": (
        _app,
        _app_arguments,
        "the browser app: render, reenact, edit, live and track in a local web page",
        "Start a local Gradio app (offline) with Render, Reenact, Edit, Live and Track tabs and "
        "the /render, /reenact, /edit and /track API (docs/app.md). Ctrl+C stops it.",
    ),
    "eval": (
        _eval,
        _eval_arguments,
        "the paper's evaluation on held-out speakers and unseen faces",
        "Pixel and AU errors of intra- and inter-class syntheses (the GATH paper's "
        "Tables 1-3), identity preservation, AU controllability and lip sync (audio2au, and "
        "rendered end to end); writes eval.json, report.md, plots, grid.png and lips/ (docs/eval.md).",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    p = argparse.ArgumentParser(prog="talkinghead", description="Make a still portrait talk.")
    p.add_argument("--version", action="version", version=f"talkinghead {version('talkinghead')}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (func, arguments, help, description) in COMMANDS.items():
        command = sub.add_parser(name, help=help, description=description)
        command.set_defaults(func=func)
        arguments(command)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # a typo under a sub-command: show that command's usage, not the top-level one
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
        commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.func(args)
    except UserError as e:
        for line in str(e).splitlines():  # a manifest's errors: one line each
            print(f"talkinghead: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("talkinghead: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
