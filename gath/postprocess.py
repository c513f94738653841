"""The paper's post-processing of syntheses (section 4.2): CLAHE restores the contrast that
the composite loss washes out; non-local-means denoising and unsharp masking clean the
output for viewing. Each step can be switched on its own."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

STEPS = ("clahe", "denoise", "sharpen")


@dataclass(frozen=True)
class Enhance:
    clahe: bool = True
    denoise: bool = True
    sharpen: bool = True

    @classmethod
    def parse(cls, text: str) -> Enhance:
        """'clahe,denoise,sharpen' (any subset) or 'all' -> the switches."""
        steps = {s.strip().lower() for s in text.split(",") if s.strip()}
        if steps == {"all"}:
            return cls()
        unknown = steps - set(STEPS)
        if unknown or not steps:
            raise ValueError(f"--enhance takes a comma-separated subset of {', '.join(STEPS)} or 'all', got {text!r}")
        return cls(*(s in steps for s in STEPS))

    @property
    def any(self) -> bool:
        return self.clahe or self.denoise or self.sharpen

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """(B, H, W, 3) or (H, W, 3) uint8 RGB -> the same shape, enhanced."""
        if images.ndim == 3:
            return self._one(images)
        return np.stack([self._one(im) for im in images])

    def _one(self, rgb: np.ndarray) -> np.ndarray:
        out = rgb
        if self.clahe:
            lab = cv2.cvtColor(out, cv2.COLOR_RGB2LAB)
            clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
            lab[..., 0] = clahe.apply(lab[..., 0])
            out = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
        if self.denoise:
            out = cv2.fastNlMeansDenoisingColored(out, None, 5, 5, 5, 15)
        if self.sharpen:
            blur = cv2.GaussianBlur(out, (0, 0), 1.0)
            out = cv2.addWeighted(out, 1.6, blur, -0.6, 0)
        return out
