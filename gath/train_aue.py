"""AU estimator pre-training (paper section 3.2, eq. 2) on target frames, validated on
speakers it never saw."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from actionunits.training import TrainLoop
from gath.checkpoint import export_weights, resume
from gath.data import Augment, Batcher, TargetSet, load_target_set, split_by_speaker, to_unit_range
from gath.losses import aue_loss
from gath.models import AUEstimator
from gath.runtime import Runtime, setup_runtime, shutdown, unwrap

KIND = "aue_training"


def aue_step(
    model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, aus: torch.Tensor, rt: Runtime
) -> torch.Tensor:
    opt.zero_grad(set_to_none=True)
    with rt.autocast():
        pred = model(x)
    loss = aue_loss(pred.float(), aus)
    loss.backward()
    opt.step()
    return loss.detach()


@torch.inference_mode()
def evaluate_rmse(
    model: torch.nn.Module, data: TargetSet, rt: Runtime, batch_size: int = 256
) -> tuple[float, torch.Tensor]:
    """Overall and per-AU RMSE over a whole set (eval mode, no augmentation)."""
    was_training = model.training
    model.eval()
    sq = torch.zeros(data.aus.shape[1], dtype=torch.float64)
    for i in range(0, len(data.images), batch_size):
        x = rt.to_input(to_unit_range(data.images[i : i + batch_size].to(rt.device)))
        with rt.autocast():
            pred = model(x).float().cpu()
        sq += (pred - data.aus[i : i + batch_size]).double().pow(2).sum(0)
    model.train(was_training)
    per_au = (sq / len(data.images)).sqrt()
    return float((sq.sum() / sq.numel() / len(data.images)).sqrt()), per_au


def train_aue(cfg: DictConfig) -> Path:
    """Train E; returns the exported inference weights' path (run_dir/au_estimator.pt)."""
    rt = setup_runtime(cfg.device, cfg.train.precision, cfg.train.channels_last, cfg.train.compile)
    torch.manual_seed(cfg.seed)
    run_dir = Path(cfg.run_dir)
    train_set, val_set = split_by_speaker(
        load_target_set(cfg.data.root, list(cfg.data.exclude_speakers)), cfg.train.val_fraction, cfg.seed
    )
    crop = train_set.images.shape[-1]
    config = {"n_aus": len(train_set.au_names), **cfg.model.au_estimator}
    model = AUEstimator(**config).to(rt.device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    batches = Batcher((train_set.images, train_set.aus), rt.device, cfg.seed, rt.rank, rt.world_size)
    aug = Augment(cfg.train.augment.flip, cfg.train.augment.jitter, cfg.train.augment.affine, train_set.au_names)
    ckpt_path = run_dir / "checkpoint.pt"
    step = (
        resume(ckpt_path, KIND, {"aue": model}, {"opt": opt}, {"batches": batches.gen})
        if cfg.resume and ckpt_path.is_file()
        else 0
    )
    net = rt.prepare(model)
    meta = {"au_names": list(train_set.au_names), "crop_size": crop, "val_speakers": val_set.present_speakers()}
    per_rank = max(1, cfg.train.batch_size // rt.world_size)

    run_config = OmegaConf.to_container(cfg)
    save = rt.saver(ckpt_path, KIND, {"aue": net}, {"opt": opt}, {"batches": batches.gen}, run_config, meta)

    with TrainLoop(run_dir, cfg.train.steps, step, "aue", cfg.train.checkpoint_every, save, rt.is_main) as loop:
        for step in loop:
            x, aus = batches.sample(per_rank)
            x, aus = aug(to_unit_range(x), batches.gen, aus)
            loss = aue_step(net, opt, rt.to_input(x), aus, rt)
            if step % cfg.train.log_every == 0:
                loop.log(step, {"aue/train_mse": loss.item()})
            if (step % cfg.train.eval_every == 0 or step == cfg.train.steps) and rt.is_main:
                val_rmse, _ = evaluate_rmse(unwrap(net), val_set, rt)
                loop.log(step, {"aue/val_rmse": val_rmse}, {"train_mse": loss.item(), "val_rmse": val_rmse})
    out = run_dir / "au_estimator.pt"
    if rt.is_main:
        val_rmse, per_au = evaluate_rmse(unwrap(net), val_set, rt)
        export_weights(
            out,
            "au_estimator",
            unwrap(net),
            config,
            meta | {"steps": loop.step, "val_rmse": val_rmse, "val_rmse_per_au": per_au.tolist()},
        )
        print(
            f"aue: {loop.step} steps; validation RMSE {val_rmse:.4f} on held-out speakers "
            f"{', '.join(meta['val_speakers'])}; weights {out}{loop.done_words()}"
        )
    shutdown(rt)
    return out
