"""Region codes (行政区划代码, GB/T 2260): the reference every key check and generator uses.

The data is python-stdnum's ``stdnum/cn/loc.dat``, a package data file that lists every county-,
city- and province-level code since 1980 with the years each name was in use
(``[1983-2014]新市区,[2015-]竞秀区``). Codes that no longer exist stay in it, which is what key
validation needs: a citizen ID (公民身份号码) keeps the region code of the place and year it was first
issued, so an abolished code such as 110103 (崇文区, until 2010) is still a valid prefix for anyone
born by 2010 (:func:`last_year_in_use` says when each code ended).

The file is read once per process (no download) and kept as Python objects. The Column check
:func:`is_known_region` is a constant-time lookup in one literal (measurements in its
docstring); :func:`region_codes_df` is the same reference as a small DataFrame, for broadcast
joins that need the names.

Known limits: the data ends where python-stdnum's snapshot ends (codes created after it, such as
雄安新区 133100, are unknown), and it has no entries below county level.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

#: ``[1983-2014]新市区`` → start year, end year, name (years may be empty: open-ended).
_PERIOD_RE = re.compile(r"^\[(?P<start>\d*)-(?P<end>\d*)\](?P<name>.*)$")


@dataclass(frozen=True)
class NamePeriod:
    """One name a region code carried, with the years it was in use (None: open-ended)."""

    name: str
    first_year: int | None
    last_year: int | None

    def covers(self, year: int) -> bool:
        """Whether the name was in use in ``year``."""
        return (self.first_year is None or year >= self.first_year) and (
            self.last_year is None or year <= self.last_year
        )


@dataclass(frozen=True)
class Region:
    """One GB/T 2260 code with its names at province, city and county level.

    ``county`` is the code's own name (for a province-level code ``xx0000`` that is the
    province, for a city-level ``xxxx00`` the city); ``city`` is the name of the enclosing
    ``xxxx00`` entry when there is one.
    """

    code: str
    province: str
    city: str | None
    county: str
    periods: tuple[NamePeriod, ...]

    @property
    def level(self) -> str:
        """``province``, ``city`` or ``county``, from the code's trailing zeros."""
        if self.code.endswith("0000"):
            return "province"
        if self.code.endswith("00"):
            return "city"
        return "county"

    @property
    def is_current(self) -> bool:
        """Whether the code is still in use (its latest name has no end year)."""
        return self.periods[-1].last_year is None

    @property
    def last_year(self) -> int | None:
        """The last year the code was in use (its latest name's end); None while it still is."""
        return self.periods[-1].last_year

    def name_in(self, year: int) -> str | None:
        """The code's own name in ``year``, or None when the code was not in use then."""
        for period in self.periods:
            if period.covers(year):
                return period.name
        return None


def _parse_periods(county: str) -> tuple[NamePeriod, ...]:
    periods = []
    for part in county.split(","):
        match = _PERIOD_RE.match(part)
        if match:
            periods.append(
                NamePeriod(
                    name=match["name"],
                    first_year=int(match["start"]) if match["start"] else None,
                    last_year=int(match["end"]) if match["end"] else None,
                )
            )
        else:
            periods.append(NamePeriod(name=part, first_year=None, last_year=None))
    return tuple(periods)


def _expand(low: str, high: str) -> list[str]:
    # numdb allows ranges ("0101-0105"); loc.dat has none today, but a newer one might.
    if low == high:
        return [low]
    return [str(n).zfill(len(low)) for n in range(int(low), int(high) + 1)]


@functools.cache
def _regions() -> dict[str, Region]:
    from stdnum import numdb

    raw: dict[str, tuple[str, tuple[NamePeriod, ...]]] = {}
    for _length, low, high, props, children in numdb.get("cn/loc").prefixes:
        for province_code in _expand(low, high):
            province = props.get("province", "")
            for _l2, low2, high2, props2, _children2 in children:
                if "county" not in props2:
                    continue
                for rest in _expand(low2, high2):
                    raw[province_code + rest] = (province, _parse_periods(props2["county"]))
    regions = {}
    for code, (province, periods) in raw.items():
        city_code = code[:4] + "00"
        city = None
        if not code.endswith("00") and city_code in raw:
            city = raw[city_code][1][-1].name
        elif code.endswith("00") and not code.endswith("0000"):
            city = periods[-1].name
        regions[code] = Region(
            code=code, province=province, city=city, county=periods[-1].name, periods=periods
        )
    return regions


@functools.cache
def known_region_codes() -> frozenset[str]:
    """Every 6-digit GB/T 2260 code that ever existed, historical codes included.

    Use it to validate the region part of a key: a key issued under a code that has since been
    abolished is still a valid key.
    """
    return frozenset(_regions())


def current_region_codes(level: str | None = None) -> list[str]:
    """Codes still in use, sorted; optionally only one ``level`` (province, city or county).

    The synthetic-city generator picks real codes from here, so generated keys look like keys
    issued today.
    """
    return sorted(
        region.code
        for region in _regions().values()
        if region.is_current and (level is None or region.level == level)
    )


def region(code: str) -> Region | None:
    """The :class:`Region` for a 6-digit code, or None when GB/T 2260 never had it."""
    return _regions().get(code)


def region_names(code: str, year: int | None = None) -> dict[str, str | None] | None:
    """Province, city and county names for ``code``, as of ``year`` when given.

    Returns None for an unknown code, and ``county=None`` when the code was not in use in
    ``year`` (the other names are still given, so a caller can still say which province).
    """
    found = region(code)
    if found is None:
        return None
    county = found.county if year is None else found.name_in(year)
    return {"province": found.province, "city": found.city, "county": county}


