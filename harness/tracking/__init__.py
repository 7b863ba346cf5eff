"""MLflow: the store, the tracked training run, the run page and its figures.

May import: `harness.common`, `harness.data`, `harness.evaluation`, `harness.training`,
`models`.
"""
