"""What a command does to a run: train (and resume) it, generate audio from it, evaluate it again.

One module per command, named after it: `train` (also every study trial), `generate`,
`evaluate`.

May import: `harness.common`, `harness.data`, `harness.evaluation`, `harness.training`,
`harness.tracking`, `models`.
"""
