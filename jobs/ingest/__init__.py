"""Landing → bronze → department pool (部门政务数据资源池), with quarantine and row accounting.

Modules:
  landing     find delivered batches and files, refuse paths that leave the landing folder
  readers     read one delivered file (CSV in any Chinese encoding, JSON lines, XLSX, GeoJSON)
              into raw strings, or say why it cannot be read
  bronze      raw rows + lineage, append-only
  pool        bronze → typed, standardised, keyed pool rows and quarantined rows (pure transforms)
  accounting  file rows = bronze rows = pool + quarantine + duplicates (+ held), checked per batch
  pipeline    the entry points the DAGs call
"""
