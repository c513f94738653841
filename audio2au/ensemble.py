"""Average several audio2au exports into one checkpoint (`Audio2AUEnsemble`):

    python -m audio2au.ensemble OUT.pt RUN_A/audio2au.pt RUN_B/audio2au.pt ...

The members are runs of one recipe with different seeds; the result loads wherever a
single model does (render, live, eval), and streams when the members do.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from actionunits.checkpoint import atomic_save
from audio2au.checkpoint import CheckpointError, ensemble_checkpoint, read_checkpoint


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("members", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        atomic_save(ensemble_checkpoint([read_checkpoint(p) for p in args.members]), args.out)
    except CheckpointError as e:
        parser.exit(2, f"audio2au.ensemble: {e}\n")
    print(f"{args.out}: {len(args.members)} members")


if __name__ == "__main__":
    main()
