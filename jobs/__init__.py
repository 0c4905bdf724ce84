"""govlake: a lakehouse for a government data bureau.

Subpackages, by what they do:
  settings, spark   where things are, the one clock, and how Spark starts
  frames            DataFrame helpers shared by the transforms
  arrow_memory      which allocator holds the process's Arrow buffers (jemalloc for ingestion)
  yamlconf          the one strict reader of the YAML configuration in ``schemas/``
  secrets           keys kept apart from the lake (share tokens, audit chain)
  store             the workflow store: accounts, roles, tokens, grants (SQLAlchemy, Alembic)
  lake              the edge: table paths, the Spark → Delta bridge, table maintenance
  catalog           the resource catalog, data elements, code tables (from ``schemas/``)
  policy            policy profiles and the official working-day calendar
  synth             the synthetic city (landing files + ground-truth manifest)
  ingest            landing → bronze → department pool, quarantine, row accounting
  standardize       pure Column transforms: keys, codes, dates, names
  quality           Great Expectations suites, the quality gate, scorecards, rectification
  integrate         base databases, survivorship, conflicts and anomalies
  govern            verification tickets (校核) and their deadlines
  share             grants, masking, curated share tables, exports, open data
  audit             the hash-chained audit log of every write, read and export
  backup            backups, restore and the destruction procedure
  reports           static HTML reports: quality, verification, yearly evaluation
  orchestrate       Airflow: DAGs built from the catalog, the embedded Airflow, self-check
  service           the department service: ``govlake serve``, its API, pages and reads
  cli, demo         the ``govlake`` command and ``govlake demo``
"""

__version__ = "0.1.0"
