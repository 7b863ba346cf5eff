"""`samplegan ui`: the MLflow UI and the Optuna dashboard as child servers on 127.0.0.1.

May import: `harness.common`, `harness.tracking`, `harness.study` (and what they may).
"""
