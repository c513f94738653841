"""The `talkinghead` command: parse, call, print. Work happens in the modules it calls."""

from __future__ import annotations

import argparse
import sys

from talkinghead.errors import UserError


def _train(args: argparse.Namespace) -> int:
    from talkinghead.train import run_training

    run_training(args.model, args.overrides)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="talkinghead", description="Make a still portrait talk.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a model (hydra overrides after the model name)",
                       description="Train a model with the shipped hydra configs; append overrides such as "
                                   "train.steps=100 experiment=gath_c data=prepared data.root=DIR.")
    t.add_argument("model", choices=["gath", "aue", "audio2au"], help="which model to train")
    t.add_argument("overrides", nargs="*", help="hydra overrides, e.g. train.batch_size=32")
    t.set_defaults(func=_train)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as e:
        print(f"talkinghead: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("talkinghead: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
