"""`talkinghead train audio2au`: fit Audio2AUNet on prepared (audio, AU series) clips.

Resume continues exactly: every step draws its batch and dropout from seeds derived from
(seed, step), so the checkpoint only needs weights, optimizer state and the step.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from actionunits.atomic import atomic_output
from actionunits.checkpoint import atomic_save, resolve_device, update_manifest
from actionunits.training import TrainLoop
from audio2au.checkpoint import checkpoint_dict, read_checkpoint
from audio2au.data import (
    Clip,
    FeatureBank,
    degraded,
    gap_weights,
    load_clips,
    silence_weights,
    speech_gap,
    speech_targets,
    speed_perturb,
    split_by_speaker,
)
from audio2au.evaluate import mean_ignoring_nan, mouth_names, pearson
from audio2au.features import FeatureConfig, band_mask, eq_shift, formant_warp, gain_shift, noise_mix
from audio2au.frame_measures import AU_GAP_WEIGHTS
from audio2au.lipsync import clip_series, lip_levels, speaker_sync
from audio2au.losses import audio2au_loss, gap_correlation_loss
from audio2au.model import Audio2AU, Audio2AUNet

PLOT_AUS = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthStretchLeft")


def random_eq(batch: int, bands: int, max_db: float, generator: torch.Generator) -> torch.Tensor:
    """(batch, bands) smooth random equaliser curves within about +-max_db: three cosines
    across the mel axis, like the tilt and colour of different microphones and rooms."""
    k = torch.arange(1, 4, dtype=torch.float32)
    amp = (torch.rand(batch, 3, generator=generator) * 2 - 1) * max_db / 3
    return amp @ torch.cos(math.pi * k[:, None] * (torch.arange(bands) + 0.5) / bands)


def learning_rate(step: int, base: float, warmup: int, steps: int) -> float:
    """Linear warm-up, then cosine decay to 5% of base."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


@torch.inference_mode()
def validate(
    net: Audio2AUNet, bank: FeatureBank, names: tuple[str, ...], loss_args: dict, device: torch.device
) -> tuple[dict[str, float], list[np.ndarray]]:
    """Loss over whole validation clips, the Pearson r of jawOpen and of the mouth AUs with
    the (processed) labels, and, where clips have a measured lip gap, the mean per-speaker r
    of the predicted lip gap and jawOpen with it and the lip-opening AUs in silence."""
    net.eval()
    preds, losses = [], []
    for x, y, w in zip(bank.feats, bank.targets, bank.weights):
        p = net(x[None].float().to(device)).float().cpu()
        losses.append(audio2au_loss(p, y[None], w[None], **loss_args)[0].item() * float(w.sum()))
        preds.append(p[0].numpy())
    valid = torch.cat(bank.valid).numpy()
    pred, true = np.concatenate(preds)[valid], torch.cat(bank.targets).numpy()[valid]
    rs = [pearson(pred[:, names.index(n)], true[:, names.index(n)]) for n in mouth_names(names)]
    metrics = {
        "loss": float(sum(losses) / max(1.0, float(torch.cat(bank.weights).sum()))),
        "r_mouth": mean_ignoring_nan(np.array(rs)),
    }
    if "jawOpen" in names:
        metrics["r_jawOpen"] = pearson(pred[:, names.index("jawOpen")], true[:, names.index("jawOpen")])
    by_speaker: dict[str, list[tuple]] = {}
    for c, p in zip(bank.clips, preds):
        if c.gap is not None and "jawOpen" in names:
            series, speech = clip_series(p, None, names, c.waveform, c.fps)
            by_speaker.setdefault(c.speaker, []).append((c.gap, speech, series, *lip_levels(p, names)))
    if by_speaker:
        rows = [speaker_sync(s, *map(list, zip(*parts))) for s, parts in by_speaker.items()]
        metrics["r_gap"] = mean_ignoring_nan(np.array([r.r_all["model lip gap"] for r in rows]))
        metrics["r_gap_jaw"] = mean_ignoring_nan(np.array([r.r_all["model jawOpen"] for r in rows]))
        metrics["lips_silence"] = mean_ignoring_nan(np.array([r.lips_silence for r in rows]))
    return metrics, preds


