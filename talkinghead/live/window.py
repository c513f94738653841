"""The default live output: an OpenCV window with fps and latency drawn on the frame.
Closing it, q or Esc ends the session."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from talkinghead.errors import UserError

TITLE = "talkinghead live"


class Window:
    def __init__(self, first_frame: np.ndarray) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UserError(
                "no display for a window: use --serve 127.0.0.1:8000 (a web page) or --no-window with --record"
            )
        try:
            cv2.namedWindow(TITLE, cv2.WINDOW_AUTOSIZE)
        except cv2.error as e:
            raise UserError(f"cannot open a window ({str(e).strip().splitlines()[-1]}); use --serve") from None
        self.show(first_frame, "waiting for speech...")

    def show(self, frame: np.ndarray, text: str) -> bool:
        """Draw the frame with `text`; False when the user closed the window or pressed q/Esc."""
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        scale = max(0.4, frame.shape[0] / 720)
        for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # outlined: readable on any photo
            cv2.putText(
                bgr,
                text,
                (10, int(28 * scale)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.7 * scale,
                colour,
                max(1, round(thickness * scale)),
                cv2.LINE_AA,
            )
        cv2.imshow(TITLE, bgr)
        key = cv2.waitKey(1) & 0xFF
        return key not in (ord("q"), 27) and cv2.getWindowProperty(TITLE, cv2.WND_PROP_VISIBLE) >= 1

    def close(self) -> None:
        cv2.destroyWindow(TITLE)
        cv2.waitKey(1)
