"""Training a Sample-GAN: the events a trainer reports, the trainer, generation, speed benchmarks.

May import: `harness.common`, `harness.data`, `harness.evaluation`, `models`.
"""