def plot_mouth(path: Path, clip: Clip, pred: np.ndarray, names: tuple[str, ...], step: int) -> None:
    """PNG of predicted vs tracked mouth coefficients of one validation clip (atomic write)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [n for n in PLOT_AUS if n in names]
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 1.6 * len(shown) + 0.6), sharex=True, squeeze=False)
    t = np.arange(len(pred)) / clip.fps
    for ax, n in zip(axes[:, 0], shown):
        j = names.index(n)
        ax.plot(t, clip.aus[:, j], label="tracked", color="black", lw=1)
        ax.plot(t, pred[:, j], label="predicted", color="tab:red", lw=1)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(n, fontsize=8)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[0, 0].set_title(f"{clip.name} (speaker {clip.speaker}, unseen) - step {step}", fontsize=9)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    try:
        with atomic_output(path, ".png") as tmp:
            fig.savefig(tmp, dpi=80)
    finally:
        plt.close(fig)


def _plain(node) -> dict:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)


def train_audio2au(cfg: DictConfig) -> Path:
    """Train, checkpoint to run_dir/checkpoint.pt, export fp16 weights to run_dir/audio2au.pt
    (and the best validation step to run_dir/audio2au_best.pt); returns the export's path."""
    tc = cfg.train
    run_dir = Path(cfg.run_dir)
    device = resolve_device(str(cfg.device))
    if tc.threads:
        torch.set_num_threads(int(tc.threads))
    bf16 = tc.precision == "bf16" or (tc.precision == "auto" and device.type == "cuda")
    feats = FeatureConfig(**_plain(cfg.features))

    if tc.select not in ("r_gap", "loss"):
        raise ValueError(f"train.select must be r_gap or loss, got {tc.select!r}")
    split = _plain(cfg.split)
    clips, names = load_clips(cfg.data.root, split["exclude"])
    targets = {
        "rest_aus": list(tc.rest_aus),
        "rest_percentile": float(tc.rest_percentile),
        "silence_aus": list(tc.lip_aus),
        "hangover": [int(v) for v in tc.silence_hangover],
    }
    clips = [speech_targets(c, names, **targets) for c in clips]
    train_clips, val_clips = split_by_speaker(clips, split["val_speakers"], split["val_fraction"], int(cfg.seed))
    model_cfg = {"n_features": feats.dim, "window": feats.window, "n_aus": len(names), **_plain(cfg.model)}
    torch.manual_seed(int(cfg.seed))
    net = Audio2AUNet(**model_cfg)
    augmented = train_clips + [speed_perturb(c, float(f)) for c in train_clips for f in tc.speed_perturb]
    cache = Path(tc.codec_cache) if tc.codec_cache else None
    augmented += [degraded(c, str(codec), cache) for c in train_clips for codec in tc.codecs]
    bank = FeatureBank(
        augmented,
        feats,
        net.lookahead,
        float(tc.speaker_balance),
        [
            gap_weights(c, float(tc.gap_weight)) * silence_weights(c, float(tc.silence_weight), targets["hangover"])
            for c in augmented
        ],
        [speech_gap(c, targets["hangover"]) if tc.gap_corr_speech_only else c.gap for c in augmented],
    )
    val_bank = FeatureBank(val_clips, feats, net.lookahead)
    lips = [names.index(n) for n in tc.lip_aus]
    au_weights = torch.ones(len(names))
    au_weights[lips] = float(tc.lip_weight)
    gap_vector = torch.tensor([AU_GAP_WEIGHTS.get(n, 0.0) for n in names]).to(device)
    loss_args = {
        "velocity_weight": float(tc.velocity_weight),
        "au_weights": au_weights,
        "ccc_weight": float(tc.ccc_weight),
        "ccc_columns": lips,
    }
    net.set_normalization(*bank.stats())
    with torch.no_grad():  # start from the training mean: the easy part is learned at step 0
        mean = torch.cat([c_t[c_m] for c_t, c_m in zip(bank.targets, bank.valid)]).mean(0).clamp(0.01, 0.99)
        net.head.bias.copy_(torch.logit(mean))
    info = {
        "train_speakers": sorted({c.speaker for c in train_clips}),
        "val_speakers": sorted({c.speaker for c in val_clips}),
        "train_frames": int(sum(len(c.aus) for c in train_clips)),
        "targets": targets,
    }
    fps = float(np.median([c.fps for c in clips]))
    model = Audio2AU(net, feats, names, fps, {"model": model_cfg, "info": info})
    net.to(device)
    # validated and exported: an exponential moving average of the weights when train.ema > 0
    # (smoother than the last step's weights on unseen speakers), else the weights themselves
    shown = Audio2AU(copy.deepcopy(net), feats, names, fps, model.meta) if tc.ema else model
    opt = torch.optim.AdamW(net.parameters(), lr=float(tc.lr), weight_decay=float(tc.weight_decay))

    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path, step, best = run_dir / "checkpoint.pt", 0, float("inf")
    if cfg.resume and ckpt_path.is_file():
        ckpt = read_checkpoint(ckpt_path)
        if ckpt["model"] != model_cfg or ckpt["features"] != feats.to_dict() or tuple(ckpt["au_names"]) != names:
            raise ValueError(
                f"{ckpt_path} was trained with another model/feature config or AU names; "
                "use another run_dir or resume=false"
            )
        net.load_state_dict(ckpt["state_dict"])
        if tc.ema:
            shown.net.load_state_dict(ckpt.get("ema_state_dict", ckpt["state_dict"]))
        opt.load_state_dict(ckpt["optimizer"])
        step, best = int(ckpt["step"]), float(ckpt["best_val"])
        print(f"resumed {ckpt_path} at step {step}")

    speakers = (len(info["train_speakers"]), len(info["val_speakers"]))
    print(
        f"audio2au: {len(train_clips)} train clips ({speakers[0]} speakers), {len(augmented)} with speed perturbation "
        f"and codecs, {len(val_clips)} validation clips ({speakers[1]} unseen speakers), device {device}"
    )

    def save(step: int) -> None:
        ema = {"ema_state_dict": checkpoint_dict(shown)["state_dict"]} if tc.ema else {}
        atomic_save(checkpoint_dict(model, step=step, best_val=best, optimizer=opt.state_dict(), **ema), ckpt_path)

    def export(name: str, step: int) -> Path:
        model.meta["info"]["step"] = step
        path = atomic_save(checkpoint_dict(shown, half=True), run_dir / name)
        update_manifest(path)
        return path

    with TrainLoop(run_dir, int(tc.steps), step, "audio2au", int(tc.checkpoint_every), save) as loop:
        for step in loop:
            i = step - 1  # the step being taken: its batch, dropout and learning rate
            net.train()
            for group in opt.param_groups:
                group["lr"] = learning_rate(i, float(tc.lr), int(tc.warmup), int(tc.steps))
            gen = torch.Generator().manual_seed(int(cfg.seed) * 1_000_003 + i)
            torch.manual_seed(int(cfg.seed) * 1_000_003 + i)  # dropout
            x, y, m, gap = bank.sample(int(tc.batch_size), int(tc.seq_len), gen)
            if len(tc.noise_snr_db):
                lo, hi = (float(v) for v in tc.noise_snr_db)
                snr = lo + torch.rand(len(x), generator=gen) * (hi - lo)
                snr[torch.rand(len(x), generator=gen) >= float(tc.noise_p)] = 300.0  # these stay clean
                x = noise_mix(x, snr, (torch.rand(len(x), generator=gen) * 2 - 1) * 12.0, feats)
            if tc.gain_db:
                x = gain_shift(x, (torch.rand(len(x), generator=gen) * 2 - 1) * float(tc.gain_db), feats)
            if tc.eq_db:
                x = eq_shift(x, random_eq(len(x), feats.dim, float(tc.eq_db), gen), feats)
            if tc.formant_warp:
                x = formant_warp(x, 1 + (torch.rand(len(x), generator=gen) * 2 - 1) * float(tc.formant_warp), feats)
            for _ in range(int(tc.band_masks[0]) if tc.band_masks else 0):
                width = torch.randint(0, int(tc.band_masks[1]) + 1, (len(x),), generator=gen)
                x = band_mask(x, torch.randint(0, feats.dim, (len(x),), generator=gen), width)
            x, y, m = x.to(device), y.to(device), m.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                pred = net(x)
            loss, parts = audio2au_loss(pred.float(), y, m, **loss_args)
            if tc.gap_corr_weight:
                gap_loss = gap_correlation_loss(pred.float() @ gap_vector, gap.to(device), m)
                loss, parts["gap_corr"] = loss + float(tc.gap_corr_weight) * gap_loss, gap_loss.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), float(tc.grad_clip))
            opt.step()
            if tc.ema:
                with torch.no_grad():
                    for avg, now in zip(shown.net.state_dict().values(), net.state_dict().values()):
                        if avg.is_floating_point():
                            avg.lerp_(now, 1.0 - float(tc.ema))
            if step % int(tc.log_every) == 0 or step == int(tc.steps):
                loop.log(step, {"train/loss": loss.item(), **{f"train/{k}": v for k, v in parts.items()}})
            if step % int(tc.eval_every) == 0 or step == int(tc.steps):
                metrics, preds = validate(shown.net, val_bank, names, loss_args, device)
                loop.log(step, {f"val/{k}": v for k, v in metrics.items()})
                plot_mouth(run_dir / "val_mouth.png", val_clips[0], preds[0], names, step)
                score = -metrics["r_gap"] if tc.select == "r_gap" and "r_gap" in metrics else metrics["loss"]
                if score < best:
                    best = score
                    export("audio2au_best.pt", step)
    out = export("audio2au.pt", loop.step)
    print(
        f"audio2au: {loop.step} steps; exported fp16 weights to {out} ({out.stat().st_size / 1e6:.2f} MB)"
        f"{loop.done_words()}"
    )
    return out
