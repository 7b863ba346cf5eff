"""Optuna studies of Sample-GAN variants: specs, storage, queue, workers, launcher, status."""
