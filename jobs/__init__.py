"""govlake: a lakehouse for a government data bureau.

Subpackages, by what they do:
  settings, spark   where things are and how Spark starts
  lake              the edge: table paths, the Spark → Delta bridge, table maintenance
  catalog           the resource catalog, data elements, code tables (from ``schemas/``)
  policy            policy profiles and the official working-day calendar
  synth             the synthetic city (landing files + ground-truth manifest)
  ingest            landing → bronze → department pool, quarantine, row accounting
  standardize       pure Column transforms: keys, codes, dates, names
  quality           Great Expectations suites, gates, scorecards, rectification
  integrate         base databases, survivorship, conflicts
  govern            verification tickets, audit
  share             grants, masking, open data
"""

__version__ = "0.1.0"
