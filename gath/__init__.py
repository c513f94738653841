"""GATH: Generative Adversarial Talking Head (Pham, Wang & Pavlovic).

Knows tensors, not files of video or audio: models, losses, datasets over the prepared
format, the training loops and checkpoints.
"""
