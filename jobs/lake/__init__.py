"""The storage edge of the lake: table locations, the Delta bridge, reads and writes.

Transforms never call ``spark.read`` or ``.write``: they go through :mod:`jobs.lake.tables`.
"""
