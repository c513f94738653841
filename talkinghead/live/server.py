"""`--serve HOST:PORT`: a small local web page that shows the live frames, for headless
machines and browsers. Standard library only.

    /            the page: an <img> that long-polls /frame.jpg and shows fps and latency
    /frame.jpg   the newest frame as JPEG; ?after=N waits (up to 1 s) for a frame newer than N
    /stream.mjpg the frames as an MJPEG stream (VLC, ffplay, <img src=...>)

Frames are JPEG-encoded once, in the session's thread; request threads only copy bytes.
"""

from __future__ import annotations

import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np

from talkinghead.errors import UserError

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>talkinghead live</title>
<style>body{margin:0;background:#111;color:#ccc;font:15px sans-serif;text-align:center}
img{display:block;margin:12px auto;height:min(86vh,720px);max-width:96vw;object-fit:contain}</style></head>
<body><img id="frame" src="/frame.jpg" alt="live portrait"><div id="stats">connecting...</div>
<script>
const img = document.getElementById("frame"), stats = document.getElementById("stats");
let seq = 0;
async function next() {
  try {
    const r = await fetch("/frame.jpg?after=" + seq, {cache: "no-store"});
    if (!r.ok) throw new Error(r.status);
    seq = Number(r.headers.get("X-Frame"));
    const url = URL.createObjectURL(await r.blob());
    await new Promise(done => { img.onload = img.onerror = done; img.src = url; });
    URL.revokeObjectURL(url);
    if (seq > 0) stats.textContent = r.headers.get("X-Stats");
    setTimeout(next, 0);
  } catch (e) {
    stats.textContent = "disconnected: the live session ended";
    setTimeout(next, 1000);
  }
}
next();
</script></body></html>
"""


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise UserError(f"--serve wants HOST:PORT, e.g. 127.0.0.1:8000; got {text!r}")
    return host or "127.0.0.1", int(port)


class FrameServer:
    """Serves the newest frame; `publish` replaces it, `close` stops the server."""

    def __init__(self, address: str, first_frame: np.ndarray) -> None:
        host, port = parse_address(address)
        self._cond = threading.Condition()
        self._jpeg, self._seq, self._stats = b"", 0, ""
        self._closing = False
        self.publish(first_frame, "")
        self._seq = 0  # the still photo is frame 0: the page shows it until speech arrives
        try:
            self._httpd = ThreadingHTTPServer((host, port), self._handler())
        except OSError as e:
            raise UserError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="frame-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def publish(self, frame: np.ndarray, stats: str) -> None:
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        with self._cond:
            self._jpeg, self._stats = jpeg.tobytes(), stats
            self._seq += 1
            self._cond.notify_all()

    def _wait_newer(self, after: int, timeout: float) -> tuple[bytes, int, str]:
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self._closing, timeout)
            return self._jpeg, self._seq, self._stats

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # no line per request on the console
                pass

            def _send(self, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                try:
                    if url.path == "/":
                        self._send(PAGE.encode(), "text/html; charset=utf-8")
                    elif url.path == "/frame.jpg":
                        after = parse_qs(url.query).get("after", ["-1"])[0]
                        jpeg, seq, stats = server._wait_newer(int(after) if after.lstrip("-").isdigit() else -1, 1.0)
                        self._send(jpeg, "image/jpeg", {"X-Frame": str(seq), "X-Stats": stats})
                    elif url.path == "/stream.mjpg":
                        self._mjpeg()
                    else:
                        self.send_error(HTTPStatus.NOT_FOUND)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the browser went away

            def _mjpeg(self) -> None:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                seq = -1
                while not server._closing:
                    jpeg, seq, _ = server._wait_newer(seq, 1.0)
                    self.wfile.write(
                        b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                        + str(len(jpeg)).encode()
                        + b"\r\n\r\n"
                        + jpeg
                        + b"\r\n"
                    )

        return Handler
