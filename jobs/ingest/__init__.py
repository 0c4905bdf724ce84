"""Landing → bronze → department pool (部门政务数据资源池), with quarantine and row accounting.

Modules:
  landing     find delivered batches and files, refuse paths that leave the landing folder
  readers     read one delivered file (CSV in any Chinese encoding, JSON lines, XLSX, GeoJSON)
              into raw strings, or say why it cannot be read
  bronze      raw rows + lineage, append-only
  pool        bronze → typed, standardised, keyed pool rows and quarantined rows (pure transforms)
  accounting  file rows = bronze rows = pool + quarantine + duplicates (+ held), checked per batch
  promote     bronze → pool: which batches to promote or hold, and on which runner; outcomes
  promote_arrow  the in-process runner: Arrow end to end through delta-rs, no Spark
  promote_spark  the Spark runner (large promotions, a cluster): the same rules in mapInArrow
  context     what every step of one resource works with (settings, catalog, tables, lock)
  pipeline    the entry points the DAGs call
"""
