"""How good is generated audio: collapse diagnostics, quality and its floors, music structure, training dynamics, likelihood.

Pure functions over arrays (and `samplegan diagnose` over audio files); the trainer
calls them at every evaluation. May import: `harness.common`, `harness.data`, `models`.
"""
