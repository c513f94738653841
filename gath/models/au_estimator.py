"""The AU estimator E (paper section 3.2, Fig. 3c): VGG-9 style, sigmoid AU outputs.

Its conv3_2 activations are f_au, the expression space in which L_au compares a synthesis
with the target frame.
"""

from __future__ import annotations

import torch
from torch import nn


def _vgg_conv(c_in: int, c_out: int, batch_norm: bool) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, 1, 1, bias=not batch_norm),
        *([nn.BatchNorm2d(c_out)] if batch_norm else []),
        nn.ReLU(inplace=True),
    ]


class AUEstimator(nn.Module):
    """conv1_1, conv1_2, pool, conv2_1, conv2_2, pool, conv3_1, conv3_2 (= f_au), then a
    three-layer regression head (pool -> fc -> fc -> fc -> sigmoid): nine weight layers."""

    def __init__(
        self, n_aus: int, channels: int = 64, hidden: int = 512, batch_norm: bool = True, dropout: float = 0.3
    ) -> None:
        super().__init__()
        c = channels
        self.n_aus = n_aus
        self.features = nn.Sequential(
            *_vgg_conv(3, c, batch_norm),
            *_vgg_conv(c, c, batch_norm),
            nn.MaxPool2d(2),
            *_vgg_conv(c, 2 * c, batch_norm),
            *_vgg_conv(2 * c, 2 * c, batch_norm),
            nn.MaxPool2d(2),
            *_vgg_conv(2 * c, 4 * c, batch_norm),
            *_vgg_conv(4 * c, 4 * c, batch_norm),
        )
        self.head = nn.Sequential(
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(4 * c * 16, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_aus),
            nn.Sigmoid(),
        )

    def f_au(self, x: torch.Tensor) -> torch.Tensor:
        """conv3_2 activations: the latent expression space of L_au."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
