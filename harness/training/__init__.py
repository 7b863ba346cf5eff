"""Training a Sample-GAN: the events a trainer reports, a run's schedule, the trainer, generation,
speed benchmarks.

May import: `harness.common`, `harness.data`, `harness.evaluation`, `models`.
"""
