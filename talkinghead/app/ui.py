"""The Gradio Blocks of the browser app: Render, Reenact, Edit, Live and Track tabs, and
the stable API names `/render`, `/reenact`, `/edit` and `/track` (docs/app.md).

The layout and event wiring live here; the work is in `talkinghead.app.handlers`. A
UserError becomes gr.Error with the same one-line message the CLI prints, uploads named by
their file names (never the server's temp paths); anything else shows gradio's bare
"Error" (the traceback stays in the server's log).
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np

from actionunits import AU_NAMES
from talkinghead.app import handlers as h
from talkinghead.aupost import EMOTIONS, MAX_HEAD_MOTION
from talkinghead.errors import UserError
from talkinghead.renderers import names as renderer_names

# System fonts only: the page needs no font file from anywhere.
THEME = gr.themes.Default(
    font=["system-ui", "Segoe UI", "Roboto", "sans-serif"], font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"]
)
REGIONS = {"jaw": "jaw", "mouth": "mouth", "brows": "brow", "eyes": "eye", "cheeks": "cheek"}
LIVE_CHUNK_S = 0.1  # the microphone reaches the server in chunks this long
LIVE_LIMIT_S = 600  # one live stream at most this long
# gradio finds a handler's progress bar by its default value (one instance serves every call)
PROGRESS = gr.Progress()
NO_LIVE_PHOTO = "give a photo first (press Record once the status line says ready)"


def user_errors(fn: Callable) -> Callable:
    """UserError -> gr.Error: one line in the page, no traceback, each upload named by its
    file name instead of the server's temp path (`handlers.user_message`)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            uploads = h.upload_names([*args, *kwargs.values()])
            raise gr.Error(h.user_message(str(e), uploads), print_exception=False) from None

    return wrapper


def frame_progress(
    progress: gr.Progress, desc: str, tracking: str = "tracking the driving video"
) -> Callable[[int, int], None]:
    """The pipeline's `on_frames(done, total)` hook -> the progress bar ("<desc> 40/125
    frames"); a total of 0 (a video being tracked, its count not known yet) shows the
    count alone, as `tracking`. gradio finds the request in context variables, so the hook
    runs in a copy of the handler's context, whichever thread calls it."""
    context, lock = contextvars.copy_context(), threading.Lock()

    def report(done: int, total: int) -> None:
        with lock:
            context.run(progress, (done, total or None), desc=desc if total else tracking, unit="frames")

    return report


def given(value, kind: type = int, empty: tuple = (None, "")):
    """A number box's value as `kind`, or None (the CLI's default) when it is `empty`. An
    emptied box in the page sends 0, so for a size or frame rate 0 is empty too."""
    return None if value in empty else kind(value)


def photo_input(elem_id: str) -> gr.Image:
    """A photo from a file or the webcam, passed on as the uploaded file (image_mode None:
    gradio neither converts nor re-saves it; the project's reader handles EXIF and alpha).
    An upload that gradio's own check (PIL) cannot open fails with the project's one-line
    message instead of a bare "Error" (wrapped on the instance: a gr.Image subclass would
    make gradio write a .pyi stub beside this module)."""
    image = gr.Image(
        label="Photo", sources=["upload", "webcam"], type="filepath", image_mode=None, height=320, elem_id=elem_id
    )
    gradio_preprocess = image.preprocess

    def preprocess(payload):
        from talkinghead.io.image import read_image

        try:
            return gradio_preprocess(payload)
        except Exception:  # noqa: BLE001 - PIL cannot open it: let the project's reader say why, or read it
            try:
                read_image(payload.path)
            except UserError as e:
                uploads = {str(payload.path): payload.orig_name or "the photo"}
                raise gr.Error(h.user_message(str(e), uploads), print_exception=False) from None
            return payload.path

    image.preprocess = preprocess
    return image


def _region(name: str) -> str:
    return next(region for region, prefix in REGIONS.items() if name.startswith(prefix))


