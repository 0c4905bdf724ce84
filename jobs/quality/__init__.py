"""Data quality (数据质量) of the department pools, checked with Great Expectations.

One suite per pool table lives in `expectations/<dept>.<resource>.json`, generated from the
catalog by :mod:`jobs.quality.suites` and merged with the hand-written cross-field
expectations of `expectations/cross_field.yaml`. :mod:`jobs.quality.pipeline` validates each
new pool batch: every row-level expectation is computed in one Spark pass
(:mod:`jobs.quality.metrics`), Great Expectations validates the same cached DataFrame for the
reports and a cross-check (:mod:`jobs.quality.validate`), and the outcome lands in governance
tables: results, every failing row, the batch gate (:mod:`jobs.quality.gates`), scorecards and
rectification tasks (整改, :mod:`jobs.quality.rectification`). Data Docs are rebuilt under the
reports root (:mod:`jobs.quality.docs`).
"""

from __future__ import annotations
