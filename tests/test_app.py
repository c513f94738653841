"""`talkinghead app`: the Gradio app as users and scripts meet it.

The app runs in a subprocess, as `talkinghead app`, with an audit hook that logs every
connection or name look-up to anything but this machine. gradio_client calls /render,
/edit and /track on the shared portraits and speech; headless Chromium, which can reach
127.0.0.1 only and records every request, uses each tab (the Live tab through Chromium's
fake microphone playing a shared speech file). The last test stops the app and checks that
its temp folder is gone and that nothing tried to leave the machine.

Set TALKINGHEAD_APP_SCREENSHOTS=docs/images to refresh the README's screenshots.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from chromium import FAKE_MIC_FLAGS, Chromium, chromium_path
from media_probe import probe

from actionunits import AU_NAMES
from talkinghead.errors import UserError

PHOTO = "portraits/video_retalking_1.png"  # 700 x 700: the app works on it unscaled
SPEECH = "speech/videoretalking_1.wav"  # 5 s, 44.1 kHz stereo
VIDEO = "video/grid/s1/video/bbaf2n.mp4"  # 3 s, 25 fps
TABS = {  # tab -> controls the page must show (elem_id)
    "Render": ["render-photo", "render-speech", "render-expressiveness", "render-emotion", "render-blinks",
               "render-fps", "render-renderer", "render-button", "render-video", "render-plot", "render-csv"],
    "Edit": ["edit-photo", "edit-preset", "edit-aus", "edit-result", "au-jawOpen", "au-browInnerUp", "au-eyeBlinkLeft",
             "au-cheekSquintLeft", "au-mouthSmileLeft"],
    "Live": ["live-photo", "live-mic", "live-frame", "live-status"],
    "Track": ["track-video", "track-button", "track-plot", "track-csv"],
}

# Runs inside the app's process: every connect / name look-up that is not this machine is logged.
AUDIT = r"""
import os, sys
LOCAL = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", "None"}
log = open(os.environ["APP_NET_LOG"], "a", buffering=1)
def audit(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple) and str(args[1][0]) not in LOCAL:
        log.write(f"connect {args[1]}\n")
    elif event == "socket.getaddrinfo" and str(args[0]) not in LOCAL:
        log.write(f"getaddrinfo {args[0]}\n")
