"""Static HTML reports for quality teams and the bureau: offline pages with inline SVG charts.

* :mod:`jobs.reports.sources` — the reads (governance tables through delta-rs, no Spark);
* :mod:`jobs.reports.quality`, :mod:`.verification`, :mod:`.evaluation` — pure view models;
* :mod:`jobs.reports.charts` — inline SVG (bars, stacked bars, trend lines, deadline timeline);
* :mod:`jobs.reports.render` — Jinja2 templates (autoescaped) under ``templates/``;
* :mod:`jobs.reports.build` — reads, builds, writes ``<reports_root>/reports/*.html``;
* :mod:`jobs.reports.commands` — ``govlake reports build``.
"""
