"""GATH losses (paper eqs. 2, 4-10) as pure functions of tensors.

Normalisation: every term is a mean over its elements (the paper writes sums/norms); with
means, the paper's weights lambda_rec = lambda_tv = 1 and lambda_adv = lambda_cls = 0.05
keep the terms on comparable scales independent of crop size and batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    """lambda values of eqs. 9 and 10; `use_discriminator`/`use_classifier` switch the
    paper's ablations (GATH-DC: neither; GATH-C: no classifier)."""

    rec: float = 1.0
    tv: float = 1.0
    au_out: float = 0.0  # not in the paper: see au_output_loss
    adv: float = 0.05
    cls: float = 0.05
    use_discriminator: bool = True
    use_classifier: bool = True


def aue_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 2: squared error of AU predictions, averaged over batch and AUs."""
    return F.mse_loss(predicted, target)


def au_loss(f_target: torch.Tensor, f_synth: torch.Tensor) -> torch.Tensor:
    """Eq. 4: squared distance between the AU estimator's conv3_2 features of the target
    frame and of the synthesis."""
    return (f_target - f_synth).pow(2).mean()


def au_output_loss(predicted: torch.Tensor, requested: torch.Tensor) -> torch.Tensor:
    """Not in the paper: the frozen AU estimator's prediction on the synthesis against the
    requested AUs (the conditional loss of StarGAN/GANimation). Eq. 4 compares features of
    a target frame of ANOTHER person, which also carry that person's identity; with eq. 5
    pulling the synthesis towards the unchanged source, a generator trained on little data
    learned to ignore its AU input. This term asks for the requested AUs directly."""
    return F.mse_loss(predicted, requested)


def rec_loss(x_src: torch.Tensor, x_synth: torch.Tensor) -> torch.Tensor:
    """Eq. 5: L1 between the source and its synthesis (identity and background)."""
    return (x_src - x_synth).abs().mean()


def lsgan_d_loss(score_real: torch.Tensor, score_fake: torch.Tensor) -> torch.Tensor:
    """Eq. 6, D side: (1 - D(x_re))^2 + D(G(x_src, e))^2."""
    return (1 - score_real).pow(2).mean() + score_fake.pow(2).mean()


def lsgan_g_loss(score_fake: torch.Tensor) -> torch.Tensor:
    """Eq. 6, G side, in the bounded least-squares form (1 - D(G(x, e)))^2.

    Eq. 10 literally writes -D(G)^2, which is unbounded below and has zero gradient at
    D(G) = 0; the least-squares GAN the paper cites trains G towards the real label."""
    return (1 - score_fake).pow(2).mean()


def cls_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 7: identity cross-entropy (on real images for C, on syntheses for G)."""
    return F.cross_entropy(logits.float(), labels)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Eq. 8: squared differences of horizontally and vertically adjacent pixels."""
    dx = x[..., :, 1:] - x[..., :, :-1]
    dy = x[..., 1:, :] - x[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


class Critique(NamedTuple):
    """D/C's verdict on a batch of syntheses: LSGAN scores and identity logits (None where
    the variant has no D or no C), and the identities the syntheses should show."""

    score: torch.Tensor | None
    logits: torch.Tensor | None
    labels: torch.Tensor

    @classmethod
    def of(cls, score: torch.Tensor | None, logits: torch.Tensor | None, labels: torch.Tensor) -> Critique:
        """The verdict in fp32 (D/C may have run under bf16 autocast)."""
        return cls(None if score is None else score.float(), None if logits is None else logits.float(), labels)


def adversarial_terms(
    terms: dict[str, torch.Tensor], critique: Critique, w: LossWeights | RefinerWeights
) -> torch.Tensor | float:
    """The generator's share of eq. 10 from D/C (adversarial, identity) where the variant
    has them; adds each term to `terms` and returns their weighted sum."""
    total: torch.Tensor | float = 0.0
    if w.use_discriminator and critique.score is not None:
        terms["g_adv"] = lsgan_g_loss(critique.score)
        total = total + w.adv * terms["g_adv"]
    if w.use_classifier and critique.logits is not None:
        terms["g_cls"] = cls_loss(critique.logits, critique.labels)
        total = total + w.cls * terms["g_cls"]
    return total


def d_objective(
    score_real: torch.Tensor,
    score_fake: torch.Tensor,
    logits_real: torch.Tensor | None,
    labels: torch.Tensor,
    w: LossWeights | RefinerWeights,
) -> dict[str, torch.Tensor]:
    """Eq. 9, the D/C loss. Returns the total under "total" and each term."""
    terms = {"d_adv": lsgan_d_loss(score_real, score_fake)}
    total = w.adv * terms["d_adv"]
    if w.use_classifier and logits_real is not None:
        terms["c_cls"] = cls_loss(logits_real, labels)
        total = total + w.cls * terms["c_cls"]
    terms["total"] = total
    return terms


def g_objective(
    f_target: torch.Tensor,
    f_synth: torch.Tensor,
    x_src: torch.Tensor,
    x_synth: torch.Tensor,
    critique: Critique,
    w: LossWeights,
    au_pred: torch.Tensor | None = None,
    au_requested: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Eq. 10, the generator loss. Adversarial and identity terms only where the variant
    has a discriminator / classifier; the AU output term where its weight is set."""
    terms = {"au": au_loss(f_target, f_synth), "rec": rec_loss(x_src, x_synth), "tv": tv_loss(x_synth)}
    total = terms["au"] + w.rec * terms["rec"] + w.tv * terms["tv"]
    if w.au_out > 0 and au_pred is not None:
        terms["au_out"] = au_output_loss(au_pred, au_requested)
        total = total + w.au_out * terms["au_out"]
    terms["total"] = total + adversarial_terms(terms, critique, w)
    return terms


