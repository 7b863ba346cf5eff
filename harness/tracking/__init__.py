"""MLflow: the store, a run's logged model, the run page and its figures.

May import: `harness.common`, `harness.data`, `harness.evaluation`, `harness.training`,
`models`.
"""
