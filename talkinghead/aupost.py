"""AU post-processing between audio2au (or a tracker / CSV) and the generator.

Speech drives the mouth but not the eyes or brows, and a face that never blinks looks
dead, so a render adds synthesized blinks and a slow idle brow drift. The user's controls
(`--expressiveness`, `--emotion`, `--au`) are applied here too, in a fixed order:
resample -> scale -> smooth -> hold the photo's expression -> emotion offsets -> blinks +
idle motion -> overrides. The head pose beside the AUs (speech-driven, or a driver's or a
CSV's) is scaled by `--head-motion`; at 0 it is dropped, and the head keeps the photo's
pose exactly as a render without pose would.

Speech drives the jaw and mouth (`SPEECH_AUS`). When the photo's resting AU vector is given
as `base`, every other AU keeps the photo's value (a smiling photo keeps smiling, raised
brows stay raised; `--neutral` passes zeros instead), and the speech AUs, which audio2au
gives relative to a speaker's rest, are added to the photo's rest (`rest_face`): a closed
mouth opens from where it is, and a photo with parted lips rests closed, so its mouth
closes in pauses. Driven by speech, mouthClose (lips sealed while the jaw drops) never
exceeds jawOpen: audio2au predicts the two apart (mouthClose 0.1-0.2 in silence, above the
jaw in most frames of unfamiliar voices), and beyond the jaw's opening the motion model
pushes the lips through each other (docs/results/2026-12-06-lips/).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from actionunits import AU_NAMES, AUSeries, parse_assignments
from actionunits.series import smooth_in_time
from talkinghead.options import from_args, option

# Documented AU offsets per emotion at strength 1 (added to the speech AUs, then clipped).
# Chosen from the FACS prototypes of the basic emotions, expressed in ARKit names.
EMOTIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"mouthSmileLeft": 0.7, "mouthSmileRight": 0.7, "cheekSquintLeft": 0.4, "cheekSquintRight": 0.4},
    "sad": {
        "browInnerUp": 0.6,
        "mouthFrownLeft": 0.5,
        "mouthFrownRight": 0.5,
        "mouthPressLeft": 0.2,
        "mouthPressRight": 0.2,
    },
    "angry": {
        "browDownLeft": 0.7,
        "browDownRight": 0.7,
        "mouthPressLeft": 0.4,
        "mouthPressRight": 0.4,
        "cheekSquintLeft": 0.2,
        "cheekSquintRight": 0.2,
    },
    "surprised": {
        "browInnerUp": 0.7,
        "browOuterUpLeft": 0.7,
        "browOuterUpRight": 0.7,
        "eyeWideLeft": 0.6,
        "eyeWideRight": 0.6,
        "jawOpen": 0.2,
    },
    "disgusted": {
        "mouthUpperUpLeft": 0.5,
        "mouthUpperUpRight": 0.5,
        "browDownLeft": 0.4,
        "browDownRight": 0.4,
        "cheekSquintLeft": 0.3,
        "cheekSquintRight": 0.3,
    },
    "fearful": {
        "browInnerUp": 0.7,
        "eyeWideLeft": 0.5,
        "eyeWideRight": 0.5,
        "mouthStretchLeft": 0.4,
        "mouthStretchRight": 0.4,
    },
}

# The AUs speech drives: the jaw and the mouth but its smile and frown, which stay the
# photo's expression (as every AU not driven does when a base is given).
SPEECH_AUS = tuple(
    n for n in AU_NAMES if n.startswith(("jaw", "mouth")) and not n.startswith(("mouthSmile", "mouthFrown"))
)
BLINK_AUS = ("eyeBlinkLeft", "eyeBlinkRight")
IDLE_AUS = ("browInnerUp", "browOuterUpLeft", "browOuterUpRight")
HEAD_STREAM = 1  # the head's random stream beside the blinks' and brows' (seed alone)
MAX_HEAD_MOTION = 2.0  # beyond twice natural motion the warp's head turn tears (docs/render.md)


@dataclass
class PostOptions:
    """What the user asked for. Defaults give a natural-looking talking face."""

    expressiveness: float = option(1.0, "scale of the driven AUs")
    emotion: dict[str, float] = option(  # name -> strength
        help="add an emotion: happy, sad, angry, surprised, disgusted, fearful (strength S in [0, 1], default 1)",
        factory=dict,
        metavar="NAME[=S]",
        parse=lambda text: parse_emotion(text),
    )
    overrides: dict[str, float] = option(  # AU name -> constant value
        help="fix AUs to values in [0, 1] (e.g. mouthSmileLeft=0.5); repeatable",
        factory=dict,
        flag="--au",
        metavar="NAME=V,...",
        repeat=True,
        parse=lambda items: parse_overrides(items),
    )
    smooth_s: float = option(
        0.03, "time constant of the AU smoothing in seconds (0 = off)", flag="--smooth", metavar="S"
    )
    blinks: bool = option(True, "do not add eye blinks")
    idle: bool = option(True, "do not add idle brow motion")
    seed: int = option(0, "seed of the synthesized blinks, brow and head motion")
    head_motion: float = option(
        1.0, f"head motion: 0 = a still head, 1 = natural, at most {MAX_HEAD_MOTION:g}", metavar="S"
    )
    neutral: bool = option(
        False, "start from the neutral face: AUs not driven or set are 0 (default: the photo's own expression)"
    )

    def check(self) -> None:
        from talkinghead.errors import UserError

        if self.expressiveness < 0:
            raise UserError(f"--expressiveness must be >= 0, got {self.expressiveness}")
        if self.smooth_s < 0:
            raise UserError(f"--smooth must be >= 0, got {self.smooth_s}")
        if not 0 <= self.head_motion <= MAX_HEAD_MOTION:
            raise UserError(f"--head-motion must be in [0, {MAX_HEAD_MOTION:g}], got {self.head_motion}")

    def head_rng(self) -> np.random.Generator:
        """The head motion's own random stream of `seed`: the same seed gives the same take,
        and blinks (drawn from `seed` alone) do not shift when the head changes."""
        return np.random.default_rng([self.seed, HEAD_STREAM])

    def pose(self, pose: np.ndarray | None) -> np.ndarray | None:
        """A head pose series scaled by `head_motion` (None at 0: the pose path is off)."""
        if pose is None or self.head_motion == 0:
            return None
        return (np.asarray(pose, np.float32) * self.head_motion).astype(np.float32)

    def base(self, photo_aus: np.ndarray) -> np.ndarray:
        """The AU vector the face starts from: the photo's (resting) AUs, or zeros."""
        return np.zeros_like(photo_aus) if self.neutral else photo_aus


