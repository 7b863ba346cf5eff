"""Optuna studies of Sample-GAN variants: specs, plan, storage, queue, workers, launcher, status.

May import: `harness.common`, `harness.data`, `harness.evaluation`, `harness.training`,
`harness.tracking`, `harness.runs`, `models`.
"""