def build(workroot: Path) -> gr.Blocks:
    """The app; request outputs go to fresh folders under `workroot` (the caller removes it)."""
    with gr.Blocks(title="talkinghead", analytics_enabled=False, delete_cache=(600, int(h.KEEP_S))) as app:
        gr.Markdown(
            "# talkinghead\nA still portrait + speech -> a lip-synced talking video. Everything runs on this machine."
        )
        with gr.Tabs():
            with gr.Tab("Render", id="render"):
                _render_tab(workroot)
            with gr.Tab("Reenact", id="reenact"):
                _reenact_tab(workroot)
            with gr.Tab("Edit", id="edit"):
                _edit_tab(workroot)
            with gr.Tab("Live", id="live"):
                _live_tab()
            with gr.Tab("Track", id="track"):
                _track_tab(workroot)
    return app


DEFAULTS = h.RenderControls()  # the CLI's defaults (its dataclasses')


def _expression_controls(tab: str) -> tuple:
    """Expressiveness, emotion and its strength, the `--au` box (Render and Reenact)."""
    with gr.Row():
        expressiveness = gr.Slider(
            0, 2, value=DEFAULTS.expressiveness, step=0.05, label="Expressiveness", elem_id=f"{tab}-expressiveness"
        )
        emotion = gr.Dropdown(list(EMOTIONS), value=DEFAULTS.emotion, label="Emotion", elem_id=f"{tab}-emotion")
        strength = gr.Slider(
            0, 1, value=DEFAULTS.strength, step=0.05, label="Emotion strength", elem_id=f"{tab}-strength"
        )
    au = gr.Textbox(
        value=DEFAULTS.aus,
        label="AU values",
        elem_id=f"{tab}-aus",
        placeholder="jawOpen=0.6,mouthSmileLeft=0.8 (fixed for the whole video, as --au)",
    )
    return expressiveness, emotion, strength, au


def _head_motion(tab: str, info: str) -> gr.Slider:
    """The `--head-motion` slider (Render, Reenact, Live)."""
    return gr.Slider(
        0,
        MAX_HEAD_MOTION,
        value=DEFAULTS.head_motion,
        step=0.1,
        label="Head motion",
        info=info,
        elem_id=f"{tab}-head-motion",
    )


def _video_results(prefix: str):
    """The result column of a tab that makes a video: the video, its AU plot and AU CSV."""
    with gr.Column():
        video = gr.Video(label="Video", buttons=["download"], elem_id=f"{prefix}-video")
        plot = gr.Image(label="AU series", type="filepath", interactive=False, elem_id=f"{prefix}-plot")
        csv = gr.File(label="AU CSV", elem_id=f"{prefix}-csv")
    return video, plot, csv


def _make_video_on_click(go: gr.Button, handler: Callable, inputs: list, outputs: tuple) -> None:
    """A video tab's button: `handler` (its API name is its own) makes the video and the AU
    CSV, one render at a time across tabs; then the AU plot is drawn from the CSV."""
    video, aus, plot, csv = outputs
    go.click(
        handler, inputs, [video, aus], api_name=handler.__name__, concurrency_limit=1, concurrency_id="render"
    ).success(lambda path: (str(h.plot_aus(path)), path), aus, [plot, csv], api_visibility="private")


def _output_controls(tab: str) -> tuple:
    """Output height and face index, then the renderer (Render and Reenact)."""
    with gr.Row():
        size = gr.Number(
            value=DEFAULTS.size,
            precision=0,
            minimum=0,
            label="Size (px; 0: not given)",
            info=h.SIZE_INFO,
            placeholder="the photo's",
            elem_id=f"{tab}-size",
        )
        face_index = gr.Number(
            value=DEFAULTS.face_index,
            precision=0,
            minimum=0,
            label="Face index",
            info="which face when the photo has several (0 = the largest, the default)",
            placeholder="0",
            elem_id=f"{tab}-face",
        )
    renderer = gr.Radio(
        list(renderer_names()),
        value=DEFAULTS.renderer,
        label="Renderer",
        info=h.renderer_info(),
        elem_id=f"{tab}-renderer",
    )
    return size, face_index, renderer


