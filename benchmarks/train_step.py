"""GATH throughput: images/s of a full D/C + G training step, generator inference frames/s
(full forward and decode-only, batch 1 and 64), FLOPs per image and the fraction of the
GPU's bf16 peak achieved.

    python benchmarks/train_step.py --device cpu --steps 3
    python benchmarks/train_step.py --device cuda --steps 50 [--compile]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from gath.data import Augment, Batcher, to_unit_range
from gath.losses import LossWeights
from gath.models import AUEstimator, DiscriminatorClassifier, Generator
from gath.runtime import setup_runtime
from gath.train import Nets, train_step

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense tensor-core FLOP/s


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, n: int, device: torch.device) -> float:
    sync(device)
    t = time.perf_counter()
    for _ in range(n):
        fn()
    sync(device)
    return (time.perf_counter() - t) / n


def flops(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--classes", type=int, default=2228, help="source identities (paper: 2,228)")
    ap.add_argument("--lite", action="store_true", help="the lite generator (32 channels, 3 residual blocks)")
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()

    rt = setup_runtime(args.device, "auto", "auto", args.compile)
    dev, n_aus, s = rt.device, 27, args.size
    torch.manual_seed(0)
    g_cfg = {"channels": 32, "n_res_blocks": 3} if args.lite else {"channels": 64, "n_res_blocks": 6}
    generator = Generator(n_aus, **g_cfg).to(dev)
    dc = DiscriminatorClassifier(args.classes).to(dev)
    aue = AUEstimator(n_aus).to(dev).eval().requires_grad_(False)
    if rt.channels_last:
        aue = aue.to(memory_format=torch.channels_last)
    nets = Nets(rt.prepare(generator), rt.prepare(dc), aue)
    opt_g = torch.optim.Adam(generator.parameters(), 1e-4, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(dc.parameters(), 1e-4, betas=(0.9, 0.999))
    n_images = 4096
    src = Batcher(
        (torch.randint(0, 256, (n_images, 3, s, s), dtype=torch.uint8), torch.randint(0, args.classes, (n_images,))),
        dev,
        0,
    )
    tgt = Batcher((torch.randint(0, 256, (n_images, 3, s, s), dtype=torch.uint8), torch.rand(n_images, n_aus)), dev, 1)
    aug = Augment(True, 0.08, 0.04)
    w = LossWeights()

    def step() -> None:
        x, labels = src.sample(args.batch)
        y, e = tgt.sample(args.batch)
        x, _ = aug(to_unit_range(x), src.gen)
        y, e = aug(to_unit_range(y), tgt.gen, e)
        train_step(nets, opt_g, opt_d, rt.to_input(x), labels, rt.to_input(y), e, w, rt)

    for _ in range(3 if dev.type == "cuda" else 1):
        step()
    t_step = timed(step, args.steps, dev)
    train_flops = flops(step) / args.batch

    g = generator.eval()
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"device: {where}"
        f"; {'lite' if args.lite else 'default'} generator; {s}x{s}; bf16={rt.bf16} channels_last={rt.channels_last}"
        f" compile={args.compile}"
    )
    print(
        f"train step (D/C + G, batch {args.batch}): {args.batch / t_step:,.1f} images/s "
        f"({t_step * 1e3:.1f} ms/step), {train_flops / 1e9:.2f} GFLOP/image"
    )
    peak = next((v for k, v in PEAK_BF16.items() if dev.type == "cuda" and k in torch.cuda.get_device_name(dev)), None)
    if peak:
        print(
            f"  achieved {train_flops * args.batch / t_step / 1e12:.1f} TFLOP/s = "
            f"{100 * train_flops * args.batch / t_step / peak:.1f}% of bf16 peak"
        )
    with torch.inference_mode():
        for b in (1, 64):
            x = rt.to_input(torch.rand(b, 3, s, s, device=dev) * 2 - 1)
            e = torch.rand(b, n_aus, device=dev)
            code = g.encode(x[:1])
            with rt.autocast():
                full = timed(lambda: g(x, e), args.steps, dev)
                dec = timed(lambda: g.decode(code, e), args.steps, dev)
            f_full = flops(lambda: g(x, e)) / b
            f_dec = flops(lambda: g.decode(code, e)) / b
            print(
                f"generator batch {b:>2}: full {b / full:,.1f} frames/s ({f_full / 1e9:.2f} GFLOP/frame); "
                f"decode-only {b / dec:,.1f} frames/s ({f_dec / 1e9:.2f} GFLOP/frame)"
            )


if __name__ == "__main__":
    main()