@dataclass(frozen=True)
class RefinerWeights:
    """GATH-W: self-reenactment against the real target frame, so the main terms
    are reconstruction (L1, heavier inside the mouth, plus L1 on image gradients for the
    edges of teeth and lips, which plain L1 averages away), GANimation's attention terms
    (L1 on 1 - A keeps the warp unless painting helps; TV on A paints in regions, not
    speckles), and the paper's adversarial and identity terms on the result."""

    mouth: float = 4.0
    grad: float = 1.0
    fm: float = 0.0  # feature matching on D's trunk (see feature_matching)
    colour: float = 0.0  # L1 of blurred images (see colour_l1)
    attention: float = 0.05
    attention_tv: float = 0.1
    adv: float = 0.05
    cls: float = 0.0
    use_discriminator: bool = True
    use_classifier: bool = False
    d_mouth_only: bool = False  # D/C sees only the mouth region (gath.train_refiner.judged)


def mouth_region(opening: torch.Tensor, mouth: torch.Tensor, grow: int = 2) -> torch.Tensor:
    """(B, 1, H, W) in [0, 1]: where the warp parted the lips or the real mouth is open,
    grown by `grow` pixels to take in the lips' inner edge."""
    return F.max_pool2d(torch.maximum(opening, mouth), 2 * grow + 1, stride=1, padding=grow)


def mouth_weight(opening: torch.Tensor, mouth: torch.Tensor, extra: float, grow: int = 2) -> torch.Tensor:
    """Per-pixel loss weight (B, 1, H, W): 1, plus `extra` in the mouth region."""
    return 1.0 + extra * mouth_region(opening, mouth, grow)


def weighted_l1(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L1 weighted per pixel, normalised by the weight (a mouth weighs more, not all pixels)."""
    return ((x - y).abs() * weight).sum() / (weight.sum() * x.shape[1]).clamp_min(1e-6)


def laplacian_energy(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |Laplacian| of the grey image inside `mask` (B, 1, H, W): the detail a viewer
    reads as sharp (the eval's mouth sharpness measures the same on whole faces)."""
    kernel = x.new_tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])[None, None]
    lap = F.conv2d(x.mean(1, keepdim=True), kernel, padding=1).abs()
    return (lap * mask).sum() / mask.sum().clamp_min(1e-6)


def gradient_l1(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted L1 between horizontal and vertical image differences of x and y."""
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    return weighted_l1(dx(x), dx(y), weight[..., :, 1:]) + weighted_l1(dy(x), dy(y), weight[..., 1:, :])


def colour_l1(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, blur: int = 7) -> torch.Tensor:
    """Weighted L1 of images blurred by a `blur` x `blur` box: the colour and shading of a
    region, not where each tooth is. Pixel L1 can meet uncertain teeth only with their
    average; this term asks for the right mean colour and leaves the texture to the
    adversarial terms, which without it drift to orange and brown mouths."""
    pool = lambda t: F.avg_pool2d(t, blur, stride=1, padding=blur // 2, count_include_pad=False)  # noqa: E731
    return weighted_l1(pool(x), pool(y), weight)


def feature_matching(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """pix2pixHD's feature matching: L1 between the discriminator's activations on the real
    target and on the result, averaged over layers. A perceptual term from the project's
    own network (no pretrained backbone ships): it compares texture, where pixel L1 only
    rewards the average of teeth, tongue and cavity."""
    return sum((f - r.detach()).abs().mean() for r, f in zip(real, fake)) / len(real)


def refiner_objective(
    out: torch.Tensor,
    target: torch.Tensor,
    attention: torch.Tensor,
    weight: torch.Tensor,
    critique: Critique,
    w: RefinerWeights,
    features: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None,
) -> dict[str, torch.Tensor]:
    """The GATH-W generator loss; "total" and each term. `features`: D's activations on
    (real targets, results), for the feature-matching term where its weight is set."""
    terms = {
        "l1": weighted_l1(out, target, weight),
        "grad": gradient_l1(out, target, weight),
        "attention": (1 - attention).abs().mean(),
        "attention_tv": tv_loss(attention),
    }
    total = (
        terms["l1"] + w.grad * terms["grad"] + w.attention * terms["attention"] + w.attention_tv * terms["attention_tv"]
    )
    if w.colour > 0:
        terms["colour"] = colour_l1(out, target, weight)
        total = total + w.colour * terms["colour"]
    if w.fm > 0 and features is not None:
        terms["fm"] = feature_matching(*features)
        total = total + w.fm * terms["fm"]
    terms["total"] = total + adversarial_terms(terms, critique, w)
    return terms
