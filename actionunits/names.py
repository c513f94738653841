"""The ordered AU (expression coefficient) names. ARKit blendshape names throughout.

Every coefficient is continuous in [0, 1]: 0 is the neutral face, 1 the strong end of what
real faces do. The order is part of every checkpoint: never reorder, only append.
"""

from __future__ import annotations

AU_NAMES: tuple[str, ...] = (
    "jawOpen",
    "mouthClose",
    "mouthPucker",
    "mouthFunnel",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "browDownLeft",
    "browDownRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeWideLeft",
    "eyeWideRight",
    "cheekSquintLeft",
    "cheekSquintRight",
)


def mirror_permutation(names: tuple[str, ...] | list[str]) -> list[int]:
    """Index map that swaps Left/Right coefficients, for horizontally flipped faces.

    `aus[:, mirror_permutation(names)]` is the AU vector of the mirrored face.
    """
    index = {n: i for i, n in enumerate(names)}
    perm = []
    for n in names:
        if n.endswith("Left"):
            twin = n[: -len("Left")] + "Right"
        elif n.endswith("Right"):
            twin = n[: -len("Right")] + "Left"
        else:
            twin = n
        perm.append(index.get(twin, index[n]))
    return perm


def parse_assignments(
    text: str,
    names: tuple[str, ...] | list[str] = AU_NAMES,
    what: str = "AU",
    default: float | None = None,
    lower: bool = False,
) -> dict[str, float]:
    """Parse 'jawOpen=0.6,mouthSmileLeft=0.8' into {name: value in [0, 1]}, with clear
    errors. `what` names the kind in messages; with `default` a bare NAME means that value
    ('happy' for 'happy=1'); `lower` matches names case-insensitively (lower-case `names`)."""
    out: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip().lower() if lower else name.strip()
        if not sep and default is None:
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        if name not in names:
            raise ValueError(f"unknown {what} {name!r}; known: {', '.join(names)}")
        try:
            v = float(value) if sep else default
        except ValueError:
            raise ValueError(f"{what} {name}: {value!r} is not a number") from None
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{what} {name}: {v} is outside [0, 1]")
        out[name] = v
    return out
