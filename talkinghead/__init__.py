"""talkinghead: make a still portrait talk. Composes `gath` (images + AUs -> images) and
`audio2au` (audio -> AU series) with faces, files, video and audio devices."""

__version__ = "0.1.0"
