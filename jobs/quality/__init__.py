"""Data quality (数据质量) of the department pools, checked with Great Expectations.

One suite per pool table lives in `expectations/<dept>.<resource>.json`, generated from the
catalog by :mod:`jobs.quality.suites` and merged with the hand-written cross-field
expectations of `expectations/cross_field.yaml`. :mod:`jobs.quality.pipeline` validates each
new pool batch with Great Expectations, which computes every expectation once
(:mod:`jobs.quality.validate`: its pandas engine, in the task's process, for a batch on the
Arrow path; its Spark engine for a large one). govlake reads its outcomes and every failing row
from GX's results (:mod:`jobs.quality.metrics`), and they land in governance tables: results,
every failing row, the batch gate (:mod:`jobs.quality.gates`), scorecards and rectification
tasks (整改, :mod:`jobs.quality.rectification`). Data Docs are rebuilt under the reports root
(:mod:`jobs.quality.docs`).
"""

from __future__ import annotations
