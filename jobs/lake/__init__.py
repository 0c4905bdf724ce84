"""The storage edge of the lake: table locations, the Delta bridge, reads and writes.

Transforms never call ``spark.read`` or ``.write``: they go through :mod:`jobs.lake.tables`
(Spark) or :mod:`jobs.lake.ledger` (small tables, delta-rs). Every table is declared once in
:mod:`jobs.lake.registry` (location, grain, writer, keys; ``govlake tables`` lists them), laid
out by :mod:`jobs.lake.paths`; :mod:`jobs.lake.files` is the file API (list, copy, remove)
that backups and the share refresh use.
"""
