"""Sample-GAN Lab: the harness that imports audio, trains, tracks, diagnoses and reports."""

__version__ = "0.1.0"