def _render_tab(workroot: Path) -> None:
    with gr.Row():
        with gr.Column():
            photo = photo_input("render-photo")
            speech = gr.Audio(
                label="Speech", sources=["upload", "microphone"], type="filepath", elem_id="render-speech"
            )
            expressiveness, emotion, strength, au = _expression_controls("render")
            with gr.Row():
                neutral = gr.Checkbox(
                    value=DEFAULTS.neutral,
                    label="Neutral face",
                    elem_id="render-neutral",
                    info="AUs not driven or set start from 0, not from the photo's own",
                )
                blinks = gr.Checkbox(value=DEFAULTS.blinks, label="Blinks", elem_id="render-blinks")
                idle = gr.Checkbox(
                    value=DEFAULTS.idle, label="Idle motion", elem_id="render-idle", info="a slow drift of the brows"
                )
            with gr.Row():
                seed = gr.Number(
                    value=DEFAULTS.seed,
                    precision=0,
                    label="Seed",
                    elem_id="render-seed",
                    info="of the blinks, the idle and the head motion",
                )
                fps = gr.Slider(10, 60, value=h.SPEECH_FPS, step=1, label="fps", elem_id="render-fps")
            head_motion = _head_motion("render", "head turns with the speech: 0 = a still head, 1 = natural")
            size, face_index, renderer = _output_controls("render")
            go = gr.Button("Render", variant="primary", elem_id="render-button")
        video, plot, csv = _video_results("render")
    aus = gr.State()
    d = DEFAULTS

    @user_errors
    def render(
        photo,
        speech,
        expressiveness=d.expressiveness,
        emotion=d.emotion,
        strength=d.strength,
        blinks=d.blinks,
        fps=h.SPEECH_FPS,
        renderer=d.renderer,
        neutral=d.neutral,
        au=d.aus,
        seed=d.seed,
        idle=d.idle,
        size=d.size,
        face_index=d.face_index,
        head_motion=d.head_motion,
        progress=PROGRESS,
    ):
        seed = given(seed)
        controls = h.RenderControls(
            expressiveness,
            emotion,
            strength,
            bool(blinks),
            float(fps),
            renderer,
            bool(neutral),
            au or "",
            d.seed if seed is None else seed,
            bool(idle),
            given(size, empty=(None, "", 0)),
            given(face_index),
            float(head_motion),
        )
        workdir = h.new_workdir(workroot)
        progress(0, desc="loading the models, the speech and the photo")
        return tuple(
            map(str, h.make_video("render", photo, speech, controls, workdir, frame_progress(progress, "rendering")))
        )

    # new controls go last: API clients pass the old ones by position
    controls = [
        expressiveness,
        emotion,
        strength,
        blinks,
        fps,
        renderer,
        neutral,
        au,
        seed,
        idle,
        size,
        face_index,
        head_motion,
    ]
    _make_video_on_click(go, render, [photo, speech, *controls], (video, aus, plot, csv))


