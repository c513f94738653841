"""The mouth a user gets from a photo and speech, through the whole chain: speech opens
every mouth, silence closes it, the photo's reading of its own mouth neither pins the
AUs at a bound nor cancels them, and a louder voice opens the mouth wider."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from actionunits import AU_NAMES, AUSeries
from audio2au import load_audio, predict_aus
from audio2au.frame_measures import frame_rms_db, speech_frames
from talkinghead.aupost import SPEECH_AUS, PostOptions, postprocess

SPEECH = "speech/videoretalking_1.wav"  # 5 s of continuous speech
# The first frame of an unseen clip whose still the tracker reads as jawOpen 0.69 and
# mouthClose 0.72 on lips 0.075 apart: the "pinned at the bound" photo.
PINNED_CLIP = "video/more/lrs2_deep_avsr/00001.mp4"

pytestmark = pytest.mark.slow  # a minute of audio2au and warp planning on real photos


@pytest.fixture(scope="module")
def chain():
    from talkinghead.model_files import load_audio2au
    from talkinghead.renderers.registry import ModelOptions, load

    renderer = load(ModelOptions())
    return renderer, load_audio2au(None, renderer.au_names)


def driven(chain, photo: Path, wav: np.ndarray):
    """The post-processed AU series of `wav` for `photo`, the animator, and speech frames."""
    renderer, model = chain
    portrait, animator = renderer.open(photo, None, 720)
    raw = AUSeries(predict_aus(model, wav, 25.0), 25.0, renderer.au_names)
    series = postprocess(raw, PostOptions(), portrait.rest)
    speech = speech_frames(frame_rms_db(wav, 25.0, len(raw))[:, 0], 25.0)
    return portrait, animator, series.values, speech


def planned_gap(animator, aus: np.ndarray) -> np.ndarray:
    from audio2au.frame_measures import lip_gap

    return lip_gap(animator.plan(aus).points)


def test_parted_and_closed_mouths_open_in_speech_and_close_in_silence(shared_data, chain):
    from talkinghead.renderers.warp import signed_lip_gap

    wav = load_audio(shared_data / SPEECH)
    silence = np.zeros(25 * 640, np.float32)  # a second of silence first
    wav = np.concatenate([silence, wav])
    for name in ("liveportrait_s12_bw.jpg", "video_retalking_5.png", "video_retalking_2.png", "liveportrait_s1.jpg"):
        portrait, animator, aus, speech = driven(chain, shared_data / "portraits" / name, wav)
        gap = planned_gap(animator, aus)
        quiet = animator.plan(aus[:20]).points  # the silent second, its last frames aside (the in-breath)
        signed = np.array([signed_lip_gap(p) for p in quiet])
        # closed, not pushed through each other: real closed lips 0.0005-0.002, open 0.13-0.22
        assert np.abs(signed).max() < 0.03, name
        assert np.percentile(gap[speech], 90) > 0.06, name  # and open in speech
        assert gap[speech].std() > 0.015, name  # articulating, not held open


def test_a_photo_read_at_the_bound_is_not_pinned_there(shared_data, chain, tmp_path):
    from talkinghead.evaluation.lips import first_frame
    from talkinghead.io.image import write_image

    photo = tmp_path / "pinned.png"
    write_image(photo, first_frame(shared_data / PINNED_CLIP))
    wav = load_audio(shared_data / PINNED_CLIP)
    portrait, animator, aus, speech = driven(chain, photo, wav)
    for name in SPEECH_AUS:
        column = aus[speech, AU_NAMES.index(name)]
        assert (column >= 0.99).mean() < 0.05 and (column <= 0.0).mean() < 0.95 or not column.any(), name
    gap = planned_gap(animator, aus)
    assert gap[speech].std() > 0.3 * gap[speech].mean(), "the mouth must articulate, not sit at one opening"


def test_a_louder_voice_opens_the_mouth_wider(shared_data, chain):
    wav = load_audio(shared_data / SPEECH)
    photo = shared_data / "portraits" / "liveportrait_s12_bw.jpg"
    gaps = []
    for gain_db in (-12.0, 0.0):
        _, animator, aus, speech = driven(chain, photo, wav * np.float32(10 ** (gain_db / 20)))
        gaps.append(planned_gap(animator, aus)[speech].mean())
    assert gaps[1] > 1.1 * gaps[0]
