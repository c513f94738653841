"""The joint discriminator-classifier (paper Fig. 3b): one trunk, two output layers."""

from __future__ import annotations

import torch
from torch import nn


class DiscriminatorClassifier(nn.Module):
    """A strided conv trunk (no normalisation, LeakyReLU 0.1) shared by
    D: a patch map of real/fake scores (least-squares GAN targets 1 = real, 0 = fake), and
    C: logits over `n_classes` source identities (omitted when n_classes == 0, GATH-C).
    """

    def __init__(self, n_classes: int, channels: int = 64, n_layers: int = 5, max_channels: int = 512) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(n_layers):
            c_out = min(channels * 2**i, max_channels)
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.1, inplace=True)]
            c_in = c_out
        self.trunk = nn.Sequential(*layers)
        self.d_head = nn.Conv2d(c_in, 1, 3, 1, 1, bias=False)
        self.n_classes = n_classes
        self.c_head = (
            nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, n_classes)) if n_classes > 0 else None
        )

    def forward(self, x: torch.Tensor, features: bool = False):
        """(real/fake score map (B, 1, h, w), identity logits (B, C) or None), and with
        `features` also the trunk's activation after each layer: feature matching (GATH-W)
        compares those of a result with those of its real target."""
        acts = []
        h = x
        for layer in self.trunk:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                acts.append(h)
        out = self.d_head(h), self.c_head(h) if self.c_head is not None else None
        return (*out, acts) if features else out