def _reenact_tab(workroot: Path) -> None:
    gr.Markdown(
        "The photo makes the faces of the person in a driving video (tracked frame by frame), with the "
        "video's sound. Blinks and brow motion come from the driver."
    )
    with gr.Row():
        with gr.Column():
            photo = photo_input("reenact-photo")
            driver = gr.Video(label="Driving video (a face)", sources=["upload", "webcam"], elem_id="reenact-driver")
            expressiveness, emotion, strength, au = _expression_controls("reenact")
            fps = gr.Number(
                value=DEFAULTS.fps,
                minimum=0,
                maximum=120,
                label="fps",
                info="empty or 0: the driving video's own rate",
                placeholder="the driver's",
                elem_id="reenact-fps",
            )
            head_motion = _head_motion("reenact", "the driver's head turns, scaled: 0 = a still head, 1 = as driven")
            size, face_index, renderer = _output_controls("reenact")
            go = gr.Button("Reenact", variant="primary", elem_id="reenact-button")
        video, plot, csv = _video_results("reenact")
    aus = gr.State()
    d = DEFAULTS

    @user_errors
    def reenact(
        photo,
        video,
        expressiveness=d.expressiveness,
        emotion=d.emotion,
        strength=d.strength,
        fps=d.fps,
        renderer=d.renderer,
        au=d.aus,
        size=d.size,
        face_index=d.face_index,
        head_motion=d.head_motion,
        progress=PROGRESS,
    ):
        controls = h.RenderControls(
            expressiveness,
            emotion,
            strength,
            fps=given(fps, float, (None, "", 0)),
            renderer=renderer,
            aus=au or "",
            size=given(size, empty=(None, "", 0)),
            face_index=given(face_index),
            head_motion=float(head_motion),
        )
        workdir = h.new_workdir(workroot)
        progress(0, desc="loading the models and the photo")
        return tuple(
            map(str, h.make_video("reenact", photo, video, controls, workdir, frame_progress(progress, "rendering")))
        )

    controls = [expressiveness, emotion, strength, fps, renderer, au, size, face_index, head_motion]  # new ones last
    _make_video_on_click(go, reenact, [photo, driver, *controls], (video, aus, plot, csv))


def _edit_tab(workroot: Path) -> None:
    setup = gr.State()
    with gr.Row():
        with gr.Column():
            photo = photo_input("edit-photo")
            preset = gr.Radio(
                list(h.PRESETS),
                value="photo",
                label="Preset",
                elem_id="edit-preset",
                info="photo: its own AUs; neutral face: all 0; an emotion: added to the photo's",
            )
            text = gr.Textbox(
                label="AU values",
                placeholder="jawOpen=0.6,mouthSmileLeft=0.8 (Enter applies; the rest keep the photo's values)",
                elem_id="edit-aus",
            )
        result = gr.Image(
            label="Edited", type="filepath", interactive=False, height=h.PREVIEW_HEIGHT, elem_id="edit-result"
        )
    sliders = []
    with gr.Row():
        for region in REGIONS:
            with gr.Column(min_width=160), gr.Accordion(region):
                sliders += [
                    gr.Slider(0, 1, value=0, step=h.SLIDER_STEP, label=name, elem_id=f"au-{name}")
                    for name in AU_NAMES
                    if _region(name) == region
                ]
    sliders.sort(key=lambda s: AU_NAMES.index(s.label))

    def slider_outputs(s: h.EditSetup, aus: np.ndarray) -> tuple:
        """The --au text, then every slider (at its step: `slider_aus` maps them back)."""
        return h.changed_text(s, aus), *(round(float(v), 2) for v in aus)

    def shown(s: h.EditSetup, aus: np.ndarray) -> tuple:
        """Outputs: setup, the image, the --au text, then every slider."""
        return s, str(s.render(aus)), *slider_outputs(s, aus)

    @user_errors
    def load(photo, s):
        if photo is None:
            return None, None, "", *(0.0 for _ in sliders)
        s = h.edit_setup(photo, s, workroot)
        return shown(s, s.portrait.aus)

    def loaded(s: h.EditSetup | None) -> h.EditSetup:
        if s is None:
            raise gr.Error("give a photo first", print_exception=False)
        return s

    @user_errors
    def move(s, *values):
        """While a slider moves: a quick preview."""
        s = loaded(s)
        return str(s.render(h.slider_aus(s, values), preview=True)), h.changed_text(s, values)

    @user_errors
    def release(s, *values):
        """A slider let go: the lossless image."""
        return str(loaded(s).render(h.slider_aus(s, values)))

    @user_errors
    def apply_preset(s, name):
        return shown(loaded(s), h.preset_aus(s, name))

    @user_errors
    def edit(photo, aus, s=None):
        s = h.edit_setup(photo, s, workroot)
        return str(s.render(h.edit_with_text(s, aus))), s

    every = [setup, result, text, *sliders]
    fast = dict(show_progress="hidden", trigger_mode="always_last", queue=False, api_visibility="private")
    photo.change(load, [photo, setup], every, api_visibility="private")
    gr.on([s.input for s in sliders], move, [setup, *sliders], [result, text], **fast)
    gr.on(
        [s.release for s in sliders],
        release,
        [setup, *sliders],
        result,
        show_progress="hidden",
        trigger_mode="always_last",
        api_visibility="private",
    )
    preset.input(apply_preset, [setup, preset], every, **fast)
    text.submit(edit, [photo, text, setup], [result, setup], api_name="edit").success(
        lambda s, aus: slider_outputs(s, h.edit_with_text(s, aus)),
        [setup, text],
        [text, *sliders],
        api_visibility="private",
    )


