"""The GATH generator G(x_src, e) = dec(enc(x_src), e) (paper section 4.1, Fig. 3a)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def conv_block(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    """conv -> BatchNorm -> LeakyReLU(0.1), the paper's unit block."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, padding=(kernel - 1) // 2 if stride == 1 else 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(0.1, inplace=True),
    )


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _up_block(c_in: int, c_out: int, upsampling: str) -> list[nn.Module]:
    """x2 upsampling -> BatchNorm -> LeakyReLU. "transposed" is the paper's 4x4 stride-2
    transposed conv; "resize" (nearest x2, then a 3x3 conv) cannot draw the checkerboard
    that uneven kernel overlap gives transposed convs early in training."""
    if upsampling == "transposed":
        layers = [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
    else:
        layers = [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]
    return [*layers, nn.BatchNorm2d(c_out), nn.LeakyReLU(0.1, inplace=True)]


class Generator(nn.Module):
    """Encoder: four conv blocks (7x7, two stride-2 4x4 downsamplings, 3x3), so a 100x100
    crop becomes a 25x25 identity code. The AU vector is broadcast over that grid and
    concatenated; the decoder runs one conv block, `n_res_blocks` residual blocks, adds the
    encoder output back (the paper's bottleneck skip), then two x2 upsamplings
    (transposed convs as in the paper, or resize-convs) and a 7x7 tanh output conv.

    `encode` and `decode` are public so a render computes the photo's code once and only
    decodes per frame. `in_channels` / `out_channels` let GATH-W (WarpRefiner) feed a mask
    beside the image and read an attention channel beside the colour.
    """

    def __init__(
        self,
        n_aus: int,
        channels: int = 64,
        n_res_blocks: int = 6,
        upsampling: str = "transposed",
        in_channels: int = 3,
        out_channels: int = 3,
    ) -> None:
        super().__init__()
        if upsampling not in ("transposed", "resize"):
            raise ValueError(f"upsampling must be 'transposed' or 'resize', got {upsampling!r}")
        c = channels
        self.n_aus = n_aus
        self.encoder = nn.Sequential(
            conv_block(in_channels, c, 7, 1),
            conv_block(c, 2 * c, 4, 2),
            conv_block(2 * c, 4 * c, 4, 2),
            conv_block(4 * c, 4 * c, 3, 1),
        )
        self.fuse = conv_block(4 * c + n_aus, 4 * c, 3, 1)
        self.bottleneck = nn.Sequential(*(ResidualBlock(4 * c) for _ in range(n_res_blocks)))
        self.upsample = nn.Sequential(*_up_block(4 * c, 2 * c, upsampling), *_up_block(2 * c, c, upsampling))
        self.to_rgb = nn.Sequential(nn.Conv2d(c, out_channels, 7, 1, 3), nn.Tanh())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Identity code of source crops in [-1, 1], (B, in_channels, H, W), H and W divisible by 4."""
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"crop size must be divisible by 4, got {tuple(x.shape[-2:])}")
        return self.encoder(x)

    def decode(self, code: torch.Tensor, aus: torch.Tensor) -> torch.Tensor:
        """Synthesis for AU vectors (B, n_aus) in [0, 1]; `code` may have batch 1 (one photo,
        many frames), it is then expanded without a copy."""
        if aus.shape[-1] != self.n_aus:
            raise ValueError(f"expected {self.n_aus} AU coefficients, got {aus.shape[-1]}")
        if code.shape[0] == 1 and aus.shape[0] > 1:
            code = code.expand(aus.shape[0], -1, -1, -1)
        grid = aus.to(code.dtype)[:, :, None, None].expand(-1, -1, *code.shape[-2:])
        h = self.bottleneck(self.fuse(torch.cat([code, grid], dim=1))) + code
        return self.to_rgb(self.upsample(h))

    def forward(self, x: torch.Tensor, aus: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x), aus)


class WarpRefiner(nn.Module):
    """GATH-W: the GATH generator correcting a warped mouth crop instead of
    redrawing a face. Input: the warped crop in [-1, 1] (B, 3, S, S), where the warp parted
    the lips (B, 1, S, S) in [0, 1], and the target AUs. Output, GANimation style: a colour
    image C and an attention mask A (1 = keep the warp), composed as A * warped + (1 - A) * C,
    so the network paints only what the warp cannot show (teeth, tongue, the dark of the
    mouth) and the rest keeps the photo's own pixels. It may paint only inside the parted
    lips, grown by `grow` pixels (1 - A is zero elsewhere): an adversarially trained refiner
    otherwise leaks faint texture onto skin. A starts near 1: an untrained refiner returns
    the warp.

    With `detail_sigma` > 0 the network paints only colour and shading: C is blurred by a
    Gaussian of that sigma (px) and the warp's own detail above that scale is added back,
    in brightness only (grey warped - its blur: the edges of the drawn teeth and lips, or
    the photo's own teeth). L1 meets a mouth it cannot predict (where are the teeth, the
    tongue) with a blurred average; this way the average is only of what it can predict,
    and the detail stays the warp's. Brightness only: the drawn teeth's own tint plus C's
    warm shift turned them lilac. A Gaussian, not a box: a box's negative side lobes would
    let C cancel part of the detail."""

    def __init__(
        self,
        n_aus: int,
        channels: int = 16,
        n_res_blocks: int = 3,
        upsampling: str = "resize",
        grow: int = 2,
        detail_sigma: float = 0.0,
    ) -> None:
        super().__init__()
        if detail_sigma < 0:
            raise ValueError(f"detail_sigma must be >= 0, got {detail_sigma}")
        self.n_aus, self.grow, self.detail_sigma = n_aus, grow, detail_sigma
        radius = int(math.ceil(3 * detail_sigma))
        taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1) / max(detail_sigma, 1e-6)) ** 2)
        self.register_buffer("taps", taps / taps.sum(), persistent=False)
        self.generator = Generator(n_aus, channels, n_res_blocks, upsampling, in_channels=4, out_channels=4)
        with torch.no_grad():
            self.generator.to_rgb[0].bias[3] = 2.0  # tanh(2) -> A = 0.98

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        """Separable Gaussian per channel, edges replicated (one pad, two convs: at render
        time, on one crop, the ops' overhead is the cost)."""
        r, c = len(self.taps) // 2, x.shape[1]
        taps = self.taps.to(x.dtype)
        x = F.conv2d(F.pad(x, (r, r, r, r), mode="replicate"), taps.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        return F.conv2d(x, taps.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)

    def forward(
        self, warped: torch.Tensor, opening: torch.Tensor, aus: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(composite, colour, attention)."""
        opening = opening.to(warped.dtype)
        out = self.generator(torch.cat([warped, opening], dim=1), aus)
        region = F.max_pool2d(opening, 2 * self.grow + 1, stride=1, padding=self.grow)
        colour, attention = out[:, :3], 1 - (1 - out[:, 3:]) / 2 * region
        if self.detail_sigma > 0:
            grey = warped.mean(1, keepdim=True)
            smooth = self._blur(torch.cat([colour, grey], dim=1))
            colour = smooth[:, :3] + grey - smooth[:, 3:]
        return attention * warped + (1 - attention) * colour, colour, attention
