import pytest
import torch

from gath.models import AUEstimator, DiscriminatorClassifier, Generator


@pytest.mark.parametrize("size,upsampling", [(100, "transposed"), (128, "transposed"), (100, "resize")])
def test_shapes(size, upsampling):
    g = Generator(n_aus=27, channels=8, n_res_blocks=2, upsampling=upsampling)
    x = torch.rand(2, 3, size, size) * 2 - 1
    e = torch.rand(2, 27)
    code = g.encode(x)
    assert code.shape == (2, 32, size // 4, size // 4)
    y = g(x, e)
    assert y.shape == x.shape
    assert y.min() >= -1 and y.max() <= 1
    dc = DiscriminatorClassifier(n_classes=5, channels=8, n_layers=5)
    score, logits = dc(y)
    assert score.shape[:2] == (2, 1) and logits.shape == (2, 5)
    assert DiscriminatorClassifier(n_classes=0, channels=8)(y)[1] is None
    score_f, logits_f, acts = dc(y, features=True)  # feature matching's activations
    assert torch.equal(score_f, score) and torch.equal(logits_f, logits)
    assert [a.shape[1] for a in acts] == [8, 16, 32, 64, 128] and acts[-1].shape[-1] == size // 32
    aue = AUEstimator(n_aus=27, channels=8, hidden=16)
    pred = aue(y)
    assert pred.shape == (2, 27) and pred.min() >= 0 and pred.max() <= 1
    assert aue.f_au(y).shape == (2, 32, size // 4, size // 4)


def test_decode_broadcasts_one_code_over_many_frames():
    g = Generator(n_aus=4, channels=8, n_res_blocks=1).eval()
    x = torch.rand(1, 3, 100, 100) * 2 - 1
    e = torch.rand(5, 4)
    batched = g.decode(g.encode(x), e)
    one = g(x, e[2:3])
    assert batched.shape == (5, 3, 100, 100)
    torch.testing.assert_close(batched[2:3], one)


def test_au_vector_changes_output_and_bad_sizes_raise():
    g = Generator(n_aus=4, channels=8, n_res_blocks=1).eval()
    x = torch.rand(1, 3, 100, 100) * 2 - 1
    assert not torch.allclose(g(x, torch.zeros(1, 4)), g(x, torch.ones(1, 4)))
    with pytest.raises(ValueError, match="4 AU"):
        g(x, torch.zeros(1, 3))
    with pytest.raises(ValueError, match="divisible by 4"):
        g.encode(torch.zeros(1, 3, 102, 102))


def test_upsampling_choice_is_checked_and_changes_the_decoder():
    with pytest.raises(ValueError, match="upsampling"):
        Generator(n_aus=4, upsampling="bilinear")
    kinds = {type(m) for m in Generator(n_aus=4, channels=8, n_res_blocks=1, upsampling="resize").upsample}
    assert torch.nn.Upsample in kinds and torch.nn.ConvTranspose2d not in kinds


def test_inference_form_folds_batchnorm_and_computes_the_same():
    from gath.inference import for_inference
    from gath.models import WarpRefiner

    torch.manual_seed(0)
    net = WarpRefiner(n_aus=5, channels=8, n_res_blocks=2, detail_sigma=1.5)
    for m in net.modules():  # non-trivial statistics, or folding an identity BN proves nothing
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0), m.weight.data.uniform_(0.5, 1.5)
    x, o, a = torch.rand(3, 3, 32, 32) * 2 - 1, (torch.rand(3, 1, 32, 32) > 0.7).float(), torch.rand(3, 5)
    with torch.no_grad():
        want = net.eval()(x, o, a)
        fast = for_inference(net)
        got = fast(x.contiguous(memory_format=torch.channels_last), o, a)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    for w, g in zip(want, got):
        torch.testing.assert_close(g, w, atol=1e-4, rtol=1e-4)
