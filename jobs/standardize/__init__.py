"""Standardise: bring each department's values to one standard (keys, codes, dates).

``keys`` normalises and validates the national keys (citizen ID, USCC, parcel code, real-estate
unit number) as Spark Column expressions; ``regions`` is the GB/T 2260 region-code reference
they share; ``commands`` adds ``govlake keys check``.
"""