def post_options(args: argparse.Namespace, defaults: PostOptions | None = None) -> PostOptions:
    """The parsed command line's expression options over `defaults` (a command's own), checked."""
    post = from_args(defaults or PostOptions(), args)
    post.check()
    return post


def parse_emotion(text: str) -> dict[str, float]:
    """'happy' or 'happy=0.5' (several comma-separated) -> {name: strength}."""
    return parse_assignments(text, tuple(EMOTIONS), what="emotion", default=1.0, lower=True)


def parse_overrides(items: list[str] | None) -> dict[str, float]:
    """Several `--au` arguments, each 'NAME=VALUE[,NAME=VALUE...]'."""
    out: dict[str, float] = {}
    for text in items or []:
        out.update(parse_assignments(text, AU_NAMES))
    return out


def resample(series: AUSeries, fps: float, n_frames: int) -> AUSeries:
    """Linear interpolation onto `n_frames` frames at `fps` (the ends are held), the head
    pose with it."""
    if len(series) == 0:
        return AUSeries(np.zeros((n_frames, len(series.names)), np.float32), fps, series.names)
    t_out = np.arange(n_frames) / fps
    t_in = series.times

    def interp(x: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(t_out, t_in, x[:, j]) for j in range(x.shape[1])], axis=1)

    return AUSeries(interp(series.values), fps, series.names, pose=None if series.pose is None else interp(series.pose))


