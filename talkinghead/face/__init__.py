"""The face front-end: dense 3D landmarks, alignment to the model's crop and back, AU tracking.

from talkinghead.face import detect_and_align, Paster, AUTracker, track_video
"""

from talkinghead.face.align import AlignedFace, Paster, align_face, detect_and_align, paste_back
from talkinghead.face.au_tracker import AUTracker, track_video
from talkinghead.face.landmarks import LandmarkDetector

__all__ = [
    "AUTracker",
    "AlignedFace",
    "LandmarkDetector",
    "Paster",
    "align_face",
    "detect_and_align",
    "paste_back",
    "track_video",
]