sys.addaudithook(audit)
from talkinghead.cli import main
sys.exit(main(["app", "--port", sys.argv[1]]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- handlers, no server


@pytest.fixture(scope="module")
def setup(shared_data, tmp_path_factory):
    from talkinghead.app import handlers

    return handlers.edit_setup(shared_data / PHOTO, None, tmp_path_factory.mktemp("edit"))


def test_untouched_sliders_give_the_photo_back(setup, shared_data):
    """Sliders show the photo's AUs rounded to their step; sent back unmoved, they must
    still render the photo itself, and a moved jaw slider must not."""
    from talkinghead.app import handlers

    photo = cv2.cvtColor(cv2.imread(str(shared_data / PHOTO)), cv2.COLOR_BGR2RGB)
    rounded = np.round(setup.portrait.aus / handlers.SLIDER_STEP) * handlers.SLIDER_STEP
    assert not np.array_equal(rounded, setup.portrait.aus)  # the rounding is there to undo
    assert np.array_equal(setup.animator.frames(handlers.slider_aus(setup, rounded)[None])[0], photo)
    assert handlers.changed_text(setup, rounded) == ""
    moved = rounded.copy()
    moved[0] = 1.0
    assert not np.array_equal(setup.animator.frames(handlers.slider_aus(setup, moved)[None])[0], photo)
    assert handlers.changed_text(setup, moved) == "jawOpen=1.00"


def test_presets_and_au_text(setup):
    from talkinghead.app import handlers

    assert np.array_equal(handlers.preset_aus(setup, "photo"), setup.portrait.aus)
    assert not handlers.preset_aus(setup, "neutral face").any()
    smile = AU_NAMES.index("mouthSmileLeft")
    assert handlers.preset_aus(setup, "happy")[smile] > setup.portrait.aus[smile] + 0.3
    aus = handlers.edit_with_text(setup, "jawOpen=0.6, mouthSmileLeft=0.8")
    assert aus[0] == pytest.approx(0.6) and aus[smile] == pytest.approx(0.8)
    with pytest.raises(UserError, match="unknown AU 'noSuchAU'"):
        handlers.edit_with_text(setup, "noSuchAU=0.5")
    with pytest.raises(UserError, match="outside"):
        handlers.edit_with_text(setup, "jawOpen=1.5")


def test_uploads_are_type_and_size_checked(tmp_path, shared_data):
    from talkinghead.app.handlers import UPLOADS, check_upload

    big = tmp_path / "huge.png"
    with open(big, "wb") as f:
        f.truncate(UPLOADS["photo"][1] * 1_000_000 + 1)
    cases = [(None, "photo", "no photo given"), (shared_data / SPEECH, "photo", "must be a png"),
             (shared_data / PHOTO, "speech", "got .png"), (tmp_path / "gone.mp4", "video", "not found"),
             (big, "photo", "at most 30 MB")]
    for path, kind, words in cases:
        with pytest.raises(UserError, match=words) as e:
            check_upload(path, kind)
        assert "\n" not in str(e.value)
    assert check_upload(shared_data / PHOTO, "photo") == shared_data / PHOTO


# ---------------------------------------------------------------- the running app


class App:
    def __init__(self, url: str, proc: subprocess.Popen, tmp: Path, net_log: Path) -> None:
        self.url, self.proc, self.tmp, self.net_log = url, proc, tmp, net_log

    def client(self, downloads: Path):
        from gradio_client import Client

        return Client(self.url, verbose=False, download_files=str(downloads))


@pytest.fixture(scope="module")
def app(shared_data, tmp_path_factory):
    base = tmp_path_factory.mktemp("app")
    tmp, net_log, port = base / "tmp", base / "net.log", free_port()
    tmp.mkdir()
    net_log.touch()
    env = {**os.environ, "TMPDIR": str(tmp), "APP_NET_LOG": str(net_log)}
    proc = subprocess.Popen([sys.executable, "-c", AUDIT, str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(1200):  # torch, mediapipe and gradio load first
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()[0]
                time.sleep(0.1)
        else:
            pytest.fail("the app did not answer within 120 s")
        yield App(url, proc, tmp, net_log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.slow
def test_api_render_two_arguments_gives_video_of_the_speech_length(app, shared_data, tmp_path):
    from gradio_client import handle_file

    from audio2au import load_audio

    video = app.client(tmp_path).predict(handle_file(shared_data / PHOTO), handle_file(shared_data / SPEECH),
                                         api_name="/render")
    p = probe(Path(video))
    speech_s = len(load_audio(shared_data / SPEECH)) / 16000
    assert (p.video_codec, p.audio_codec) == ("h264", "aac")
    assert (p.width, p.height) == (700, 700)
    assert abs(p.video_seconds - speech_s) <= 1 / 25 + 1e-6 and abs(p.audio_seconds - speech_s) < 0.1


@pytest.mark.slow
def test_api_errors_are_the_cli_messages(app, shared_data, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    blank, fake = tmp_path / "blank.png", tmp_path / "fake.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    fake.write_text("not an image")
    client = app.client(tmp_path)
    cases = [((blank, shared_data / SPEECH), "/render", "no face found in the image"),
             ((fake, ""), "/edit", "cannot read image fake.png: not a valid image file"),
             ((shared_data / PHOTO, shared_data / PHOTO), "/render", "the speech must be a wav"),
             ((shared_data / PHOTO, "noSuchAU=1"), "/edit", "unknown AU 'noSuchAU'"),
             ((shared_data / PHOTO,), "/track", "the video must be a mp4")]
    for args, api, words in cases:
        args = [handle_file(a) if isinstance(a, Path) else a for a in args]
        with pytest.raises(AppError) as e:
            client.predict(*args, api_name=api)
        message = str(e.value)
        assert words in message and len(message.strip().splitlines()) == 1, message


@pytest.mark.slow
def test_api_edit_moves_the_mouth_and_nothing_outside_the_face(app, shared_data, tmp_path):
    from gradio_client import handle_file

    from talkinghead.portrait import Portrait

    client = app.client(tmp_path)
    photo = cv2.imread(str(shared_data / PHOTO))
    same = cv2.imread(client.predict(handle_file(shared_data / PHOTO), "", api_name="/edit"))
    assert np.array_equal(same, photo)  # an untouched edit is the photo
    edited = cv2.imread(client.predict(handle_file(shared_data / PHOTO), "jawOpen=1", api_name="/edit"))
    assert edited.shape == photo.shape
    lips = Portrait.open(shared_data / PHOTO).landmarks[[61, 291, 0, 17], :2]
    (x0, y0), (x1, y1) = lips.min(0).astype(int), lips.max(0).astype(int)
    mouth = np.abs(edited[y0:y1, x0:x1].astype(int) - photo[y0:y1, x0:x1]).mean()
    assert mouth > 10, mouth
    h, w = photo.shape[:2]
    for ys, xs in [(slice(0, h // 8), slice(0, w // 8)), (slice(0, h // 8), slice(-w // 8, None)),
                   (slice(-h // 8, None), slice(0, w // 8)), (slice(-h // 8, None), slice(-w // 8, None))]:
        assert np.array_equal(edited[ys, xs], photo[ys, xs])


@pytest.mark.slow
def test_api_track_gives_a_csv_row_per_frame(app, shared_data, tmp_path):
    from gradio_client import handle_file

    from actionunits import AUSeries

    csv = app.client(tmp_path).predict(handle_file(shared_data / VIDEO), api_name="/track")
    series = AUSeries.read_csv(csv)
    assert series.names == AU_NAMES and series.fps == pytest.approx(25.0, abs=0.01)
    assert abs(len(series) - 75) <= 1 and series.valid.all()
    assert series.column("jawOpen").std() > 0.02  # the speaker's mouth moves


# ---------------------------------------------------------------- the page in Chromium


@pytest.fixture(scope="module")
def page(app, tmp_path_factory, shared_data):
    if chromium_path() is None:
        pytest.skip("no chromium (Debian: apt-get install chromium)")
    mic = f"--use-file-for-fake-audio-capture={shared_data / SPEECH}"
    browser = Chromium(tmp_path_factory.mktemp("chromium"), FAKE_MIC_FLAGS + [mic], size=(1200, 900))
    try:
        browser.open(app.url)
        browser.wait_for("document.querySelector('#render-button') !== null", 60)
        yield browser
    finally:
        browser.close()


def show_tab(page: Chromium, name: str) -> None:
    page.evaluate(f"Array.from(document.querySelectorAll('button[role=tab]')).find(b => b.innerText == '{name}')"
                  ".click()")
    ids = TABS[name]
    page.wait_for(f"{ids}.every(id => document.getElementById(id))", 20)
    visible = page.evaluate(f"{ids}.filter(id => document.getElementById(id).getBoundingClientRect().width > 0)")
    assert visible == ids, f"{name}: hidden controls {set(ids) - set(visible)}"


def screenshot(page: Chromium, name: str, tmp_path: Path) -> np.ndarray:
    """The page as a picture, once its images are shown; a copy goes to
    $TALKINGHEAD_APP_SCREENSHOTS when set."""
    page.wait_for("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)", 20)
    image = cv2.imread(str(page.screenshot(tmp_path / f"app_{name}.png")))
    assert image is not None and image.std() > 20  # content, not a blank or single-colour page
    if os.environ.get("TALKINGHEAD_APP_SCREENSHOTS"):
        small = cv2.resize(image, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(Path(os.environ["TALKINGHEAD_APP_SCREENSHOTS"]) / f"app_{name}.png"), small,
                    [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return image


def text_of(page: Chromium, elem_id: str) -> str:
    return page.evaluate(f"(document.querySelector('#{elem_id} textarea, #{elem_id} input') || {{}}).value || ''")


@pytest.mark.slow
def test_page_render_tab_shows_progress_then_video_plot_and_csv(page, shared_data, tmp_path):
    show_tab(page, "Render")
    page.set_files("#render-photo input[type=file]", shared_data / PHOTO)
    page.set_files("#render-speech input[type=file]", shared_data / SPEECH)
    page.wait_for("document.querySelector('#render-photo img') && "
                  "document.querySelector('#render-speech [data-testid=waveform-controls]')", 30)
    page.evaluate("document.getElementById('render-button').click()")
    progress = page.wait_for("(document.querySelector('#render-video .progress-level') || {}).innerText", 60)
    assert "frames" in progress or "loading" in progress
    page.wait_for("document.querySelector('#render-video video') && document.querySelector('#render-plot img')"
                  " && document.querySelector('#render-csv a')", 120)
    assert page.evaluate("document.querySelector('#render-csv').innerText").strip().endswith(".csv") or \
        ".csv" in page.evaluate("document.querySelector('#render-csv').innerText")
    assert page.wait_for("document.querySelector('#render-video video').readyState >= 1 && "
                         "document.querySelector('#render-video video').duration", 20) == pytest.approx(5.0, abs=0.3)
    screenshot(page, "render", tmp_path)


@pytest.mark.slow
def test_page_edit_tab_sliders_start_at_the_photo_and_update_fast(page, shared_data, tmp_path):
    from talkinghead.portrait import Portrait

    show_tab(page, "Edit")
    page.set_files("#edit-photo input[type=file]", shared_data / PHOTO)
    page.wait_for("document.querySelector('#edit-result img')", 60)
    jaw = float(page.wait_for("document.querySelector('#au-jawOpen input[type=number]').value", 10))
    assert jaw == pytest.approx(float(Portrait.open(shared_data / PHOTO).aus[0]), abs=0.006)
    page.evaluate("""window.moveSlider = (name, value) => new Promise(done => {
      const old = document.querySelector('#edit-result img').src;
      const range = document.querySelector(`#au-${name} input[type=range]`);
      const watch = new MutationObserver(() => {
        const img = document.querySelector('#edit-result img');
        if (img && img.src !== old) { watch.disconnect(); img.decode().then(() => done(performance.now() - t0)); }
      });
      watch.observe(document.getElementById('edit-result'), {subtree: true, childList: true, attributes: true});
      setTimeout(() => { watch.disconnect(); done(-1); }, 5000);
      const t0 = performance.now();
      Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(range, value);
      range.dispatchEvent(new Event('input', {bubbles: true}));  // what a drag sends, many times a second
    }); 1""")
    page.evaluate("moveSlider('jawOpen', 0.2)")  # the first one warms up
    latencies = [page.evaluate(f"moveSlider('jawOpen', {v:.2f})") for v in np.linspace(0.3, 1.0, 12)]
    assert min(latencies) > 0, latencies  # every move showed a new image
    # Speed is measured, not asserted (benchmarks/app_edit.py times the server's share):
    print(f"edit update latency (slider input -> new image decoded), ms: {[round(t) for t in latencies]}, "
          f"median {statistics.median(latencies):.0f}")
    assert text_of(page, "edit-aus") == "jawOpen=1.00"
    assert page.evaluate("document.querySelector('#edit-result img').src").endswith(".jpg")  # the quick preview
    page.evaluate("document.querySelector('#au-jawOpen input[type=range]')"
                  ".dispatchEvent(new PointerEvent('pointerup', {bubbles: true}))")
    page.wait_for("document.querySelector('#edit-result img').src.endsWith('_edited.png')", 10)  # let go: lossless
    screenshot(page, "edit", tmp_path)


@pytest.mark.slow
def test_page_live_tab_streams_the_fake_microphone(page, shared_data, tmp_path):
    show_tab(page, "Live")
    page.set_files("#live-photo input[type=file]", shared_data / PHOTO)
    assert page.wait_for("(document.querySelector('#live-status textarea') || {}).value", 60).startswith("ready")
    page.evaluate("Array.from(document.querySelectorAll('#live-mic button')).find(b => /record/i.test(b.innerText))"
                  ".click()")
    first = page.wait_for("(document.querySelector('#live-frame img') || {}).src", 5)
    page.wait_for(f"document.querySelector('#live-frame img').src != {first!r}", 20)  # streaming started
    frames, t0 = set(), time.monotonic()
    while time.monotonic() - t0 < 5:
        frames.add(page.evaluate("(document.querySelector('#live-frame img') || {}).src"))
        time.sleep(0.1)
    status = text_of(page, "live-status")
    screenshot(page, "live", tmp_path)
    page.evaluate("Array.from(document.querySelectorAll('#live-mic button')).find(b => /stop/i.test(b.innerText))"
                  ".click()")
    fps, latency = map(float, re.search(r"([\d.]+) fps\s+\|\s+audio-to-frame (\d+) ms", status).groups())
    print(f"live: {status}")
    assert len(frames) > 10  # images are named by their content: these are different frames
    assert fps > 2 and 0 < latency < 1000, status


@pytest.mark.slow
def test_page_track_tab_and_errors_in_the_page(page, shared_data, tmp_path):
    show_tab(page, "Track")
    page.evaluate("document.getElementById('track-button').click()")  # no video: a one-line error
    toast = page.wait_for("(document.querySelector('.toast-body') || {}).innerText", 20)
    assert "no video given" in toast and "Traceback" not in toast
    page.evaluate("document.querySelectorAll('.toast-close').forEach(b => b.click())")
    page.set_files("#track-video input[type=file]", shared_data / VIDEO)
    page.wait_for("document.querySelector('#track-video video')", 30)
    page.evaluate("document.getElementById('track-button').click()")
    page.wait_for("document.querySelector('#track-plot img') && document.querySelector('#track-csv a')", 90)
    screenshot(page, "track", tmp_path)


@pytest.mark.slow
def test_page_loaded_nothing_from_outside(page, app):
    outside = [u for u in page.requests if not u.startswith((app.url, "data:", "blob:"))]
    assert len(page.requests) > 20 and outside == []
    assert page.console == []


@pytest.mark.slow
def test_stopping_removes_temp_files_and_nothing_left_the_machine(app):
    """Last: stops the app (SIGTERM, as a service manager would)."""
    assert any(app.tmp.iterdir())  # the app wrote its uploads and outputs here while it ran
    app.proc.send_signal(signal.SIGTERM)
    out, _ = app.proc.communicate(timeout=60)
    assert "Traceback" not in out, out
    assert list(app.tmp.iterdir()) == []
    assert app.net_log.read_text() == ""
    import talkinghead.app

    assert list(Path(talkinghead.app.__file__).parent.glob("*.pyi")) == []  # gradio wrote no stubs into the package
