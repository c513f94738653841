"""Headless Chromium driven over the DevTools protocol (the `websockets` package), for
tests of pages served on this machine.

The browser reaches 127.0.0.1 only: every other host name resolves to nothing and
everything else goes to a dead proxy. Every request the page makes is recorded
(`requests`), so a test can check that nothing left the machine, not merely that it failed.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

OFFLINE_FLAGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
]
FAKE_MIC_FLAGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
# A quiet headless browser: no GPU, no first-run pages, no background fetches or updates.
HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless browser with one page. `call` sends a DevTools command and returns its
    result; events that arrive meanwhile are kept (requests, console errors)."""

    def __init__(self, profile: Path, flags: list[str] = (), size: tuple[int, int] = (1280, 900)) -> None:
        from websockets.sync.client import connect

        profile.mkdir(parents=True, exist_ok=True)
        port_file = profile / "DevToolsActivePort"
        port_file.unlink(missing_ok=True)  # a reused profile keeps the last run's port
        self.proc = subprocess.Popen(
            [
                chromium_path(),
                *HEADLESS_FLAGS,
                "--disable-default-apps",
                "--autoplay-policy=no-user-gesture-required",
                f"--user-data-dir={profile}",
                f"--window-size={size[0]},{size[1]}",
                "--remote-debugging-port=0",
                *OFFLINE_FLAGS,
                *flags,
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                if port_file.is_file() and port_file.read_text().strip():
                    break
                if self.proc.poll() is not None:
                    raise RuntimeError("chromium exited at start")
                time.sleep(0.1)
            port = int(port_file.read_text().split()[0])
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
            url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
            self._stack = contextlib.ExitStack()
            self.ws = self._stack.enter_context(connect(url, max_size=None, open_timeout=20))
        except BaseException:
            self.proc.kill()
            raise
        self._ids = itertools.count(1)
        self.requests: list[str] = []
        self.console: list[str] = []
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable")

    def _event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Runtime.exceptionThrown":
            self.console.append(params["exceptionDetails"].get("text", ""))

    def call(self, method: str, timeout: float = 60.0, **params) -> dict:
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self._event(message)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.1):
        """Poll until `expression` is truthy in the page; returns its value (true for an element)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(f"(v => v instanceof Node || v)({expression})")
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"waited {timeout:g} s for: {expression}")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def set_files(self, selector: str, *paths: Path) -> None:
        """Choose files in the <input type=file> that `selector` finds (as a user's file picker would)."""
        root = self.call("DOM.getDocument", depth=-1, pierce=True)["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        if not node:
            raise RuntimeError(f"no element {selector}")
        self.call("DOM.setFileInputFiles", nodeId=node, files=[str(p) for p in paths])

    def screenshot(self, path: Path, max_height: int = 1600) -> Path:
        """The page from its top, below the fold too, down to `max_height` CSS pixels."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
