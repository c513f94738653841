"""GATH training (paper section 3.3): alternating D/C and G steps on unpaired source stills
(with identity labels) and target frames (with AU labels), the AU estimator frozen."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from actionunits.training import TrainLoop
from gath.checkpoint import export_weights, load_model, resume
from gath.data import Augment, Batcher, load_source_set, load_target_set, mix_target_into_source, to_unit_range
from gath.losses import Critique, LossWeights, RefinerWeights, d_objective, g_objective
from gath.models import AUEstimator, DiscriminatorClassifier, Generator
from gath.runtime import Runtime, descend, image_grid, setup_runtime, shutdown, unwrap

KIND = "gath_training"


@dataclass
class Nets:
    generator: nn.Module
    dc: nn.Module | None  # None for GATH-DC
    aue: AUEstimator  # frozen, eval mode


@contextlib.contextmanager
def frozen(module: nn.Module):
    """Let gradients flow through `module` to its input without computing (or, under DDP,
    all-reducing) gradients for its own weights: the G step must not train D/C."""
    params = [p for p in module.parameters() if p.requires_grad]
    sync = getattr(module, "_orig_mod", module)  # the DDP wrapper inside torch.compile
    for p in params:
        p.requires_grad_(False)
    try:
        with sync.no_sync() if hasattr(sync, "no_sync") else contextlib.nullcontext():
            yield
    finally:
        for p in params:
            p.requires_grad_(True)


def d_step(
    nets: Nets,
    opt: torch.optim.Optimizer,
    x_real: torch.Tensor,
    labels: torch.Tensor,
    x_fake: torch.Tensor,
    w: LossWeights,
    rt: Runtime,
) -> dict[str, torch.Tensor]:
    """Eq. 9: update D/C on real sources (real label, identity) and detached syntheses.
    One forward over real and fake together, so DDP sees a single call."""
    opt.zero_grad(set_to_none=True)
    with rt.autocast():
        scores, logits = nets.dc(torch.cat([x_real, x_fake.detach()]))
    n = x_real.shape[0]
    terms = d_objective(
        scores[:n].float(), scores[n:].float(), logits[:n].float() if logits is not None else None, labels, w
    )
    return descend(opt, terms, "d")


def g_step(
    nets: Nets,
    opt: torch.optim.Optimizer,
    x_src: torch.Tensor,
    labels: torch.Tensor,
    y_tgt: torch.Tensor,
    x_fake: torch.Tensor,
    w: LossWeights,
    rt: Runtime,
    e_tgt: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Eq. 10: update G from the AU feature, reconstruction, TV, adversarial and identity
    terms (+ the AU output term when `w.au_out` > 0). `x_fake` = G(x_src, e_tgt) with its
    graph; E and D/C stay untouched."""
    opt.zero_grad(set_to_none=True)
    with rt.autocast():
        with torch.no_grad():
            f_target = nets.aue.f_au(y_tgt)
        f_synth = nets.aue.f_au(x_fake)
        au_pred = nets.aue.head(f_synth) if w.au_out > 0 else None
        score_fake = logits_fake = None
        if nets.dc is not None:
            with frozen(nets.dc):
                score_fake, logits_fake = nets.dc(x_fake)
    terms = g_objective(
        f_target.float(),
        f_synth.float(),
        x_src.float(),
        x_fake.float(),
        Critique.of(score_fake, logits_fake, labels),
        w,
        au_pred.float() if au_pred is not None else None,
        e_tgt,
    )
    return descend(opt, terms, "g")


