"""The ablation report of a study: read the stores, statistics, sections, media, the document.

May import: `harness.common`, `harness.data`, `harness.evaluation`, `harness.training`,
`harness.tracking`, `harness.runs`, `harness.study`, `models`.
"""