def blink_track(n_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Eyelid closure in [0, 1] per frame: blinks every 2-6 s (people blink ~15 times a
    minute), each a fast close (~80 ms) and a slower open (~170 ms)."""
    out = np.zeros(n_frames, np.float32)
    t_frames = np.arange(n_frames) / fps
    t = rng.uniform(0.5, 2.5)
    duration = n_frames / fps
    while t < duration:
        close, reopen = 0.08, 0.17
        rel = t_frames - t
        profile = np.where(rel < 0, np.clip(1 + rel / close, 0, 1), np.clip(1 - rel / reopen, 0, 1))
        out = np.maximum(out, profile.astype(np.float32))
        t += rng.gamma(4.0, 1.0)  # mean 4 s, rarely under 1.5 s
    return out


def idle_track(n_frames: int, fps: float, rng: np.random.Generator, amplitude: float = 0.15) -> np.ndarray:
    """A slow (~0.3 Hz) smooth drift in [0, amplitude], so brows are not frozen."""
    knots = max(2, int(n_frames / fps / 1.5) + 2)
    y = rng.uniform(0, 1, knots)
    x = np.linspace(0, n_frames, knots)
    track = np.interp(np.arange(n_frames), x, y)
    return (amplitude * smooth_in_time(track[:, None], fps, 0.4)[:, 0]).astype(np.float32)


def _add_emotions(v: np.ndarray, col: dict[str, int], options: PostOptions) -> None:
    for emotion, strength in options.emotion.items():
        for au, offset in EMOTIONS[emotion].items():
            if au in col:
                v[:, col[au]] += strength * offset


def _add_motion(v: np.ndarray, col: dict[str, int], blink: np.ndarray | None, idle: np.ndarray | None) -> None:
    """Blinks close both lids (max with what drives them); idle drift lifts the brows."""
    if blink is not None:
        for a in BLINK_AUS:
            v[:, col[a]] = np.maximum(v[:, col[a]], blink)
    if idle is not None:
        for a, track in zip(IDLE_AUS, idle):
            if a in col:
                v[:, col[a]] += track


def _hold(v: np.ndarray, names: tuple[str, ...], base: np.ndarray | None) -> None:
    """AUs that speech does not drive take the base's values (the photo's expression); the
    speech AUs are added to the base's (the face's rest)."""
    if base is not None:
        base = np.asarray(base, np.float32)
        speech = np.array([n in SPEECH_AUS for n in names])
        v[:, ~speech] = base[~speech]
        v[:, speech] += base[speech]


def _seal(v: np.ndarray, col: dict[str, int]) -> None:
    """mouthClose at most jawOpen: the lips can seal over an open jaw, not close past it."""
    if "mouthClose" in col and "jawOpen" in col:
        v[:, col["mouthClose"]] = np.minimum(v[:, col["mouthClose"]], v[:, col["jawOpen"]])


def _set_overrides(v: np.ndarray, col: dict[str, int], options: PostOptions) -> None:
    for au, value in options.overrides.items():
        if au in col:
            v[:, col[au]] = value


def _motion_tracks(n: int, fps: float, names: tuple[str, ...], options: PostOptions):
    """(blink track or None, idle tracks or None) for n frames, from the options' seed."""
    rng = np.random.default_rng(options.seed)
    blink = blink_track(n, fps, rng) if options.blinks and all(a in names for a in BLINK_AUS) else None
    idle = np.stack([idle_track(n, fps, rng) for _ in IDLE_AUS]) if options.idle else None
    return blink, idle


def postprocess(series: AUSeries, options: PostOptions, base: np.ndarray | None = None) -> AUSeries:
    """Apply the user's controls and the synthesized motion to a series already at the
    output frame rate; returns a new series in [0, 1]. `base`: the AU vector that the AUs
    outside SPEECH_AUS keep (the photo's own, or zeros for a neutral face)."""
    names = series.names
    col = {n: i for i, n in enumerate(names)}
    v = np.clip(series.values * options.expressiveness, 0, 1)
    v = smooth_in_time(v, series.fps, options.smooth_s)
    _hold(v, names, base)
    if base is not None:
        _seal(v, col)
    _add_emotions(v, col, options)
    _add_motion(v, col, *_motion_tracks(len(v), series.fps, names, options))
    _set_overrides(v, col, options)
    return AUSeries(np.clip(v, 0, 1), series.fps, names, pose=options.pose(series.pose))


class StreamPost:
    """`postprocess` for AU frames that arrive a few at a time (live mode): the same
    controls in the same order, with causal smoothing (a one-pole filter whose time
    constant is `smooth_s`, since a live stream has no future frames to average) and
    blink/idle tracks precomputed for `loop_s` seconds and then repeated."""

    def __init__(
        self,
        names: tuple[str, ...],
        fps: float,
        options: PostOptions,
        loop_s: float = 600.0,
        base: np.ndarray | None = None,
    ) -> None:
        self.names, self.options, self.base = tuple(names), options, base
        self.col = {n: i for i, n in enumerate(self.names)}
        self._alpha = 1.0 - float(np.exp(-1.0 / (fps * options.smooth_s))) if options.smooth_s > 0 else 1.0
        self._loop = max(1, round(loop_s * fps))
        self._blink, self._idle = _motion_tracks(self._loop, fps, self.names, options)
        self._state: np.ndarray | None = None
        self._frame = 0

    def __call__(self, aus: np.ndarray) -> np.ndarray:
        """(n, len(names)) raw AU frames, in order -> post-processed frames in [0, 1]."""
        v = np.clip(np.asarray(aus, np.float32) * self.options.expressiveness, 0, 1)
        for i in range(len(v)):
            self._state = v[i].copy() if self._state is None else self._state + self._alpha * (v[i] - self._state)
            v[i] = self._state
        _hold(v, self.names, self.base)
        if self.base is not None:
            _seal(v, self.col)
        _add_emotions(v, self.col, self.options)
        frames = (self._frame + np.arange(len(v))) % self._loop
        _add_motion(
            v,
            self.col,
            None if self._blink is None else self._blink[frames],
            None if self._idle is None else self._idle[:, frames],
        )
        _set_overrides(v, self.col, self.options)
        self._frame += len(v)
        return np.clip(v, 0, 1)
