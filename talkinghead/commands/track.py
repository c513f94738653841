"""`talkinghead track`: the AU series of any video as CSV, optionally plotted to a PNG."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from actionunits import AUSeries
from actionunits.atomic import atomic_output
from talkinghead.errors import UserError

# The coefficients worth a glance: mouth, smile, brows, eyes.
PLOTTED = (
    "jawOpen",
    "mouthPucker",
    "mouthSmileLeft",
    "mouthSmileRight",
    "browInnerUp",
    "browDownLeft",
    "eyeBlinkLeft",
    "eyeBlinkRight",
)


def plot_series(series: AUSeries, path: str | os.PathLike, title: str = "") -> None:
    """Line plot of the main coefficients over time (PNG, written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    names = [n for n in PLOTTED if n in series.names]
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 1.1 * len(names) + 0.8), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        ax.plot(series.times, series.column(name), lw=1.0)
        if series.valid is not None and not series.valid.all():
            ax.fill_between(series.times, 0, 1, where=~series.valid, color="0.85", step="mid", lw=0)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        axes[0, 0].set_title(title, fontsize=9)
    fig.tight_layout()
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=100, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)


def track(
    video: str | os.PathLike,
    output: str | os.PathLike,
    plot: str | os.PathLike | None = None,
    fps: float | None = None,
    neutral_from_clip: bool = True,
    smooth: bool = True,
    on_frames: Callable[[int, int], None] | None = None,
) -> AUSeries:
    """Track `video`, write its AU CSV to `output` (and a plot to `plot`), return the series;
    `on_frames(done, 0)` is told as frames are tracked (their total is not known ahead)."""
    from talkinghead.face.au_tracker import track_video

    output = Path(output)
    for target in filter(None, (output, Path(plot) if plot else None)):
        if not target.parent.is_dir():
            raise UserError(f"output folder does not exist: {target.parent}")
    if plot and Path(plot).suffix.lower() != ".png":
        raise UserError(f"--plot must name a .png file, got {plot}")
    step = None if on_frames is None else (lambda index, *_: on_frames(index + 1, 0))
    series = track_video(video, fps, neutral_from_clip=neutral_from_clip, smooth=smooth, on_frame=step)
    series.write_csv(output)
    if plot:
        plot_series(series, plot, title=Path(video).name)
    return series
