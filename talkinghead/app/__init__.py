"""`talkinghead app`: the browser app (Gradio) for render, reenact, edit, live and track.

It works offline: the variables below are set before gradio (and huggingface_hub, which
it imports) is first imported, so neither sends analytics, checks for new versions or
calls the Hub; the theme uses system fonts, and the page loads nothing from outside the
server (tests/test_app.py checks both).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from talkinghead.errors import UserError

OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",  # no usage reports, no version check
    "HF_HUB_OFFLINE": "1",  # huggingface_hub never goes to the network
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_SSR_MODE": "False",  # no Node server-side rendering
}
os.environ.update(OFFLINE_ENV)

MAX_UPLOAD = "300mb"  # gradio refuses larger uploads before they reach a handler


def serve(host: str = "127.0.0.1", port: int = 7860) -> None:
    """Run the app until Ctrl+C or SIGTERM. Uploads, outputs and gradio's cache live in one
    temp folder that is removed when the app stops."""
    root = Path(tempfile.mkdtemp(prefix="talkinghead-app-"))
    # gradio's uploads and the copies it serves (read when gradio is imported). Outputs are
    # written beside it, in jobs/: gradio serves a copy named by its content, so a new edit
    # of the same photo gets a new URL and the page shows it.
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop like Ctrl+C, so the folder goes
    try:
        from talkinghead.app.ui import THEME, build

        app = build(root / "jobs")
        (root / "jobs").mkdir()
        app.queue(default_concurrency_limit=1)
        try:
            app.launch(
                server_name=host,
                server_port=port,
                theme=THEME,
                ssr_mode=False,
                max_file_size=MAX_UPLOAD,
                footer_links=["api"],
                show_error=False,
            )
        except OSError as e:
            reason = str(e).split(". ")[0]  # gradio goes on about its own parameters
            raise UserError(f"cannot serve on {host}:{port}: {reason} (choose another with --port)") from None
    finally:
        shutil.rmtree(root, ignore_errors=True)
