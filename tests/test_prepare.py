"""`talkinghead prepare` on a handful of real photos and clips: a dataset the trainers load."""

from __future__ import annotations

import shutil
import subprocess

import cv2
import numpy as np
import pytest
import soundfile as sf

from actionunits import AU_NAMES, AUSeries
from actionunits.prepared import clip_dir, frame_path, read_clips, read_info, read_source
from talkinghead.cli import main
from talkinghead.clip_sources import list_clips
from talkinghead.commands.prepare import list_stills, prepare
from talkinghead.errors import UserError
from talkinghead.io.soundtrack import extract_audio

GRID_CLIP = "bbaf2n"


@pytest.fixture(scope="module")
def inputs(shared_data, tmp_path_factory):
    """A photo folder (4 good photos of 2 people, a corrupt file, a photo with no face) and a
    video folder (a GRID clip, and a silent 1 s cut of it)."""
    tmp = tmp_path_factory.mktemp("inputs")
    photos = tmp / "photos"
    photos.mkdir()
    lfw = shared_data / "faces" / "lfw_expressions" / "images"
    for name in ["Aaron_Eckhart_0001.jpg", "AJ_Cook_0001.jpg"]:
        shutil.copy(lfw / name, photos / name)
        shutil.copy(lfw / name, photos / name.replace("_0001", "_0002"))
    (photos / "Broken_0001.jpg").write_bytes(b"\xff\xd8\xff" + b"garbage" * 50)
    noise = np.random.default_rng(1).integers(0, 255, (120, 120, 3), dtype=np.uint8)
    cv2.imwrite(str(photos / "Nobody_0001.png"), cv2.GaussianBlur(noise, (0, 0), 4))
    videos = tmp / "videos"
    videos.mkdir()
    grid = shared_data / "video" / "grid" / "s1" / "video" / f"{GRID_CLIP}.mp4"
    shutil.copy(grid, videos / "talk.mp4")
    import imageio_ffmpeg

    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-i",
            str(grid),
            "-t",
            "1",
            "-an",
            "-c:v",
            "libx264",
            str(videos / "silent.mp4"),
        ],
        check=True,
    )
    return photos, videos


@pytest.fixture(scope="module")
def prepared(inputs, tmp_path_factory):
    photos, videos = inputs
    root = tmp_path_factory.mktemp("prepared") / "ds"
    rc = main(["prepare", str(root), "--source", str(photos), "--target", f"{videos}=s1", "--workers", "1", "--quiet"])
    assert rc == 0
    return root


def test_identities_from_file_names_and_csv(inputs, tmp_path):
    photos, _ = inputs
    tasks, unlabelled = list_stills(photos)
    assert {t.identity for t in tasks} == {"Aaron_Eckhart", "AJ_Cook", "Broken", "Nobody"}
    assert unlabelled == []
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.jpg").write_bytes(b"x")
    (tmp_path / "identities.csv").write_text("image,identity\na.jpg,7\n")
    tasks, unlabelled = list_stills(tmp_path)
    assert [(t.path.name, t.identity) for t in tasks] == [("a.jpg", "7")]
    assert len(unlabelled) == 1 and unlabelled[0][2] == "no identity label"


def test_prepared_dataset_has_the_documented_format(prepared):
    info = read_info(prepared)
    assert info.crop_size == 100 and info.au_names == AU_NAMES
    source = read_source(prepared)
    assert sorted(i for _, i in source) == ["AJ_Cook", "AJ_Cook", "Aaron_Eckhart", "Aaron_Eckhart"]
    for rel, _ in source:
        img = cv2.imread(str(prepared / "source" / rel))
        assert img is not None and img.shape == (100, 100, 3)
    clips = {c.clip: c for c in read_clips(prepared)}
    assert set(clips) == {"videos__talk", "videos__silent"}
    assert all(c.speaker == "s1" and c.fps == 25.0 for c in clips.values())
    talk, silent = clips["videos__talk"], clips["videos__silent"]
    assert talk.n_frames == 75 and talk.audio == "audio.wav"
    assert silent.n_frames == 25 and silent.audio == ""
    series = AUSeries.read_csv(clip_dir(prepared, "videos__talk") / "aus.csv")
    assert series.names == AU_NAMES and len(series) == 75 and series.valid is not None
    for i, ok in enumerate(series.valid):
        assert frame_path(prepared, "videos__talk", i).is_file() == bool(ok)
    wav, sr = sf.read(clip_dir(prepared, "videos__talk") / "audio.wav")
    assert sr == 16000 and wav.ndim == 1 and abs(len(wav) / sr - 3.0) < 0.1
    failures = (prepared / "failures.csv").read_text()
    assert "Broken_0001.jpg" in failures and "not a valid image" in failures
    assert "Nobody_0001.png" in failures and "no face" in failures
    assert not list((prepared / "target" / "clips").glob(".tmp-*"))  # no half-written clip left


def test_prepare_resumes_without_redoing_work(prepared, inputs):
    photos, videos = inputs
    summary = prepare(prepared, [photos], [(videos, "s1")], workers=1, progress=False)
    assert summary.stills_done == 0 and summary.stills_skipped == 4
    assert summary.clips_done == 0 and summary.clips_skipped == 2
    assert len(read_source(prepared)) == 4 and len(read_clips(prepared)) == 2


def test_trainer_datasets_load_the_prepared_dataset(prepared):
    gath_data = pytest.importorskip("gath.data")
    source = gath_data.load_source_set(prepared)
    assert source.images.shape == (4, 3, 100, 100) and len(source.classes) == 2
    target = gath_data.load_target_set(prepared)
    assert target.images.shape[0] == 75 + 25 and target.aus.shape[1] == len(AU_NAMES)
    audio_data = pytest.importorskip("audio2au.data")
    clips, names = audio_data.load_clips(prepared)
    assert names == AU_NAMES and len(clips) == 1  # the silent clip has no audio


def test_bad_inputs_are_clear_errors(inputs, tmp_path):
    _, videos = inputs
    with pytest.raises(UserError, match="no audio track"):
        extract_audio(videos / "silent.mp4", tmp_path / "a.wav")
    assert not (tmp_path / "a.wav").exists()
    with pytest.raises(UserError, match="not found"):
        list_clips([(tmp_path / "nowhere", None)])
    with pytest.raises(UserError, match="nothing to prepare"):
        prepare(tmp_path / "ds")
    assert main(["prepare", str(tmp_path / "ds"), "--source", str(tmp_path / "nowhere")]) == 2


def test_speakers_from_a_manifest_above_the_folder(shared_data):
    tasks = list_clips([(shared_data / "video" / "more" / "lrs2_uoa", None)])
    assert tasks and all(t.clip.startswith("lrs2_uoa__") for t in tasks)
    assert all(t.speaker != t.clip for t in tasks)  # speaker ids come from video/more/manifest.csv


def test_muted_audio_counts_as_no_audio(tmp_path):
    from talkinghead.commands.prepare import is_silent

    sf.write(tmp_path / "muted.wav", np.zeros(16000, np.float32), 16000)
    sf.write(tmp_path / "speech.wav", 0.1 * np.sin(np.arange(16000) / 5.0).astype(np.float32), 16000)
    assert is_silent(tmp_path / "muted.wav") and not is_silent(tmp_path / "speech.wav")
