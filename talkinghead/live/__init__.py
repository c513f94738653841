"""Live mode: microphone in, the portrait talking in a window or a web page, in real time."""

from talkinghead.live.session import LiveOptions, LiveResult, run_live

__all__ = ["LiveOptions", "LiveResult", "run_live"]
