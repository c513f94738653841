"""Reading and writing media files (images, video frames, audio tracks) with clear errors."""
