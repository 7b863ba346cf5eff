"""Audio in: decoding, the dataset format, importing recordings, duplicates, the built-in corpus.

May import: `harness.common`.
"""
