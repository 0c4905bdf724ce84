"""Real GB/T 2260 region codes (行政区划代码), read from the table python-stdnum ships.

``stdnum/cn/loc.dat`` lists every county-level code since the 1980s with the years it was in
use, so historical codes are available: a person born in 淇县 in 1975 carries 412125 (新乡地区
淇县), one born in 1984 carries 410524 (安阳市淇县), one born in 1990 carries 410622 (鹤壁市淇县).
The synthetic city uses one configured county as its jurisdiction and picks ID region codes that
were valid in the birth year, which is what stdnum's own validation checks.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

import numpy as np

#: Provinces whose residents do not hold mainland citizen IDs with their own region code.
_EXCLUDED_PROVINCES = ("71", "81", "82")

#: One-character province abbreviations (简称), used in certificate numbers such as 豫(2021)….
PROVINCE_ABBREVIATIONS: dict[str, str] = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽", "22": "吉",
    "23": "黑", "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣",
    "37": "鲁", "41": "豫", "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼",
    "50": "渝", "51": "川", "52": "贵", "53": "云", "54": "藏", "61": "陕", "62": "甘",
    "63": "青", "64": "宁", "65": "新",
}  # fmt: skip

_LINE = re.compile(r'^\s*(\d+)\s+(province|county)="([^"]*)"')
_PERIOD = re.compile(r"^\[(\d*)-(\d*)\](.*)$")


@dataclass(frozen=True)
class RegionPeriod:
    """One name a 6-digit code carried, and the years (inclusive) it carried it."""

    code: str
    name: str
    start: int | None
    end: int | None

    def valid_in(self, year: int) -> bool:
        """True when the code was in use in ``year`` (stdnum's rule for a birth year)."""
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)


@functools.cache
def region_periods() -> tuple[RegionPeriod, ...]:
    """Every (code, name, years) in stdnum's GB/T 2260 table, in file order."""
    text = resources.files("stdnum").joinpath("cn/loc.dat").read_text(encoding="utf-8")
    periods: list[RegionPeriod] = []
    province = ""
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        digits, level, value = match.groups()
        if level == "province":
            province = digits
            continue
        code = province + digits
        for part in value.split(","):
            period = _PERIOD.match(part)
            if period:
                start, end, name = period.groups()
                periods.append(
                    RegionPeriod(
                        code, name, int(start) if start else None, int(end) if end else None
                    )
                )
            else:
                periods.append(RegionPeriod(code, part, None, None))
    return tuple(periods)


@functools.cache
def province_names() -> dict[str, str]:
    """Two-digit province code → name (河南省)."""
    text = resources.files("stdnum").joinpath("cn/loc.dat").read_text(encoding="utf-8")
    names: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and match.group(2) == "province":
            names[match.group(1)] = match.group(3)
    return names


def _name_in(code: str, year: int | None = None) -> str | None:
    for period in region_periods():
        if period.code == code and (year is None or period.valid_in(year)):
            return period.name
    return None


@dataclass(frozen=True)
class Jurisdiction:
    """The configured county (区县) the synthetic city lies in, with its code history.

    ``code`` is the current 6-digit code; ``lineage`` holds every code the same county carried
    in its province, so IDs of older residents can carry the code of their birth year.
    """

    code: str
    county: str
    prefecture: str
    province: str
    lineage: tuple[RegionPeriod, ...]

    @property
    def province_code(self) -> str:
        return self.code[:2]

    @property
    def prefecture_code(self) -> str:
        return self.code[:4] + "00"

    @property
    def province_abbreviation(self) -> str:
        return PROVINCE_ABBREVIATIONS.get(self.province_code, "")

    @property
    def address_prefix(self) -> str:
        """The part every standard address of the jurisdiction starts with: 河南省鹤壁市淇县."""
        return f"{self.province}{self.prefecture}{self.county}"

    def code_at(self, year: int) -> str:
        """The code of this county in ``year``; the latest one when two overlap at a boundary.

        Years before the earliest known code fall back to the earliest code; years with no code
        for the county at all fall back to the prefecture code, which stdnum accepts for any year.
        """
        valid = [p for p in self.lineage if p.valid_in(year)]
        if valid:
            return max(valid, key=lambda p: p.start or 0).code
        return self.prefecture_code


@functools.cache
def jurisdiction(code: str) -> Jurisdiction:
    """The jurisdiction for a current county-level code such as ``"410622"`` (淇县).

    Raises:
        ValueError: when the code is not a current county-level code in the table.
    """
    current = [p for p in region_periods() if p.code == code and p.end is None]
    if not current or code.endswith("00"):
        raise ValueError(f"{code!r} is not a current county-level GB/T 2260 code")
    county = current[-1].name
    prefecture = _name_in(code[:4] + "00") or ""
    if code[2:4] == "00" or prefecture == county:
        prefecture = ""
    province = province_names().get(code[:2], "")
    lineage = tuple(p for p in region_periods() if p.code[:2] == code[:2] and p.name == county)
    return Jurisdiction(code, county, prefecture, province, lineage)


@functools.cache
def _county_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # County-level entries only: prefecture totals (xx xx 00) and 市辖区 placeholders are not
    # where people are registered, and the excluded provinces have no such IDs.
    periods = [
        p
        for p in region_periods()
        if not p.code.endswith("00")
        and p.name != "市辖区"
        and p.code[:2] not in _EXCLUDED_PROVINCES
    ]
    codes = np.array([p.code for p in periods])
    starts = np.array([p.start or 0 for p in periods])
    ends = np.array([p.end or 9999 for p in periods])
    return codes, starts, ends


@functools.cache
def codes_valid_in(year: int, province: str | None = None) -> tuple[str, ...]:
    """County-level codes valid in ``year``, optionally only in one province (sorted, unique)."""
    codes, starts, ends = _county_table()
    mask = (starts <= year) & (ends >= year)
    if province is not None:
        mask &= np.char.startswith(codes, province)
    return tuple(sorted(set(codes[mask].tolist())))


@functools.cache
def _outside(year: int, province: str) -> tuple[str, ...]:
    return tuple(c for c in codes_valid_in(year) if c[:2] != province)


def migrant_codes(
    birth_years: np.ndarray,
    rng: np.random.Generator,
    province: str,
    same_province: float,
    exclude_province: bool = False,
) -> list[str]:
    """ID region codes for people born elsewhere: a county valid in their birth year.

    ``same_province`` of them come from the jurisdiction's own province, the rest from anywhere
    (from anywhere but that province with ``exclude_province``).
    """
    codes: list[str] = []
    local = rng.random(len(birth_years)) < same_province
    picks = rng.random(len(birth_years))
    for year, is_local, pick in zip(
        birth_years.tolist(), local.tolist(), picks.tolist(), strict=True
    ):
        pool = codes_valid_in(int(year), province if is_local else None) or codes_valid_in(
            int(year)
        )
        if exclude_province:
            pool = _outside(int(year), province)
        codes.append(pool[int(pick * len(pool))])
    return codes
