"""GATH-W training (`talkinghead train gath_w`): the GATH generator as a refiner of warped
mouth crops, trained by self-reenactment on pairs (frame s warped to frame t's expression,
real frame t) that the talkinghead side writes (talkinghead/refiner_pairs.py). Per step: one D/C
step on real targets and detached results, one G step (gath.losses.refiner_objective).
Every `eval_every` steps the held-out-speaker pairs are scored (mouth-weighted L1 of the
result and of the bare warp), the validation curve that says whether training has
flattened."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from actionunits import mirror_permutation
from actionunits.training import TrainLoop
from gath.checkpoint import export_weights, load_model, resume
from gath.data import Batcher, PairSet, RefinerPairs, load_pairs
from gath.losses import (
    Critique,
    RefinerWeights,
    d_objective,
    laplacian_energy,
    mouth_region,
    mouth_weight,
    refiner_objective,
    weighted_l1,
)
from gath.models import WarpRefiner
from gath.runtime import Runtime, descend, image_grid, setup_runtime, shutdown, unwrap
from gath.train import frozen, with_adversary

KIND = "gath_w_training"
WEIGHTS_KIND = "gath_w"


def augment(b: RefinerPairs, gen: torch.Generator, perm: torch.Tensor, jitter: float) -> RefinerPairs:
    """Mirror the pair (and its Left/Right AUs) half the time; the same brightness and
    contrast change on warp and target (a photo's exposure, which the refiner must follow)."""
    r = torch.rand(len(b.aus), 3, generator=gen).to(b.aus.device)
    flip = (r[:, 0] < 0.5)[:, None, None, None]
    mirror = lambda x: torch.where(flip, x.flip(-1), x)  # noqa: E731
    contrast = (1 + jitter * (2 * r[:, 1] - 1))[:, None, None, None]
    bright = (jitter * (2 * r[:, 2] - 1))[:, None, None, None]
    tone = lambda x: (x * contrast + bright).clamp(-1, 1)  # noqa: E731
    aus = torch.where(flip[:, :, 0, 0], b.aus[:, perm.to(b.aus.device)], b.aus)
    return RefinerPairs(
        tone(mirror(b.warped)), mirror(b.opening), tone(mirror(b.target)), mirror(b.mouth), aus, b.speaker
    )


def judged(b: RefinerPairs, w: RefinerWeights, *images: torch.Tensor) -> torch.Tensor:
    """What D/C sees of the pairs' images (real targets, results), one batch after the
    other: whole crops, or with `w.d_mouth_only` the mouth region only, the same for both.
    Outside it the result is the warp's real pixels, which say nothing about the refiner;
    there D's score and the feature matching would mostly compare skin."""
    if not w.d_mouth_only:
        return torch.cat(images)
    region = mouth_region(b.opening, b.mouth)
    return torch.cat([x * region for x in images])


def d_step(
    dc: nn.Module, opt: torch.optim.Optimizer, b: RefinerPairs, out: torch.Tensor, w: RefinerWeights, rt: Runtime
) -> dict[str, torch.Tensor]:
    """Real target mouths against detached results (and identity on the real ones)."""
    opt.zero_grad(set_to_none=True)
    with rt.autocast():
        scores, logits = dc(judged(b, w, b.target, out.detach()))
    n = len(b.target)
    terms = d_objective(
        scores[:n].float(), scores[n:].float(), logits[:n].float() if logits is not None else None, b.speaker, w
    )
    return descend(opt, terms, "d")


def g_step(
    dc: nn.Module | None,
    opt: torch.optim.Optimizer,
    b: RefinerPairs,
    out: torch.Tensor,
    attention: torch.Tensor,
    w: RefinerWeights,
    rt: Runtime,
) -> dict[str, torch.Tensor]:
    """The refiner's loss; D/C sees the real targets beside the results (one call, as DDP
    wants) only where feature matching compares their activations."""
    opt.zero_grad(set_to_none=True)
    score = logits = features = None
    if dc is not None:
        with frozen(dc), rt.autocast():
            if w.fm > 0:
                n = len(out)
                score, logits, acts = dc(judged(b, w, b.target, out), features=True)
                score, logits = score[n:], logits[n:] if logits is not None else None
                features = [a[:n].float() for a in acts], [a[n:].float() for a in acts]
            else:
                score, logits = dc(judged(b, w, out))
    weight = mouth_weight(b.opening, b.mouth, w.mouth)
    terms = refiner_objective(
        out.float(),
        b.target,
        attention.float(),
        weight,
        Critique.of(score, logits, b.speaker),
        w,
        features,
    )
    return descend(opt, terms, "g")


def train_step(
    refiner: nn.Module,
    dc: nn.Module | None,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer | None,
    b: RefinerPairs,
    w: RefinerWeights,
    rt: Runtime,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    with rt.autocast():
        out, _, attention = refiner(b.warped, b.opening, b.aus)
    logs = d_step(dc, opt_d, b, out, w, rt) if dc is not None else {}
    logs |= g_step(dc, opt_g, b, out, attention, w, rt)
    return out, attention, logs


@torch.no_grad()
def validate(
    refiner: nn.Module, pairs: PairSet, device: torch.device, mouth: float = RefinerWeights.mouth, batch_size: int = 256
) -> dict[str, float]:
    """Against the real targets of held-out speakers: the mouth-weighted L1 (images in
    [-1, 1]) of the refined result and of the bare warp, the mouth weighing 1 + `mouth`
    (by default the L1 stage's weight, whatever a run trains with, so runs compare); the
    mean painted share 1 - A inside the opening; and the result's sharpness inside the
    real mouth over the real one's (a blurry average mouth lowers the L1 and looks wrong)."""
    was_training = refiner.training
    refiner.eval()
    sums = torch.zeros(4)
    for i in range(0, len(pairs), batch_size):
        b = pairs.pairs.take(slice(i, i + batch_size)).to(device).as_float()
        out, _, attention = refiner(b.warped, b.opening, b.aus)
        weight = mouth_weight(b.opening, b.mouth, mouth)
        painted = ((1 - attention) * b.opening).sum() / b.opening.sum().clamp_min(1e-6)
        sharp = laplacian_energy(out, b.mouth) / laplacian_energy(b.target, b.mouth).clamp_min(1e-6)
        n = len(b.aus)
        sums += (
            torch.tensor(
                [
                    weighted_l1(out, b.target, weight).item(),
                    weighted_l1(b.warped, b.target, weight).item(),
                    painted.item(),
                    sharp.item(),
                ]
            )
            * n
        )
    refiner.train(was_training)
    mean = sums / len(pairs)
    return {
        "val/mouth_l1": float(mean[0]),
        "val/warp_mouth_l1": float(mean[1]),
        "val/painted": float(mean[2]),
        "val/mouth_sharpness": float(mean[3]),
    }


def train_gath_w(cfg: DictConfig) -> Path:
    """Train the refiner (and its D/C); returns the exported weights' path."""
    rt = setup_runtime(cfg.device, cfg.train.precision, cfg.train.channels_last, cfg.train.compile)
    torch.manual_seed(cfg.seed)
    run_dir = Path(cfg.run_dir)
    r = cfg.refiner
    w = RefinerWeights(**r.loss)
    pairs = load_pairs(r.pairs)
    val = load_pairs(r.val_pairs) if r.val_pairs and Path(r.val_pairs).is_file() else None
    config = {"n_aus": len(pairs.au_names), **cfg.model.generator}
    modules, optimizers = with_adversary("refiner", WarpRefiner(**config), w, len(pairs.speakers), cfg, rt.device)
    opt_g, opt_d = optimizers["g"], optimizers.get("d")
    batcher = Batcher(
        pairs.pairs.tensors(), rt.device, cfg.seed, rt.rank, rt.world_size, weights=pairs.speaker_weights()
    )
    aug_gen = torch.Generator().manual_seed(cfg.seed + 1)
    generators = {"pairs": batcher.gen, "augment": aug_gen}
    perm = torch.tensor(mirror_permutation(pairs.au_names))

    ckpt_path = run_dir / "checkpoint.pt"
    step = 0
    if cfg.resume and ckpt_path.is_file():
        step = resume(ckpt_path, KIND, modules, optimizers, generators)
    elif r.init:  # fine-tune: these refiner weights, a fresh D/C and fresh optimizers
        modules["refiner"].load_state_dict(load_model(r.init, WEIGHTS_KIND, WarpRefiner)[0].state_dict())
    nets = {k: rt.prepare(m) for k, m in modules.items()}
    meta = {
        "au_names": list(pairs.au_names),
        "crop_size": int(pairs.pairs.warped.shape[-1]),
        "tracker": pairs.tracker,
        "speakers": pairs.speakers,
        "variant": cfg.variant,
    }

    save = rt.saver(ckpt_path, KIND, nets, optimizers, generators, OmegaConf.to_container(cfg), meta)

    per_rank = max(1, cfg.train.batch_size // rt.world_size)
    with TrainLoop(run_dir, cfg.train.steps, step, cfg.variant, cfg.train.checkpoint_every, save, rt.is_main) as loop:
        for step in loop:
            b = augment(RefinerPairs(*batcher.sample(per_rank)).as_float(), aug_gen, perm, r.jitter)
            out, attention, logs = train_step(nets["refiner"], nets.get("dc"), opt_g, opt_d, b, w, rt)
            if step % cfg.train.log_every == 0 or step == cfg.train.steps:
                values = {k: v.item() for k, v in logs.items()}
                loop.log(step, values, {k: v for k, v in values.items() if k in ("g/l1", "g/attention", "d/d_adv")})
            if rt.is_main and val is not None and (step % cfg.train.eval_every == 0 or step == cfg.train.steps):
                loop.log_to.scalars(step, validate(unwrap(nets["refiner"]), val, rt.device))
            if rt.is_main and step % cfg.train.image_every == 0:
                loop.log_to.image(
                    "warped|result|attention|target",
                    image_grid(b.warped, out.detach(), (attention.detach() * 2 - 1).expand(-1, 3, -1, -1), b.target),
                    step,
                )
    out_path = run_dir / "refiner.pt"
    if rt.is_main:
        export_weights(out_path, WEIGHTS_KIND, unwrap(nets["refiner"]), config, meta | {"steps": loop.step})
        print(
            f"{cfg.variant}: {loop.step} steps; checkpoint {ckpt_path}, refiner weights {out_path}{loop.done_words()}"
        )
    shutdown(rt)
    return out_path
