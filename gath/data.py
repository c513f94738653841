"""Datasets over the prepared format (docs/dataset-format.md), decoded once into memory.

A 100x100 crop is 30 KB as uint8, so even tens of thousands of frames fit in RAM or GPU
memory: the trainer keeps the whole set on its device and samples batches by index, with
augmentation done on the batch. No DataLoader workers, no per-step decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from actionunits import AUSeries, mirror_permutation
from actionunits.prepared import clip_dir, frame_path, matches_any, read_clips, read_info, read_source


@dataclass
class SourceSet:
    """Source stills with identity labels: images (N, 3, H, W) uint8, labels (N,) long."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]


@dataclass
class TargetSet:
    """Target frames with AU labels: images (N, 3, H, W) uint8, aus (N, K) float32, and
    the speaker index of every frame (for speaker-disjoint splits)."""

    images: torch.Tensor
    aus: torch.Tensor
    speaker_ids: torch.Tensor
    speakers: list[str]
    au_names: tuple[str, ...]

    def subset(self, mask: torch.Tensor) -> TargetSet:
        return TargetSet(self.images[mask], self.aus[mask], self.speaker_ids[mask], self.speakers, self.au_names)

    def present_speakers(self) -> list[str]:
        return [self.speakers[i] for i in self.speaker_ids.unique().tolist()]


def decode_images(paths: list[Path], size: int) -> torch.Tensor:
    """Decode image files into one (N, 3, size, size) uint8 RGB tensor, in threads (OpenCV
    releases the GIL). A file that cannot be read is an error naming it."""

    def read(path: Path) -> np.ndarray:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read image {path}")
        if img.shape[:2] != (size, size):
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    with ThreadPoolExecutor() as pool:
        for i, img in enumerate(pool.map(read, paths)):
            out[i] = torch.from_numpy(img).permute(2, 0, 1)
    return out


def load_source_set(root: str | Path, exclude: Sequence[str] = ()) -> SourceSet:
    """Every source still, except identities matching an `exclude` glob (held-out people)."""
    root = Path(root)
    info = read_info(root)
    records = [(p, i) for p, i in read_source(root) if not matches_any(exclude, i)]
    if not records:
        raise ValueError(f"{root} has no source stills (source/manifest.csv)" + _filtered(exclude))
    classes = sorted({identity for _, identity in records})
    index = {c: i for i, c in enumerate(classes)}
    images = decode_images([root / "source" / p for p, _ in records], info.crop_size)
    labels = torch.tensor([index[i] for _, i in records], dtype=torch.long)
    return SourceSet(images, labels, classes)


def load_target_set(root: str | Path, exclude: Sequence[str] = (), only: Sequence[str] | None = None) -> TargetSet:
    """All valid target frames with their AU vectors, of the clips whose speaker or clip
    name matches no `exclude` glob (and matches an `only` glob when given: the evaluation
    decodes just its held-out speakers)."""
    root = Path(root)
    info = read_info(root)
    clips = [
        c
        for c in read_clips(root)
        if not matches_any(exclude, c.speaker, c.clip) and (only is None or matches_any(only, c.speaker, c.clip))
    ]
    speakers = sorted({c.speaker for c in clips})
    paths, aus, spk = [], [], []
    for clip in clips:
        series = AUSeries.read_csv(clip_dir(root, clip.clip) / "aus.csv", fps=clip.fps).reorder(info.au_names)
        valid = series.valid if series.valid is not None else np.ones(len(series), bool)
        for i in np.flatnonzero(valid):
            paths.append(frame_path(root, clip.clip, int(i)))
            aus.append(series.values[i])
            spk.append(speakers.index(clip.speaker))
    if not paths:
        raise ValueError(f"{root} has no valid target frames (target/clips.csv)" + _filtered(exclude, only))
    return TargetSet(
        decode_images(paths, info.crop_size),
        torch.from_numpy(np.stack(aus)),
        torch.tensor(spk, dtype=torch.long),
        speakers,
        info.au_names,
    )


def _filtered(exclude: Sequence[str], only: Sequence[str] | None = None) -> str:
    """The end of a 'no data' message when speaker filters may be the reason."""
    words = ([f"excluding {list(exclude)}"] if exclude else []) + ([f"keeping only {list(only)}"] if only else [])
    return f" ({', '.join(words)})" if words else ""


def mix_target_into_source(source: SourceSet, target: TargetSet, fraction: float, seed: int = 0) -> SourceSet:
    """Add target frames so they make up `fraction` of the source set (paper footnote 1:
    2.7 %), labelled with one new class per target speaker."""
    if fraction <= 0:
        return source
    n = min(len(target.images), round(fraction / (1 - fraction) * len(source.images)))
    pick = torch.randperm(len(target.images), generator=torch.Generator().manual_seed(seed))[:n]
    classes = source.classes + [f"target:{s}" for s in target.speakers]
    labels = target.speaker_ids[pick] + len(source.classes)
    return SourceSet(torch.cat([source.images, target.images[pick]]), torch.cat([source.labels, labels]), classes)


