"""Training losses: pure functions of predictions, targets and per-frame weights (0 = out of
the loss; a bool mask works too) and optional per-AU weights."""

from __future__ import annotations

import torch


def _weights(mask: torch.Tensor, au_weights: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    w = mask.unsqueeze(-1).to(like.dtype)
    return w * au_weights.to(like) if au_weights is not None else w.expand_as(like)


def masked_mse(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, au_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Weighted mean squared error; (B, T, AUs) inputs, (B, T) frame weights, (AUs,) AU weights."""
    w = _weights(mask, au_weights, pred)
    return ((pred - target) ** 2 * w).sum() / w.sum().clamp_min(1e-6)


def velocity_mse(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, au_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """MSE of frame-to-frame differences (a pair weighs as its lighter frame): punishes
    jitter and lag that a per-frame MSE lets through."""
    mask = mask.to(pred.dtype)
    both = torch.minimum(mask[:, 1:], mask[:, :-1])
    return masked_mse(pred.diff(dim=1), target.diff(dim=1), both, au_weights)


def ccc_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, columns: list[int]) -> torch.Tensor:
    """1 - concordance correlation of each AU in `columns` over all weighted frames of the
    batch, averaged: unlike MSE it is as unhappy with a prediction that hugs the mean as
    with one out of step, so the output keeps the target's dynamic range."""
    w = mask.to(pred.dtype).reshape(-1, 1)
    p, t = pred.reshape(-1, pred.shape[-1])[:, columns], target.reshape(-1, target.shape[-1])[:, columns]
    n = w.sum().clamp_min(1e-6)
    mp, mt = (p * w).sum(0) / n, (t * w).sum(0) / n
    vp, vt = (((p - mp) ** 2) * w).sum(0) / n, (((t - mt) ** 2) * w).sum(0) / n
    cov = ((p - mp) * (t - mt) * w).sum(0) / n
    return (1 - 2 * cov / (vp + vt + (mp - mt) ** 2).clamp_min(1e-8)).mean()


def gap_correlation_loss(
    pred_gap: torch.Tensor, gap: torch.Tensor, mask: torch.Tensor, min_frames: int = 10
) -> torch.Tensor:
    """1 - Pearson r between the lip gap the predicted AUs ask for and the measured one, per
    sequence (B, T), averaged over sequences with at least `min_frames` measured, weighted
    frames where the lips move: it trains the mouth on the real mouth rather than on the
    tracker's reading of it, and is blind to each face's scale and rest."""
    ok = torch.isfinite(gap) & (mask > 0)
    w = ok.to(pred_gap.dtype)
    n = w.sum(1)
    g = torch.where(ok, gap, torch.zeros_like(gap))
    pc = pred_gap - (pred_gap * w).sum(1, keepdim=True) / n.clamp_min(1)[:, None]
    gc = (g - (g * w).sum(1, keepdim=True) / n.clamp_min(1)[:, None]) * w
    cov, vp, vg = (pc * gc * w).sum(1), (pc * pc * w).sum(1), (gc * gc).sum(1)
    use = (n >= min_frames) & (vg > 1e-8)
    if not use.any():
        return pred_gap.sum() * 0.0
    r = cov[use] / (vp[use] * vg[use]).clamp_min(1e-12).sqrt()
    return (1 - r).mean()


def audio2au_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    velocity_weight: float,
    au_weights: torch.Tensor | None = None,
    ccc_weight: float = 0.0,
    ccc_columns: list[int] = (),
) -> tuple[torch.Tensor, dict[str, float]]:
    """MSE + velocity_weight * velocity MSE (+ ccc_weight * CCC loss of `ccc_columns`), and
    the parts for logging."""
    mse, vel = masked_mse(pred, target, mask, au_weights), velocity_mse(pred, target, mask, au_weights)
    loss, parts = mse + velocity_weight * vel, {"mse": mse.item(), "velocity": vel.item()}
    if ccc_weight and ccc_columns:
        ccc = ccc_loss(pred, target, mask, list(ccc_columns))
        loss, parts["ccc"] = loss + ccc_weight * ccc, ccc.item()
    return loss, parts
