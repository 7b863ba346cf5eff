"""Audio in: decoding, the dataset format, importing recordings, duplicates, the built-in corpus,
the real audio a run's evaluations draw.

May import: `harness.common`.
"""
