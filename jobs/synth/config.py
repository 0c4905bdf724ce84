"""Settings of one synthetic city: size, seed, time line, jurisdiction and defect rates.

Everything has a default, so ``govlake synth`` needs no file; a YAML file (``--config``) can set
any field, and command-line options win over the file. The defaults describe a small county of
about 20,000 persons in 淇县 (鹤壁市, the hebi policy profile's city), delivered as one full batch
and four weekly incremental batches.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Centres (longitude, latitude, CGCS2000) of the counties of the seed regulations' cities, so
#: that choosing one of them needs no coordinates. Another county needs ``center`` set.
KNOWN_CENTERS: dict[str, tuple[float, float]] = {
    "410622": (114.20, 35.61),  # 鹤壁市淇县
    "321202": (119.92, 32.49),  # 泰州市海陵区
    "330211": (121.61, 29.96),  # 宁波市镇海区
    "500235": (108.70, 30.93),  # 重庆市云阳县
    "210421": (124.10, 41.92),  # 抚顺市抚顺县
}


@dataclass(frozen=True)
class SynthConfig:
    """One generation run. Rates are per year unless named otherwise.

    ``defect_rate`` is the base probability that one row carries one particular row-level
    defect; each kind multiplies it by its weight (see :data:`jobs.synth.defects.KINDS`), and
    ``rates`` overrides the resulting rate of a kind by name. ``min_per_kind`` guarantees that
    every kind that can occur occurs at least that often (per resource for row-level kinds),
    so small test cities still exercise every detection rule.
    """

    persons: int = 20_000
    seed: int = 20250101
    start: datetime.date = datetime.date(2025, 1, 1)
    batches: int = 5
    interval_days: int = 7
    jurisdiction: str = "410622"
    center: tuple[float, float] | None = None
    extent_km: float = 24.0
    defect_rate: float = 0.002
    rates: dict[str, float] = field(default_factory=dict)
    min_per_kind: int = 1
    max_rows_per_file: int = 500_000
    chunk_rows: int = 20_000
    enterprises_per_person: float = 0.025
    social_orgs_per_person: float = 0.0012
    urban_share: float = 0.35
    births_per_1000: float = 8.0
    deaths_per_1000: float = 7.5
    marriages_per_1000: float = 6.0
    divorces_per_1000: float = 2.2
    moves_per_1000_households: float = 12.0
    event_scale: float = 1.0
    schemas_root: str | None = None

    def __post_init__(self) -> None:
        if self.persons < 50:
            raise ValueError("persons must be at least 50")
        if self.batches < 1:
            raise ValueError("batches must be at least 1 (the full batch)")
        if self.interval_days < 1:
            raise ValueError("interval_days must be at least 1")

    @property
    def center_lonlat(self) -> tuple[float, float]:
        """The jurisdiction's centre; known for the seed counties, else ``center`` is needed."""
        if self.center is not None:
            return (float(self.center[0]), float(self.center[1]))
        if self.jurisdiction in KNOWN_CENTERS:
            return KNOWN_CENTERS[self.jurisdiction]
        raise ValueError(f"set center: [lon, lat] for jurisdiction {self.jurisdiction}")

    def batch_dates(self) -> list[datetime.date]:
        """Delivery day of every batch: the full one first, then one per interval."""
        step = datetime.timedelta(days=self.interval_days)
        return [self.start + k * step for k in range(self.batches)]

    def as_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["start"] = self.start.isoformat()
        values["center"] = list(self.center_lonlat)
        return values

    def with_overrides(self, **overrides: Any) -> SynthConfig:
        """A copy with the given fields replaced; ``None`` values are ignored."""
        return dataclasses.replace(
            self, **{k: _coerce(k, v) for k, v in overrides.items() if v is not None}
        )


def _coerce(name: str, value: Any) -> Any:
    if name == "start" and isinstance(value, str):
        return datetime.date.fromisoformat(value)
    if name == "center" and value is not None:
        return (float(value[0]), float(value[1]))
    if name == "rates":
        return {str(k): float(v) for k, v in dict(value).items()}
    if name == "jurisdiction":
        return str(value)
    return value


def load_config(path: str | Path | None = None, **overrides: Any) -> SynthConfig:
    """Defaults, then the YAML file (if any), then ``overrides`` (e.g. command-line options).

    Raises:
        ValueError: naming an unknown key in the file.
    """
    values: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        known = {f.name for f in dataclasses.fields(SynthConfig)}
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise ValueError(f"{path}: unknown keys {unknown}; known: {sorted(known)}")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SynthConfig().with_overrides(**values)
