"""The speech -> AU network and offline inference.

Per video frame, a small conv front-end turns the feature window into one vector; an LSTM
runs over the frames. Offline models are bidirectional. Streaming models are
unidirectional and read `lookahead` frames ahead: the output for frame i comes from the
LSTM state at frame i + lookahead, so a fixed, small delay buys some future context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from audio2au.features import FeatureConfig


class Audio2AUNet(nn.Module):
    """(batch, frames + lookahead, window, dim) features -> (batch, frames, n_aus) in [0, 1].

    `feat_mean`/`feat_std` are the training set's feature statistics (buffers, so they
    travel in the state dict)."""

    def __init__(
        self,
        n_features: int,
        window: int,
        n_aus: int,
        conv_channels: int = 64,
        conv_layers: int = 2,
        hidden: int = 128,
        layers: int = 2,
        bidirectional: bool = True,
        lookahead: int = 0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if bidirectional and lookahead:
            raise ValueError(
                "lookahead is for unidirectional (streaming) models; a bidirectional model sees the future"
            )
        if lookahead < 0:
            raise ValueError(f"lookahead must be >= 0, got {lookahead}")
        self.lookahead = lookahead
        self.register_buffer("feat_mean", torch.zeros(n_features))
        self.register_buffer("feat_std", torch.ones(n_features))
        front: list[nn.Module] = []
        channels, length = n_features, window
        for _ in range(conv_layers if conv_channels else 0):
            front += [nn.Conv1d(channels, conv_channels, 3, stride=2 if length > 4 else 1, padding=1), nn.GELU()]
            channels, length = conv_channels, (length + 1) // 2 if length > 4 else length
        self.front = nn.Sequential(
            *front, nn.Flatten(), nn.Linear(channels * length, hidden), nn.GELU(), nn.Dropout(dropout)
        )
        self.lstm = nn.LSTM(
            hidden,
            hidden,
            layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), n_aus)

    @property
    def bidirectional(self) -> bool:
        return self.lstm.bidirectional

    @property
    def device(self) -> torch.device:
        return self.feat_mean.device

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.feat_mean.copy_(mean)
        self.feat_std.copy_(std.clamp_min(1e-5))

    def embed(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, window, dim) -> (B, T, hidden), frame by frame."""
        b, t, w, d = feats.shape
        x = (feats - self.feat_mean) / self.feat_std
        return self.front(x.reshape(b * t, w, d).transpose(1, 2)).reshape(b, t, -1)

    def step(
        self, feats: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Outputs for each input frame (not yet shifted by the look-ahead) and the LSTM
        state after them; streaming calls this chunk by chunk."""
        h, state = self.lstm(self.embed(feats), state)
        return torch.sigmoid(self.head(h)), state

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.step(feats)[0][:, self.lookahead :]


class Audio2AUEnsemble(nn.Module):
    """`members` networks of one recipe, trained from different seeds, their outputs averaged.

    Seeds alone move a network's held-out lip sync by about as much as most recipe changes;
    the mean of several is steadier than any one of them. Same interface as Audio2AUNet:
    `step` carries one LSTM state per member."""

    def __init__(self, members: int, **net: Any) -> None:
        super().__init__()
        if members < 1:
            raise ValueError(f"an ensemble needs at least one member, got {members}")
        self.members = nn.ModuleList(Audio2AUNet(**net) for _ in range(members))

    @property
    def lookahead(self) -> int:
        return self.members[0].lookahead

    @property
    def bidirectional(self) -> bool:
        return self.members[0].bidirectional

    @property
    def device(self) -> torch.device:
        return self.members[0].device

    def step(
        self, feats: torch.Tensor, state: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        outs, states = zip(*(m.step(feats, s) for m, s in zip(self.members, state or [None] * len(self.members))))
        return torch.stack(outs).mean(0), list(states)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.step(feats)[0][:, self.lookahead :]


@dataclass
class Audio2AU:
    """A trained network with what it needs to be used correctly."""

    net: Audio2AUNet | Audio2AUEnsemble
    features: FeatureConfig
    au_names: tuple[str, ...]
    fps: float  # frame rate of the training data
    meta: dict = field(default_factory=dict)  # the rest of the checkpoint (config, training info)

    def check_au_names(self, expected: tuple[str, ...] | list[str], what: str = "the GATH checkpoint") -> None:
        """Raise a clear ValueError when this model's AU vector is not the one `what` takes."""
        if tuple(expected) != self.au_names:
            missing = [n for n in expected if n not in self.au_names]
            extra = [n for n in self.au_names if n not in expected]
            detail = f"missing {missing}, extra {extra}" if missing or extra else "same names in another order"
            raise ValueError(f"audio2au predicts {len(self.au_names)} AUs but {what} takes {len(expected)}: {detail}")
