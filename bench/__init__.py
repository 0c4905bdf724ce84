"""Benchmarks: ``python -m bench`` (``make bench``) runs them and prints their figures.

Each benchmark is a module with ``run(args) -> list[dict]``: one dict of figures per measured
case. ``bench/__main__.py`` lists them, prints one table per benchmark and writes everything to
``<reports_root>/bench.json``.
"""
