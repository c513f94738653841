"""Training losses: pure functions of predictions, targets and the valid-frame mask."""

from __future__ import annotations

import torch


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over frames where mask (B, T) is True; (B, T, AUs) inputs."""
    m = mask.unsqueeze(-1).to(pred.dtype)
    return ((pred - target) ** 2 * m).sum() / (m.sum() * pred.shape[-1]).clamp_min(1.0)


def velocity_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE of frame-to-frame differences (pairs of valid frames): punishes jitter and
    lag that a per-frame MSE lets through."""
    both = mask[:, 1:] & mask[:, :-1]
    return masked_mse(pred.diff(dim=1), target.diff(dim=1), both)


def audio2au_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, velocity_weight: float
                  ) -> tuple[torch.Tensor, dict[str, float]]:
    """MSE + velocity_weight * velocity MSE, and the parts for logging."""
    mse, vel = masked_mse(pred, target, mask), velocity_mse(pred, target, mask)
    return mse + velocity_weight * vel, {"mse": mse.item(), "velocity": vel.item()}
