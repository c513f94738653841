"""audio2au: speech -> per-video-frame AU series. Knows waveforms and AU series, not images."""