def split_by_speaker(target: TargetSet, val_fraction: float, seed: int = 0) -> tuple[TargetSet, TargetSet]:
    """Speaker-disjoint train/validation split (at least one speaker on each side)."""
    n = len(target.speakers)
    if n < 2:
        raise ValueError("a speaker-disjoint validation split needs at least two target speakers")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val = order[: min(n - 1, max(1, round(val_fraction * n)))]
    is_val = torch.isin(target.speaker_ids, val)
    return target.subset(~is_val), target.subset(is_val)


class Augment:
    """Batch augmentation on the device: horizontal flip (mirroring Left/Right AUs with
    it), brightness/contrast jitter and a small random affine (scale and shift)."""

    def __init__(
        self, flip: bool = True, jitter: float = 0.0, affine: float = 0.0, au_names: tuple[str, ...] | None = None
    ) -> None:
        self.flip, self.jitter, self.affine = flip, jitter, affine
        self.perm = torch.tensor(mirror_permutation(au_names)) if au_names else None

    def __call__(
        self, x: torch.Tensor, gen: torch.Generator, aus: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, 3, H, W) in [-1, 1]. Random numbers come from the CPU generator `gen` so a
        resumed run draws the same ones."""
        b = x.shape[0]
        r = torch.rand(b, 6, generator=gen).to(x.device)
        if self.flip:
            m = r[:, 0] < 0.5
            x = torch.where(m[:, None, None, None], x.flip(-1), x)
            if aus is not None and self.perm is not None:
                aus = torch.where(m[:, None], aus[:, self.perm.to(aus.device)], aus)
        if self.jitter > 0:
            contrast = 1 + self.jitter * (2 * r[:, 1] - 1)
            bright = self.jitter * (2 * r[:, 2] - 1)
            x = (x * contrast[:, None, None, None] + bright[:, None, None, None]).clamp(-1, 1)
        if self.affine > 0:
            scale = 1 + self.affine * (2 * r[:, 3] - 1)
            theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
            theta[:, 0, 0] = theta[:, 1, 1] = scale
            theta[:, 0, 2] = self.affine * (2 * r[:, 4] - 1)
            theta[:, 1, 2] = self.affine * (2 * r[:, 5] - 1)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return x, aus


class Batcher:
    """Random batches (with replacement) from tensors kept on one device.

    Under torchrun every rank draws the same world-sized batch of indices from the same
    seeded CPU generator and keeps its own slice, so one generator state (saved in the
    checkpoint) resumes every rank exactly."""

    def __init__(
        self,
        tensors: tuple[torch.Tensor, ...],
        device: torch.device,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        weights: torch.Tensor | None = None,
    ) -> None:
        self.tensors = tuple(t.to(device) for t in tensors)
        self.n = len(tensors[0])
        self.gen = torch.Generator().manual_seed(seed)
        self.rank, self.world_size = rank, world_size
        self.weights = weights  # per-item sampling weights (CPU), uniform when None

    def sample(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        n = batch_size * self.world_size
        idx = (
            torch.randint(self.n, (n,), generator=self.gen)
            if self.weights is None
            else torch.multinomial(self.weights, n, replacement=True, generator=self.gen)
        )
        idx = idx[self.rank * batch_size : (self.rank + 1) * batch_size].to(self.tensors[0].device)
        return tuple(t[idx] for t in self.tensors)


@dataclass
class RefinerPairs:
    """GATH-W self-reenactment pairs (talkinghead.refiner_pairs' docstring gives the arrays): as
    stored, uint8 crops and masks; `as_float()` makes a training batch (images in [-1, 1],
    masks in [0, 1])."""

    warped: torch.Tensor
    opening: torch.Tensor
    target: torch.Tensor
    mouth: torch.Tensor
    aus: torch.Tensor
    speaker: torch.Tensor

    def __len__(self) -> int:
        return len(self.aus)

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def take(self, index) -> RefinerPairs:  # noqa: ANN001 - an index or slice of the first dimension
        return RefinerPairs(*(t[index] for t in self.tensors()))

    def to(self, device: torch.device | str) -> RefinerPairs:
        return RefinerPairs(*(t.to(device) for t in self.tensors()))

    def as_float(self) -> RefinerPairs:
        return RefinerPairs(
            to_unit_range(self.warped),
            self.opening.float() / 255,
            to_unit_range(self.target),
            self.mouth.float() / 255,
            self.aus.float(),
            self.speaker,
        )


@dataclass
class PairSet:
    """The pairs of a file with their speakers' names, AU names and the tracker version."""

    pairs: RefinerPairs
    speakers: list[str]
    au_names: tuple[str, ...]
    tracker: str

    def __len__(self) -> int:
        return len(self.pairs)

    def speaker_weights(self) -> torch.Tensor:
        """Sampling weight per pair so every speaker is drawn equally often."""
        counts = torch.bincount(self.pairs.speaker, minlength=len(self.speakers)).float()
        return 1.0 / counts[self.pairs.speaker]


def load_pairs(path: str | Path) -> PairSet:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GATH-W pairs not found: {path}")
    with np.load(path) as d:
        pairs = RefinerPairs(**{f.name: torch.from_numpy(d[f.name]) for f in fields(RefinerPairs)})
        return PairSet(pairs, [str(s) for s in d["speakers"]], tuple(str(n) for n in d["au_names"]), str(d["tracker"]))


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float in [-1, 1], the networks' input range."""
    return images.float().div_(127.5).sub_(1.0)
