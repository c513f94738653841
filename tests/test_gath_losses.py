import pytest
import torch

from gath import losses
from gath.losses import LossWeights


def test_each_loss_on_hand_computed_values():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = torch.tensor([[0.0, 2.0], [5.0, 4.0]])
    assert losses.au_loss(a, b).item() == pytest.approx((1 + 0 + 4 + 0) / 4)
    assert losses.rec_loss(a, b).item() == pytest.approx((1 + 0 + 2 + 0) / 4)
    assert losses.aue_loss(a, b).item() == pytest.approx(5 / 4)
    real, fake = torch.tensor([1.0, 0.5]), torch.tensor([0.0, 0.5])
    assert losses.lsgan_d_loss(real, fake).item() == pytest.approx((0 + 0.25) / 2 + (0 + 0.25) / 2)
    assert losses.lsgan_g_loss(fake).item() == pytest.approx((1 + 0.25) / 2)
    logits = torch.tensor([[0.0, 0.0], [10.0, -10.0]])
    expected = (torch.log(torch.tensor(2.0)) + torch.log1p(torch.exp(torch.tensor(-20.0)))) / 2
    assert losses.cls_loss(logits, torch.tensor([1, 0])).item() == pytest.approx(expected.item(), rel=1e-5)
    img = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])  # horizontal diffs 1, 2; vertical 2, 3
    assert losses.tv_loss(img).item() == pytest.approx((1 + 4) / 2 + (4 + 9) / 2)
    assert losses.tv_loss(torch.ones(1, 3, 5, 5)).item() == 0


def test_objectives_follow_eqs_9_and_10_and_the_ablations():
    torch.manual_seed(0)
    f1, f2, x1, x2 = (torch.rand(2, 3, 4, 4) for _ in range(4))
    score = torch.rand(2, 1, 2, 2)
    logits, labels = torch.randn(2, 3), torch.tensor([0, 2])
    w = LossWeights()
    g = losses.g_objective(f1, f2, x1, x2, losses.Critique(score, logits, labels), w)
    expected = (
        losses.au_loss(f1, f2)
        + losses.rec_loss(x1, x2)
        + losses.tv_loss(x2)
        + 0.05 * losses.lsgan_g_loss(score)
        + 0.05 * losses.cls_loss(logits, labels)
    )
    assert g["total"].item() == pytest.approx(expected.item())
    dc = LossWeights(use_discriminator=False, use_classifier=False)
    g_dc = losses.g_objective(f1, f2, x1, x2, losses.Critique(score, logits, labels), dc)
    assert set(g_dc) == {"au", "rec", "tv", "total"}
    assert g_dc["total"].item() == pytest.approx(
        (losses.au_loss(f1, f2) + losses.rec_loss(x1, x2) + losses.tv_loss(x2)).item()
    )
    d = losses.d_objective(score, 1 - score, logits, labels, w)
    assert d["total"].item() == pytest.approx(
        0.05 * (losses.lsgan_d_loss(score, 1 - score) + losses.cls_loss(logits, labels)).item()
    )
    d_c = losses.d_objective(score, 1 - score, None, labels, LossWeights(use_classifier=False))
    assert "c_cls" not in d_c


def test_au_output_term_adds_only_when_weighted():
    torch.manual_seed(0)
    f1, f2, x1, x2 = (torch.rand(2, 3, 4, 4) for _ in range(4))
    pred, requested = torch.tensor([[0.2, 0.9]]), torch.tensor([[0.0, 1.0]])
    assert losses.au_output_loss(pred, requested).item() == pytest.approx((0.04 + 0.01) / 2)
    no_critique = losses.Critique(None, None, torch.tensor([0]))
    off = losses.g_objective(f1, f2, x1, x2, no_critique, LossWeights(), pred, requested)
    assert "au_out" not in off  # the paper's objective by default
    on = losses.g_objective(f1, f2, x1, x2, no_critique, LossWeights(au_out=10.0), pred, requested)
    assert on["total"].item() == pytest.approx(off["total"].item() + 10 * (0.04 + 0.01) / 2)


def test_feature_matching_and_laplacian_energy():
    real = [torch.zeros(1, 2, 2, 2), torch.ones(1, 1, 1, 1)]
    fake = [torch.full((1, 2, 2, 2), 0.5), torch.full((1, 1, 1, 1), 3.0)]
    assert losses.feature_matching(real, fake).item() == pytest.approx((0.5 + 2.0) / 2)
    inner = torch.zeros(1, 1, 6, 6)
    inner[..., 1:-1, 1:-1] = 1  # away from the zero padding
    flat = torch.full((1, 3, 6, 6), 0.3)
    assert losses.laplacian_energy(flat, inner).item() == pytest.approx(0, abs=1e-6)
    assert losses.laplacian_energy(flat + 1, torch.zeros(1, 1, 6, 6)).item() == 0  # an empty mask
    dot = flat.clone()
    dot[..., 3, 3] = 1.3  # one bright pixel: |-4| at it, 1 at its 4 neighbours, 16 pixels inside
    assert losses.laplacian_energy(dot, inner).item() == pytest.approx((4 + 4) / 16)


def test_colour_l1_compares_blurred_images():
    """Shifted stripes (teeth in another place) have the same local colour: pixel L1 is
    large, the blurred L1 small; a colour change shows in both."""
    stripes = torch.zeros(1, 3, 14, 14)
    stripes[..., ::2] = 1.0
    shifted = stripes.roll(1, dims=-1)
    weight = torch.ones(1, 1, 14, 14)
    assert losses.weighted_l1(stripes, shifted, weight).item() == pytest.approx(1.0)
    assert losses.colour_l1(stripes, shifted, weight).item() < 0.15  # a 7-px box holds 4 or 3 of 7 stripes
    assert losses.colour_l1(stripes, stripes + 0.5, weight).item() == pytest.approx(0.5)


def test_refiner_objective_adds_feature_matching_only_when_weighted():
    torch.manual_seed(0)
    out, target = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    attention, weight = torch.rand(2, 1, 8, 8), torch.ones(2, 1, 8, 8)
    feats = [torch.rand(2, 4, 4, 4)], [torch.rand(2, 4, 4, 4)]
    args = (out, target, attention, weight, losses.Critique(None, None, torch.tensor([0, 1])))
    off = losses.refiner_objective(*args, losses.RefinerWeights(), feats)
    on = losses.refiner_objective(*args, losses.RefinerWeights(fm=2.0), feats)
    assert "fm" not in off
    assert on["total"].item() == pytest.approx(off["total"].item() + 2 * losses.feature_matching(*feats).item())
    coloured = losses.refiner_objective(*args, losses.RefinerWeights(colour=3.0), feats)
    assert coloured["total"].item() == pytest.approx(
        off["total"].item() + 3 * losses.colour_l1(out, target, weight).item()
    )
