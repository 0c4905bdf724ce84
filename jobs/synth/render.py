"""How a department writes canonical values: its columns, code values and date formats.

Everything here comes from the catalog (``schemas/``): the column of a field is the first of its
``source_columns``; a coded field is written with the department value its ``code_map`` maps to
the standard code (the first one, and now and then another one that maps to the same code, as
real exports mix 存续 and 在业); ``code_map_by_name`` fields are written with the code table's
name (汉族) or, rarely, an alias (汉). Dates follow the resource's habit with a share of rows in
another of the four formats seen in the wild (2021-12-13, 20211213, 2021/12/13, 2021年12月13日).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from jobs.catalog import Catalog, Field, Resource
from jobs.synth.resources import DeptValue

#: Date formats, by style number.
DATE_STYLES = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y年%m月%d日")
ISO, COMPACT, SLASH, CHINESE = range(4)
#: Each resource's habitual date style and the share of rows written in another style.
RESOURCE_DATE_STYLES: dict[str, tuple[int, float]] = {
    "gaj.hukou": (COMPACT, 0.06),
    "gaj.driving_licence": (SLASH, 0.05),
    "wjw.birth_cert": (ISO, 0.05),
    "wjw.death_cert": (CHINESE, 0.10),
    "mzj.marriage": (CHINESE, 0.08),
    "mzj.social_org": (SLASH, 0.10),
    "rsj.insured": (COMPACT, 0.10),
    "jyj.student": (ISO, 0.05),
    "scjgj.enterprise": (ISO, 0.05),
    "scjgj.business_licence": (CHINESE, 0.05),
    "swj.taxpayer": (SLASH, 0.10),
    "zrzyj.real_estate": (ISO, 0.15),
}
#: Share of coded values written with an alternative department value for the same code.
ALTERNATE_CODE_SHARE = 0.05
_DATE_KINDS = ("date",)

Formatter = Callable[[Any, int, float], Any]


_DATE_CACHE: list[dict[int, str]] = [{} for _ in DATE_STYLES]


def format_date(ordinal: int, style: int) -> str:
    """A date ordinal in one of the four styles (cached: a county has few distinct dates)."""
    cache = _DATE_CACHE[style]
    text = cache.get(ordinal)
    if text is None:
        day = datetime.date.fromordinal(ordinal)
        y, m, d = day.year, day.month, day.day
        if style == ISO:
            text = f"{y:04d}-{m:02d}-{d:02d}"
        elif style == COMPACT:
            text = f"{y:04d}{m:02d}{d:02d}"
        elif style == SLASH:
            text = f"{y:04d}/{m:02d}/{d:02d}"
        else:
            text = f"{y}年{m:02d}月{d:02d}日"
        if len(cache) < 200_000:
            cache[ordinal] = text
    return text


class Shape:
    """The department's shape of one resource, built from its catalog entry.

    ``render(row, style, u)`` turns a canonical row into the list of values of the delivered
    row, in column order; ``style`` is the row's date style and ``u`` a uniform draw that picks
    alternative code values. Fields a builder does not produce are written empty and listed in
    :attr:`missing` so that the generator can report them.
    """

    def __init__(self, catalog: Catalog, resource: Resource) -> None:
        self.resource = resource
        self.fields: tuple[Field, ...] = resource.fields
        self.columns = [f.source_columns[0] for f in self.fields]
        self.names = [f.name for f in self.fields]
        self.position = {f.name: i for i, f in enumerate(self.fields)}
        self.habit = RESOURCE_DATE_STYLES.get(resource.id, (ISO, 0.10))
        self.unmapped: set[tuple[str, str]] = set()
        self.formatters = [self._formatter(catalog, f) for f in self.fields]
        self.geometry_column = next(
            (f.source_columns[0] for f in self.fields if f.data_element.kind == "geometry"), None
        )
        self.missing: set[str] = set()
        self.pairs = list(zip(self.names, self.formatters, strict=True))
        self._checked = False

    def formatter(self, name: str) -> Formatter:
        """The formatter of one field (to render a true value next to a damaged one)."""
        return self.formatters[self.position[name]]

    def _formatter(self, catalog: Catalog, field: Field) -> Formatter:
        kind = field.data_element.kind
        if kind in _DATE_KINDS:

            def date(value: Any, style: int, u: float) -> Any:
                if value is None or isinstance(value, str | DeptValue):
                    return None if value is None else str(value)
                text = _DATE_CACHE[style].get(value)
                return text if text is not None else format_date(value, style)

            return date
        if field.code_map:
            inverse: dict[str, list[str]] = {}
            for department_value, code in field.code_map.items():
                inverse.setdefault(str(code), []).append(str(department_value))
            return _coded(inverse, field, self.unmapped)
        if field.code_map_by_name and field.data_element.code_table:
            table = catalog.code_table(field.data_element.code_table)
            inverse = {entry.code: [entry.name, *entry.aliases] for entry in table.entries}
            return _coded(inverse, field, self.unmapped, share=0.03)
        return _as_is

    def row_style(self, u: float) -> int:
        """The date style of a row, from a uniform draw."""
        habit, share = self.habit
        if u >= share:
            return habit
        others = [s for s in range(len(DATE_STYLES)) if s != habit]
        return others[int(u / share * len(others)) % len(others)]

    def render(self, row: dict[str, Any], style: int, u: float) -> list[Any]:
        if not self._checked:
            # builders produce the same keys for every row: checking the first one is enough
            self.missing |= {name for name in self.names if name not in row}
            self._checked = True
        get = row.get
        return [
            get(name) if formatter is _as_is else formatter(get(name), style, u)
            for name, formatter in self.pairs
        ]


def _as_is(value: Any, style: int, u: float) -> Any:
    """Text, numbers already formatted by the builder, and geometries: written as they are."""
    return value


def _coded(
    inverse: dict[str, list[str]],
    field: Field,
    unmapped: set[tuple[str, str]],
    share: float = ALTERNATE_CODE_SHARE,
) -> Formatter:
    def coded(value: Any, style: int, u: float) -> Any:
        if value is None:
            return None
        if isinstance(value, DeptValue):
            return value.text
        choices = inverse.get(str(value))
        if not choices:
            # a code the department has no value for: written as the code itself, and
            # reported by the generator as a catalog gap rather than silently mistranslated
            unmapped.add((field.name, str(value)))
            return str(value)
        if len(choices) > 1 and u < share:
            return choices[1 + int(u / share * (len(choices) - 1)) % (len(choices) - 1)]
        return choices[0]

    return coded