@functools.cache
def _membership_table(extra_codes: frozenset[str]) -> str:
    # Row i of the table (i = first four digits - 1000) is a 100-character string whose
    # character j is "1" when code i*100+j is known; prefixes without codes are empty.
    rows: dict[int, list[str]] = {}
    for code in known_region_codes() | extra_codes:
        rows.setdefault(int(code[:4]), ["0"] * 100)[int(code[4:])] = "1"
    return ",".join("".join(rows[p]) if p in rows else "" for p in range(1000, 10000))


def is_known_region(code: Column, extra_codes: frozenset[str] = frozenset()) -> Column:
    """Column: whether ``code`` is a 6-digit GB/T 2260 code ever in use (false otherwise, also
    for NULL or malformed input).

    A two-level lookup in one literal: the first four digits index an array (constant-folded
    once from a single string), the last two pick a character of that row. Constant work per
    row, one literal to ship, no join, so it composes inside any Column expression.

    Measured on 1M rows (2-core machine, CPU seconds, best of 5; baseline comparison 0.18):
    broadcast join with :func:`region_codes_df` 0.40; ``F.expr("code IN (…)")`` (Spark's
    hash-set ``InSet``) 0.60; this lookup 0.71; a trie-shaped ``rlike`` 0.81;
    ``Column.isin(codes)`` 2.65, nearly all of it building 6,885 literals over py4j, paid again
    for every expression built. The join is the fastest when a transform can join; the ``IN``
    text cannot take a Column argument; this lookup is the fastest composable form.

    Args:
        code: a column holding the code (string).
        extra_codes: codes accepted in addition (USCC uses 100000 for national registration).
    """
    table = F.split(F.lit(_membership_table(frozenset(extra_codes))), ",")
    # A 6-character string that casts to an integer >= 100000 is exactly six ASCII digits
    # (a sign, space or dot would leave fewer digits), so no regex is needed per row.
    value = code.try_cast("int")
    row = F.try_element_at(table, (value / 100).cast("int") - 999)
    return F.coalesce(
        (F.length(code) == 6)
        & (value >= 100000)
        & (row.substr((value % 100) + 1, F.lit(1)) == F.lit("1")),
        F.lit(False),
    )


# The year each abolished code was last in use, one character per code: chr(48 + year - 1980),
# so "0" is 1980 and "~" is 2058; a space is a code still in use (or none at all).
_ERA_FIRST_YEAR, _ERA_FIRST_CHARACTER, _ERA_LAST_CHARACTER = 1980, 48, 126


@functools.cache
def _last_year_table() -> str:
    # Same two-level layout as :func:`_membership_table`: row = first four digits - 1000.
    rows: dict[int, list[str]] = {}
    for found in _regions().values():
        if found.is_current:
            continue
        character = _ERA_FIRST_CHARACTER + found.last_year - _ERA_FIRST_YEAR
        if not _ERA_FIRST_CHARACTER <= character <= _ERA_LAST_CHARACTER:
            raise ValueError(f"region {found.code} ended in {found.last_year}: outside the table")
        rows.setdefault(int(found.code[:4]), [" "] * 100)[int(found.code[4:])] = chr(character)
    return ",".join("".join(rows[p]) if p in rows else "" for p in range(1000, 10000))


def last_year_in_use(code: Column) -> Column:
    """Column (int): the last year an abolished GB/T 2260 code was in use; NULL for a code still
    in use, an unknown code or malformed input.

    A citizen ID carries the code of the place where it was issued, in the year it was issued:
    never earlier than the holder's birth, so a code abolished before the birth year cannot be
    on a genuine ID (110201 昌平县 ended in 1982; nobody born in 1993 was issued it). The same
    constant-time lookup in one literal as :func:`is_known_region`.
    """
    table = F.split(F.lit(_last_year_table()), ",")
    value = code.try_cast("int")
    row = F.try_element_at(table, (value / 100).cast("int") - 999)
    character = row.substr((value % 100) + 1, F.lit(1))
    return F.when(
        (F.length(code) == 6) & (value >= 100000) & (character > F.lit(" ")),
        F.ascii(character) - _ERA_FIRST_CHARACTER + _ERA_FIRST_YEAR,
    )


_REGION_SCHEMA = T.StructType(
    [
        T.StructField("region_code", T.StringType(), nullable=False),
        T.StructField("province_name", T.StringType(), nullable=False),
        T.StructField("city_name", T.StringType(), nullable=True),
        T.StructField("county_name", T.StringType(), nullable=False),
        T.StructField("region_level", T.StringType(), nullable=False),
        T.StructField("is_current", T.BooleanType(), nullable=False),
    ]
)


def region_codes_df(spark: SparkSession) -> DataFrame:
    """A small DataFrame of every known code with its names, for joins that need the names.

    Grain: one row per GB/T 2260 code (current name per level). About 6,900 rows: broadcast it.
    """
    rows = [
        (r.code, r.province, r.city, r.county, r.level, r.is_current)
        for r in sorted(_regions().values(), key=lambda r: r.code)
    ]
    return spark.createDataFrame(rows, schema=_REGION_SCHEMA)


def with_region_names(regions_df: DataFrame, code_column: str, spark: SparkSession) -> DataFrame:
    """Adds province/city/county name columns for ``code_column`` by a broadcast join.

    Rows whose code is unknown keep NULL names (left join), so no row is lost.
    """
    names_df = region_codes_df(spark).select(
        F.col("region_code").alias("_region_code"),
        "province_name",
        "city_name",
        "county_name",
    )
    return regions_df.join(
        F.broadcast(names_df), F.col(code_column) == F.col("_region_code"), "left"
    ).drop("_region_code")
