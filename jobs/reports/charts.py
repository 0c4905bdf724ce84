"""Inline SVG charts for the static reports: no JavaScript, no CDN, nothing fetched.

Each function takes plain numbers and labels and returns an SVG element as ``Markup`` (labels
are escaped here, so a department name can never inject markup). Shapes carry classes that the
page's stylesheet colours and that tests count: ``rect.bar`` (one per drawn value),
``rect.segment`` (stacked parts), ``polyline.trend`` with ``circle.point``, ``rect.span`` and
``line.today`` on timelines. Every shape has a ``<title>`` so hovering shows the exact number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

LABEL_WIDTH = 190  # px for the category labels left of horizontal bars (Chinese + English)
BAR_HEIGHT = 18
ROW_GAP = 8
PLOT_WIDTH = 360
VALUE_WIDTH = 70
LEGEND_ROW = 16


def percent(value: float | None) -> str:
    """0.9234 → ``92.3%``; None → ``—`` (not measured, which is not 0%)."""
    return "—" if value is None else f"{value * 100:.1f}%"


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">' + "".join(body) + "</svg>"
    )


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    max_value: float = 1.0,
    fmt: Callable[[float | None], str] = percent,
    classes: Sequence[str] | None = None,
) -> Markup:
    """Horizontal bars, one per label; a None value draws no bar and says ``—`` (no data).

    Args:
        classes: an extra CSS class per bar (e.g. ``low`` for a score below the threshold).
    """
    height = len(labels) * (BAR_HEIGHT + ROW_GAP) + ROW_GAP
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = ROW_GAP + i * (BAR_HEIGHT + ROW_GAP)
        text_y = y + BAR_HEIGHT - 4
        body.append(
            f'<text class="label" x="{LABEL_WIDTH - 6}" y="{text_y}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        body.append(
            f'<rect class="track" x="{LABEL_WIDTH}" y="{y}" width="{PLOT_WIDTH}" '
            f'height="{BAR_HEIGHT}"/>'
        )
        if value is not None:
            share = 0.0 if max_value <= 0 else min(max(value / max_value, 0.0), 1.0)
            extra = f" {classes[i]}" if classes and classes[i] else ""
            body.append(
                f'<rect class="bar{extra}" x="{LABEL_WIDTH}" y="{y}" '
                f'width="{share * PLOT_WIDTH:.1f}" height="{BAR_HEIGHT}" '
                f'data-label="{escape(label)}" data-value="{value}">'
                f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
            )
        body.append(
            f'<text class="value" x="{LABEL_WIDTH + PLOT_WIDTH + 6}" y="{text_y}">'
            f"{escape(fmt(value))}</text>"
        )
    return _svg(width, height, title, body)


@dataclass(frozen=True)
class Segment:
    """One part of a stacked bar: a count of something (``css`` names its colour)."""

    name: str
    value: int
    css: str


def stacked_bar_chart(rows: Sequence[tuple[str, Sequence[Segment]]], *, title: str) -> Markup:
    """Horizontal stacked bars on one shared scale (the largest row fills the width); the
    row's total is written at its end so the parts visibly add up to it."""
    largest = max((sum(s.value for s in segments) for _, segments in rows), default=0)
    height = len(rows) * (BAR_HEIGHT + ROW_GAP) + ROW_GAP
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    body = []
    for i, (label, segments) in enumerate(rows):
        y = ROW_GAP + i * (BAR_HEIGHT + ROW_GAP)
        text_y = y + BAR_HEIGHT - 4
        body.append(
            f'<text class="label" x="{LABEL_WIDTH - 6}" y="{text_y}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        x = float(LABEL_WIDTH)
        for segment in segments:
            if segment.value <= 0 or largest == 0:
                continue
            w = segment.value / largest * PLOT_WIDTH
            body.append(
                f'<rect class="segment {escape(segment.css)}" x="{x:.1f}" y="{y}" '
                f'width="{w:.1f}" height="{BAR_HEIGHT}" data-value="{segment.value}">'
                f"<title>{escape(label)} · {escape(segment.name)}: {segment.value}</title></rect>"
            )
            x += w
        total = sum(s.value for s in segments)
        body.append(f'<text class="value" x="{x + 6:.1f}" y="{text_y}">{total}</text>')
    return _svg(width, height, title, body)


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    title: str,
    max_value: float = 1.0,
    min_value: float = 0.0,
) -> Markup:
    """Trend lines over ordered points (batches), y from ``min_value`` to ``max_value``.

    Args:
        series: (name, css class, values aligned with ``x_labels``); a None value breaks the
            line, because a dimension that was not measured has no score to join.
    """
    legend_rows = (len(series) + 2) // 3
    left, right, top, bottom = 48, 16, 12, 28 + LEGEND_ROW * legend_rows
    width = max(500, left + right + 56 * max(len(x_labels) - 1, 1))
    height = 160 + bottom
    plot_w, plot_h = width - left - right, height - top - bottom
    span = (max_value - min_value) or 1.0

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * i / (len(x_labels) - 1) if len(x_labels) > 1 else plot_w / 2)
        y = top + plot_h * (1 - (v - min_value) / span)
        return x, y

    body = []
    for tick in range(5):
        v = min_value + span * tick / 4
        _, y = xy(0, v)
        body.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        body.append(
            f'<text class="axis" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{v * 100:g}%</text>"
        )
    for i, label in enumerate(x_labels):
        x, _ = xy(i, min_value)
        body.append(
            f'<text class="axis" x="{x:.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for name, css, values in series:
        runs: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                runs.append([])
                continue
            runs[-1].append(xy(i, min(max(v, min_value), max_value)))
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                body.append(
                    f'<polyline class="trend {escape(css)}" points="{points}">'
                    f"<title>{escape(name)}</title></polyline>"
                )
        for i, v in enumerate(values):
            if v is not None:
                x, y = xy(i, min(max(v, min_value), max_value))
                body.append(
                    f'<circle class="point {escape(css)}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                    f"<title>{escape(name)} {escape(x_labels[i])}: {percent(v)}</title></circle>"
                )
    # Legend below the axis, three entries a row, so long bilingual names never run off.
    for n, (name, css, _) in enumerate(series):
        x = left + (n % 3) * 150
        y = height - LEGEND_ROW * (legend_rows - n // 3) + 2
        body.append(f'<rect class="legend {escape(css)}" x="{x}" y="{y}" width="10" height="10"/>')
        body.append(f'<text class="axis" x="{x + 14}" y="{y + 9}">{escape(name)}</text>')
    return _svg(width, height, title, body)


@dataclass(frozen=True)
class Span:
    """One ticket on a deadline timeline: from when it was opened to its deadline."""

    label: str
    start: dt.date
    end: dt.date
    css: str  # due | overdue | extended …
    note: str = ""


def timeline(spans: Sequence[Span], *, today: dt.date, title: str) -> Markup:
    """A Gantt-like chart: a bar per ticket from opened to deadline and a line at today, so a
    bar that ends left of the line is late."""
    if not spans:
        return Markup("")
    first = min(min(s.start for s in spans), today)
    last = max(max(s.end for s in spans), today)
    days = max((last - first).days, 1)
    top, row = 24, BAR_HEIGHT + 6
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH + 40
    height = top + len(spans) * row + 8

    def x_of(day: dt.date) -> float:
        return LABEL_WIDTH + PLOT_WIDTH * (day - first).days / days

    body = [
        f'<text class="axis" x="{LABEL_WIDTH}" y="14">{first.isoformat()}</text>',
        f'<text class="axis" x="{LABEL_WIDTH + PLOT_WIDTH}" y="14" text-anchor="end">'
        f"{last.isoformat()}</text>",
    ]
    for i, span in enumerate(spans):
        y = top + i * row
        body.append(
            f'<text class="label" x="{LABEL_WIDTH - 6}" y="{y + BAR_HEIGHT - 4}" '
            f'text-anchor="end">{escape(span.label)}</text>'
        )
        x0, x1 = x_of(span.start), x_of(span.end)
        body.append(
            f'<rect class="span {escape(span.css)}" x="{x0:.1f}" y="{y}" '
            f'width="{max(x1 - x0, 2):.1f}" height="{BAR_HEIGHT}">'
            f"<title>{escape(span.label)}: {span.start} → {span.end} {escape(span.note)}</title>"
            "</rect>"
        )
        body.append(
            f'<text class="value" x="{LABEL_WIDTH + PLOT_WIDTH + 6}" y="{y + BAR_HEIGHT - 4}">'
            f"{span.end.isoformat()}</text>"
        )
    tx = x_of(today)
    body.append(
        f'<line class="today" x1="{tx:.1f}" x2="{tx:.1f}" y1="18" y2="{height - 4}">'
        f"<title>today {today.isoformat()}</title></line>"
    )
    body.append(f'<text class="today-label" x="{tx + 3:.1f}" y="{height - 2}">今日 today</text>')
    return _svg(width, height, title, body)