def train_step(
    nets: Nets,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer | None,
    x_src: torch.Tensor,
    labels: torch.Tensor,
    y_tgt: torch.Tensor,
    e_tgt: torch.Tensor,
    w: LossWeights,
    rt: Runtime,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One GATH iteration: synthesize once, D/C step on the detached synthesis, G step."""
    with rt.autocast():
        x_fake = nets.generator(x_src, e_tgt)
    logs = d_step(nets, opt_d, x_src, labels, x_fake, w, rt) if nets.dc is not None else {}
    logs |= g_step(nets, opt_g, x_src, labels, y_tgt, x_fake, w, rt, e_tgt)
    return x_fake, logs


def with_adversary(
    name: str,
    generator: nn.Module,
    w: LossWeights | RefinerWeights,
    n_classes: int,
    cfg: DictConfig,
    device: torch.device,
) -> tuple[dict[str, nn.Module], dict[str, torch.optim.Optimizer]]:
    """The modules to train, the generator under `name` and the variant's D/C under "dc"
    (identity head only with the classifier; none without a discriminator), and their Adam
    optimizers ("g", "d") with the configured betas; D/C learns at `train.d_lr` where set
    (a faster discriminator, the two time-scale rule), else at `train.lr`."""
    modules = {name: generator.to(device)}
    if w.use_discriminator:
        modules["dc"] = DiscriminatorClassifier(
            n_classes=n_classes if w.use_classifier else 0, **cfg.model.discriminator
        ).to(device)
    make = lambda m, lr: torch.optim.Adam(m.parameters(), lr=lr, betas=tuple(cfg.train.betas))  # noqa: E731
    d_lr = cfg.train.get("d_lr") or cfg.train.lr
    return modules, {"g": make(generator, cfg.train.lr)} | ({"d": make(modules["dc"], d_lr)} if "dc" in modules else {})


def load_frozen_aue(path: str | Path, au_names: tuple[str, ...], crop_size: int) -> AUEstimator:
    aue, meta = load_model(path, "au_estimator", AUEstimator)
    if tuple(meta["au_names"]) != tuple(au_names):
        raise ValueError(f"AU estimator {path} was trained on other AU names than this dataset's")
    if int(meta["crop_size"]) != crop_size:
        raise ValueError(f"AU estimator {path} expects {meta['crop_size']}px crops, the dataset has {crop_size}px")
    return aue.requires_grad_(False)


def train_gath(cfg: DictConfig) -> Path:
    """Train G (and D/C unless GATH-DC); returns the exported generator weights' path."""
    rt = setup_runtime(cfg.device, cfg.train.precision, cfg.train.channels_last, cfg.train.compile)
    torch.manual_seed(cfg.seed)
    run_dir = Path(cfg.run_dir)
    w = LossWeights(**cfg.loss)
    held_out = list(cfg.data.exclude_speakers)
    source = load_source_set(cfg.data.root, held_out)
    target = load_target_set(cfg.data.root, held_out)
    source = mix_target_into_source(source, target, cfg.train.target_mix_fraction, cfg.seed)
    crop = target.images.shape[-1]
    aue = load_frozen_aue(cfg.aue_checkpoint, target.au_names, crop).to(rt.device).eval()
    if rt.channels_last:
        aue = aue.to(memory_format=torch.channels_last)
    g_config = {"n_aus": len(target.au_names), **cfg.model.generator}
    generator = Generator(**g_config)
    modules, optimizers = with_adversary("generator", generator, w, len(source.classes), cfg, rt.device)
    dc, opt_g, opt_d = modules.get("dc"), optimizers["g"], optimizers.get("d")
    per_rank = max(1, cfg.train.batch_size // rt.world_size)
    sources = Batcher((source.images, source.labels), rt.device, cfg.seed, rt.rank, rt.world_size)
    targets = Batcher((target.images, target.aus), rt.device, cfg.seed + 1, rt.rank, rt.world_size)
    generators = {"source": sources.gen, "target": targets.gen}
    aug = cfg.train.augment
    aug_src = Augment(aug.flip, aug.jitter, aug.affine)
    aug_tgt = Augment(aug.flip, aug.jitter, aug.affine, target.au_names)

    ckpt_path = run_dir / "checkpoint.pt"
    step = 0
    if cfg.resume and ckpt_path.is_file():
        step = resume(ckpt_path, KIND, modules, optimizers, generators)
    elif cfg.init_generator:  # fine-tune: these generator weights, fresh D/C and optimizers
        init, init_meta = load_model(cfg.init_generator, "generator", Generator)
        if tuple(init_meta["au_names"]) != tuple(target.au_names):
            raise ValueError(f"init_generator {cfg.init_generator} was trained on other AU names")
        generator.load_state_dict(init.state_dict())
    nets = Nets(rt.prepare(generator), rt.prepare(dc) if dc is not None else None, aue)

    meta = {
        "au_names": list(target.au_names),
        "crop_size": crop,
        "classes": source.classes,
        "variant": cfg.variant,
        "exclude_speakers": held_out,
    }

    save = rt.saver(ckpt_path, KIND, modules, optimizers, generators, OmegaConf.to_container(cfg), meta)

    with TrainLoop(run_dir, cfg.train.steps, step, cfg.variant, cfg.train.checkpoint_every, save, rt.is_main) as loop:
        for step in loop:
            x_src, labels = sources.sample(per_rank)
            y_tgt, e_tgt = targets.sample(per_rank)
            x_src, _ = aug_src(to_unit_range(x_src), sources.gen)
            y_tgt, e_tgt = aug_tgt(to_unit_range(y_tgt), targets.gen, e_tgt)
            x_src, y_tgt = rt.to_input(x_src), rt.to_input(y_tgt)
            x_fake, logs = train_step(nets, opt_g, opt_d, x_src, labels, y_tgt, e_tgt, w, rt)
            if step % cfg.train.log_every == 0 or step == cfg.train.steps:
                values = {k: v.item() for k, v in logs.items()}
                loop.log(step, values, {k: v for k, v in values.items() if k != "d/total"})
            if rt.is_main and step % cfg.train.image_every == 0:
                loop.log_to.image("source|target|synthesis", image_grid(x_src, y_tgt, x_fake.detach()), step)
    out = run_dir / "generator.pt"
    if rt.is_main:
        export_weights(out, "generator", unwrap(nets.generator), g_config, meta | {"steps": loop.step})
        print(f"{cfg.variant}: {loop.step} steps; checkpoint {ckpt_path}, generator weights {out}{loop.done_words()}")
    shutdown(rt)
    return out
