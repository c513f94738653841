"""audio2au: speech -> per-video-frame AU series. Knows waveforms and AU series, not images.

Offline (render):   model = load_audio2au(path); aus = predict_aus(model, load_audio(wav_path), fps)
Streaming (live):   stream = AUStream(model, fps); frames = stream.push(chunk); ...; stream.flush()
Before driving GATH: model.check_au_names(gath_au_names) (a clear ValueError on mismatch).
"""

from audio2au.checkpoint import CheckpointError, load_audio2au
from audio2au.features import SAMPLE_RATE, AudioError, FeatureConfig, load_audio
from audio2au.model import Audio2AU
from audio2au.predict import predict_aus
from audio2au.stream import AUStream

__all__ = [
    "SAMPLE_RATE",
    "AUStream",
    "Audio2AU",
    "AudioError",
    "CheckpointError",
    "FeatureConfig",
    "load_audio",
    "load_audio2au",
    "predict_aus",
]