def _live_tab() -> None:
    gr.Markdown(
        "Talk into the microphone: the portrait speaks with you, frame by frame, as your speech arrives "
        f"(sent in {1000 * LIVE_CHUNK_S:.0f} ms chunks). The line under the picture shows frames per second "
        "and the audio-to-frame latency."
    )
    session = gr.State()
    with gr.Row():
        with gr.Column():
            photo = photo_input("live-photo")
            mic = gr.Audio(label="Microphone", sources=["microphone"], streaming=True, type="numpy", elem_id="live-mic")
            head_motion = _head_motion("live", "0 = a still head, 1 = natural; applies from the next recording")
        with gr.Column():
            frame = gr.Image(label="Live portrait", format="jpeg", interactive=False, height=400, elem_id="live-frame")
            status = gr.Textbox(label="Live status", interactive=False, elem_id="live-status")

    @user_errors
    def prepare(photo, s):
        if photo is None:
            return None, None, ""
        s = s if s is not None and s.key == h.file_key(photo) else h.LiveSession(photo)
        return s, s.engine.photo, "ready: press Record and talk"

    @user_errors
    def restart(s, head_motion):
        """Recording starts: a new utterance with the slider's head motion, or the one
        message that a photo is missing (the chunks that follow are ignored quietly, not
        answered with one error each)."""
        if s is None:
            raise gr.Error(NO_LIVE_PHOTO, print_exception=False)
        s.restart(float(head_motion))
        return s

    @user_errors
    def step(chunk, s):
        if s is None:
            return gr.skip(), gr.skip(), gr.skip()
        image = s.push(*chunk) if chunk is not None else None
        return (gr.skip() if image is None else image), s.status(), s

    photo.change(prepare, [photo, session], [session, frame, status], api_visibility="private")
    mic.start_recording(restart, [session, head_motion], session, api_visibility="private")
    mic.stream(
        step,
        [mic, session],
        [frame, status, session],
        stream_every=LIVE_CHUNK_S,
        time_limit=LIVE_LIMIT_S,
        show_progress="hidden",
        concurrency_limit=None,
        api_visibility="private",
    )


def _track_tab(workroot: Path) -> None:
    with gr.Row():
        with gr.Column():
            video = gr.Video(label="Video with a face", sources=["upload"], elem_id="track-video")
            go = gr.Button("Track", variant="primary", elem_id="track-button")
        with gr.Column():
            plot = gr.Image(label="AU series", type="filepath", interactive=False, elem_id="track-plot")
            csv = gr.File(label="AU CSV", elem_id="track-csv")

    @user_errors
    def track(video, progress=PROGRESS):
        progress(0, desc="tracking the face in every frame")
        on_frames = frame_progress(progress, "tracking", "tracking the face in every frame")
        return str(h.track_csv(video, h.new_workdir(workroot), on_frames))

    go.click(track, video, csv, api_name="track", concurrency_limit=1, concurrency_id="render").success(
        lambda path: str(h.plot_aus(path)), csv, plot, api_visibility="private"
    )
