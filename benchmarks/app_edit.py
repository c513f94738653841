"""Server-side time of one Edit-tab update of `talkinghead app` (target: <= 150 ms per
slider move on 2 cores, of which gradio's round trip and the browser take the rest).

    python benchmarks/app_edit.py [--photo PHOTO] [--moves 30]

Times what the app runs per slider move, in this process: the warp of the photo set up
once for the session, and the preview JPEG. The browser-to-image latency, round trip
included, is printed by `tests/test_app.py::test_page_edit_tab_sliders_start_at_the_photo_and_update_fast`
(a headless Chromium moving the jawOpen slider).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Scripts here are named after packages (benchmarks/audio2au.py): keep them from shadowing.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photo", help="portrait (default: the bundled demo photo)")
    p.add_argument("--moves", type=int, default=30)
    args = p.parse_args()

    from talkinghead.app.handlers import edit_setup
    from talkinghead.commands.demo import demo_photo

    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        setup = edit_setup(args.photo or demo_photo(), None, work)
        first = time.perf_counter() - t0
        aus = setup.portrait.aus.copy()
        times = []
        for value in np.linspace(0.0, 1.0, args.moves):
            aus[0] = value
            t0 = time.perf_counter()
            setup.render(aus, preview=True)
            times.append(1000 * (time.perf_counter() - t0))
    print(
        f"edit tab: photo set-up {first:.2f} s once per session; per slider move (warp + preview JPEG) "
        f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms over {args.moves} moves"
    )


if __name__ == "__main__":
    main()
