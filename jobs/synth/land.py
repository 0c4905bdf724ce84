"""Land: townships, communities, parcels (宗地), real-estate units (不动产单元) and addresses.

The jurisdiction is a rectangle around the configured centre, in CGCS2000 longitude/latitude
(EPSG:4490). Communities (社区, 村) sit on a coarse grid inside it; inside each community block
the parcels are packed on shelves with a margin, so parcels never overlap by construction (the
overlap defect is injected later, and recorded). Rural households each hold a homestead parcel
(宅基地) with one house; urban households live in apartment compounds; enterprises and social
organisations occupy business units in the first community of each township.

Codes follow GB/T 37346: parcel code = county (6) + cadastral district (地籍区 = township, 3)
+ sub-district (地籍子区 = community, 3) + feature code (2) + sequence (5); unit number = parcel
code + fixture code F + building (4) + unit (4). Township and community codes are synthetic: the
GB/T 2260 table only goes down to county level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jobs.synth import keys
from jobs.synth.pools import URBAN_STEMS, Pools
from jobs.synth.regions import Jurisdiction

#: Parcel kinds: land use (GB/T 21010-2017), rights type (权利类型), feature code (宗地特征码),
#: property use (用途) of its units, shelf size in metres, floor area range of a unit.
PARCEL_KINDS = {
    "rural": ("0702", "宅基地使用权", "JC", "住宅", 24.0, (90.0, 240.0)),
    "urban": ("0701", "国有建设用地使用权", "GB", "住宅", 150.0, (55.0, 145.0)),
    "business": ("0601", "国有建设用地使用权", "GB", "工业", 90.0, (150.0, 2400.0)),
    "commerce": ("0501", "国有建设用地使用权", "GB", "商业服务", 70.0, (60.0, 900.0)),
}
KIND_NAMES = tuple(PARCEL_KINDS)
RURAL, URBAN, BUSINESS, COMMERCE = range(4)
#: Unit rights types as registered with the building on the land (房地一体).
UNIT_RIGHTS = {
    RURAL: "宅基地使用权/房屋所有权",
    URBAN: "国有建设用地使用权/房屋所有权",
    BUSINESS: "国有建设用地使用权/房屋所有权",
    COMMERCE: "国有建设用地使用权/房屋所有权",
}
_METRES_PER_DEGREE_LAT = 110_574.0
_HOUSEHOLDS_PER_URBAN_COMMUNITY = 450
_HOUSEHOLDS_PER_VILLAGE = 350
_VACANCY = 0.08


@dataclass
class Land:
    """The spatial world. Grain: parcels one per 宗地, units one per 不动产单元 (one standard
    address each), townships and communities one per entry; arrays are indexed by number."""

    bbox: tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max
    township_names: list[str]
    community_names: list[str]
    community_township: np.ndarray
    community_roads: list[str]
    parcel_codes: list[str]
    parcel_kind: np.ndarray
    parcel_community: np.ndarray
    parcel_ring: np.ndarray  # (parcels, 4, 2) lon/lat corners, counter-clockwise
    parcel_area: np.ndarray  # square metres
    parcel_registered: np.ndarray  # date ordinal
    unit_parcel: np.ndarray
    unit_kind: np.ndarray
    unit_numbers: list[str]
    unit_address_codes: list[str]
    unit_addresses: list[str]
    unit_roads: list[str]
    unit_house_numbers: list[str]
    unit_lon: np.ndarray
    unit_lat: np.ndarray
    unit_floor_area: np.ndarray
    household_unit: np.ndarray
    vacant_units: list[int]
    business_units: list[int]

    def jurisdiction_ring(self) -> list[list[float]]:
        """The jurisdiction boundary as a closed GeoJSON ring."""
        x0, y0, x1, y1 = self.bbox
        return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def build_land(
    juris: Jurisdiction,
    household_urban: np.ndarray,
    n_business_units: int,
    pools: Pools,
    center: tuple[float, float],
    extent_km: float,
    rng: np.random.Generator,
) -> Land:
    """Lays out townships, communities, parcels and units for the households and businesses.

    Args:
        juris: the jurisdiction (parcel and address codes start with its current code).
        household_urban: one flag per household: True for an apartment, False for a homestead.
        n_business_units: business units to provide (enterprises and social organisations, with
            room for the ones registered during the simulation).
        pools: road names.
        center: (longitude, latitude) of the jurisdiction's centre.
        extent_km: side of the jurisdiction square.
        rng: the land stream.
    """
    n_households = len(household_urban)
    urban_households = np.flatnonzero(household_urban)
    rural_households = np.flatnonzero(~household_urban)
    n_towns = int(min(15, max(3, round(math.sqrt(n_households * 3) / 80))))
    n_streets = max(1, round(n_towns * 0.3))
    township_names = _township_names(n_towns, n_streets, pools, rng)

    # communities: urban ones in sub-districts (街道), villages in towns (镇, 乡)
    # every township has at least one community (its seat), even in a tiny test city
    n_urban_comm = max(
        n_streets, math.ceil(len(urban_households) / _HOUSEHOLDS_PER_URBAN_COMMUNITY)
    )
    n_villages = max(
        n_towns - n_streets, math.ceil(len(rural_households) / _HOUSEHOLDS_PER_VILLAGE)
    )
    community_township: list[int] = []
    community_names: list[str] = []
    used: set[tuple[int, str]] = set()
    for i in range(n_urban_comm):
        t = i % n_streets
        community_township.append(t)
        community_names.append(_unique(t, used, lambda: rng.choice(URBAN_STEMS) + "社区", rng))
    for i in range(n_villages):
        t = n_streets + i % (n_towns - n_streets) if n_towns > n_streets else i % n_towns
        community_township.append(t)
        community_names.append(_unique(t, used, lambda: pools.village(rng) + "村", rng))
    # villages-only towns still need a seat for their businesses: their first village
    order = np.argsort(np.array(community_township), kind="stable")
    community_township_arr = np.array(community_township, np.int64)[order]
    community_names = [community_names[i] for i in order]
    n_comm = len(community_names)
    community_roads = [pools.roads[int(rng.integers(len(pools.roads)))] for _ in range(n_comm)]
    is_urban_comm = np.array([name.endswith("社区") for name in community_names])
    urban_comms = np.flatnonzero(is_urban_comm)
    rural_comms = np.flatnonzero(~is_urban_comm)
    first_of_township = [
        int(np.flatnonzero(community_township_arr == t)[0]) for t in range(n_towns)
    ]

    builder = _Builder(juris, community_township_arr, community_names, community_roads, rng)
    household_unit = np.full(n_households, -1, np.int64)
    # rural: one homestead parcel and house per household
    for k, hh in enumerate(rural_households.tolist()):
        comm = int(rural_comms[min(k // _HOUSEHOLDS_PER_VILLAGE, len(rural_comms) - 1)])
        household_unit[hh] = builder.homestead(comm)
    # urban: compounds filled in order, with some flats left vacant
    per_comm = max(1, math.ceil(len(urban_households) / max(1, len(urban_comms))))
    for k, hh in enumerate(urban_households.tolist()):
        comm = int(urban_comms[min(k // per_comm, len(urban_comms) - 1)])
        household_unit[hh] = builder.flat(comm)
    # business: parcels in each township's seat, several units per parcel
    for k in range(n_business_units):
        comm = first_of_township[k % n_towns]
        builder.business_unit(comm, COMMERCE if k % 4 == 3 else BUSINESS)

    return builder.finish(township_names, center, extent_km, household_unit)


def _unique(township: int, used: set[tuple[int, str]], make, rng: np.random.Generator) -> str:
    for _ in range(50):
        name = make()
        if (township, name) not in used:
            used.add((township, name))
            return name
    # fall back to a numbered name; still unique within the township
    base = make()
    n = 2
    while (township, f"{base[:-1]}{n}{base[-1]}") in used:
        n += 1
    used.add((township, f"{base[:-1]}{n}{base[-1]}"))
    return f"{base[:-1]}{n}{base[-1]}"


def _township_names(n: int, n_streets: int, pools: Pools, rng: np.random.Generator) -> list[str]:
    names: list[str] = []
    stems = list(URBAN_STEMS)
    rng.shuffle(stems)
    for i in range(n):
        if i < n_streets:
            names.append(stems[i % len(stems)] + "街道")
            continue
        for _ in range(50):
            name = pools.village(rng) + ("镇" if rng.random() < 0.7 else "乡")
            if name not in names:
                break
        names.append(name)
    return names


class _Builder:
    """Accumulates parcels and units; places them on the map in :meth:`finish`."""

    def __init__(
        self,
        juris: Jurisdiction,
        community_township: np.ndarray,
        community_names: list[str],
        community_roads: list[str],
        rng: np.random.Generator,
    ) -> None:
        self.juris = juris
        self.community_township = community_township
        self.community_names = community_names
        self.community_roads = community_roads
        self.rng = rng
        self.parcel_kind: list[int] = []
        self.parcel_community: list[int] = []
        self.parcel_seq: dict[int, int] = {}
        self.parcel_units: list[int] = []
        self.parcel_road_no: list[int] = []
        self.unit_parcel: list[int] = []
        self.unit_kind: list[int] = []
        self.unit_spec: list[tuple[int, int, int, int]] = []  # building, entrance, floor, room
        self.unit_index_in_parcel: list[int] = []
        self.open_compound: dict[int, tuple[int, int, int, int]] = {}  # comm -> parcel, b, e, f
        self.open_business: dict[tuple[int, int], int] = {}
        self.vacant: list[int] = []
        self.business: list[int] = []
        self.road_numbers: dict[int, int] = {}

    def _parcel(self, comm: int, kind: int) -> int:
        self.parcel_kind.append(kind)
        self.parcel_community.append(comm)
        self.parcel_units.append(0)
        number = self.road_numbers.get(comm, 0) + 1 + int(self.rng.integers(0, 3))
        self.road_numbers[comm] = number
        self.parcel_road_no.append(number)
        return len(self.parcel_kind) - 1

    def _unit(self, parcel: int, kind: int, spec: tuple[int, int, int, int]) -> int:
        self.parcel_units[parcel] += 1
        self.unit_parcel.append(parcel)
        self.unit_kind.append(kind)
        self.unit_spec.append(spec)
        self.unit_index_in_parcel.append(self.parcel_units[parcel])
        return len(self.unit_parcel) - 1

    def homestead(self, comm: int) -> int:
        parcel = self._parcel(comm, RURAL)
        return self._unit(parcel, RURAL, (1, 0, 0, 0))

    def flat(self, comm: int) -> int:
        while True:
            state = self.open_compound.get(comm)
            if state is None:
                parcel = self._parcel(comm, URBAN)
                buildings = int(self.rng.integers(2, 9))
                entrances = int(self.rng.integers(1, 4))
                floors = int(self.rng.choice((6, 6, 11, 18)))
                state = (parcel, buildings, entrances, floors)
                self.open_compound[comm] = state
            parcel, buildings, entrances, floors = state
            used = self.parcel_units[parcel]
            capacity = buildings * entrances * floors * 2
            if used >= capacity:
                del self.open_compound[comm]
                continue
            per_building = entrances * floors * 2
            b, rest = divmod(used, per_building)
            e, rest = divmod(rest, floors * 2)
            f, room = divmod(rest, 2)
            unit = self._unit(parcel, URBAN, (b + 1, e + 1, f + 1, room + 1))
            if self.rng.random() < _VACANCY:
                self.vacant.append(unit)
                continue
            return unit

    def business_unit(self, comm: int, kind: int) -> int:
        parcel = self.open_business.get((comm, kind))
        if parcel is None or self.parcel_units[parcel] >= 4:
            parcel = self._parcel(comm, kind)
            self.open_business[(comm, kind)] = parcel
        unit = self._unit(parcel, kind, (1, 0, 1, self.parcel_units[parcel] + 1))
        self.business.append(unit)
        return unit

    def finish(
        self,
        township_names: list[str],
        center: tuple[float, float],
        extent_km: float,
        household_unit: np.ndarray,
    ) -> Land:
        rng = self.rng
        n_comm = len(self.community_names)
        extent_m = extent_km * 1000.0
        lon0, lat0 = center
        m_per_deg_lon = 111_320.0 * math.cos(math.radians(lat0))
        x_origin = lon0 - extent_m / 2 / m_per_deg_lon
        y_origin = lat0 - extent_m / 2 / _METRES_PER_DEGREE_LAT
        grid = math.ceil(math.sqrt(n_comm))
        block = extent_m / grid

        kinds = np.array(self.parcel_kind, np.int64)
        comms = np.array(self.parcel_community, np.int64)
        n_parcels = len(kinds)
        sizes = np.array([PARCEL_KINDS[KIND_NAMES[k]][4] for k in kinds]) * rng.uniform(
            0.8, 1.2, n_parcels
        )
        x = np.zeros(n_parcels)
        y = np.zeros(n_parcels)
        side = np.zeros(n_parcels)
        for comm in range(n_comm):
            members = np.flatnonzero(comms == comm)
            bx, by = (comm % grid) * block, (comm // grid) * block
            px, py, ps = _shelf_pack(sizes[members], block * 0.9)
            x[members] = bx + block * 0.05 + px
            y[members] = by + block * 0.05 + py
            side[members] = ps
        # corners with a margin (roads between parcels) and a little jitter inside the margin
        margin = side * 0.08
        jitter = rng.uniform(-1, 1, (n_parcels, 4, 2)) * (margin[:, None, None] * 0.5)
        corners_x = np.stack([x + margin, x + side - margin, x + side - margin, x + margin], 1)
        corners_y = np.stack([y + margin, y + margin, y + side - margin, y + side - margin], 1)
        metres = np.stack([corners_x, corners_y], 2) + jitter
        area = 0.5 * np.abs(
            np.sum(
                metres[:, :, 0] * np.roll(metres[:, :, 1], -1, 1)
                - np.roll(metres[:, :, 0], -1, 1) * metres[:, :, 1],
                1,
            )
        )
        ring = np.empty_like(metres)
        ring[:, :, 0] = np.round(x_origin + metres[:, :, 0] / m_per_deg_lon, 7)
        ring[:, :, 1] = np.round(y_origin + metres[:, :, 1] / _METRES_PER_DEGREE_LAT, 7)
        bbox = (
            round(x_origin, 7),
            round(y_origin, 7),
            round(x_origin + extent_m / m_per_deg_lon, 7),
            round(y_origin + extent_m / _METRES_PER_DEGREE_LAT, 7),
        )

        county = self.juris.code
        first_of_town = np.searchsorted(
            self.community_township, np.arange(len(township_names))
        ).tolist()
        parcel_codes: list[str] = []
        seq: dict[int, int] = {}
        # plain lists in the loops: indexing numpy arrays one element at a time is slow
        comm_list = comms.tolist()
        kind_list = kinds.tolist()
        township_of = self.community_township.tolist()
        for p in range(n_parcels):
            comm = comm_list[p]
            t = township_of[comm]
            comm_in_town = comm - first_of_town[t]
            seq[comm] = seq.get(comm, 0) + 1
            feature = PARCEL_KINDS[KIND_NAMES[kind_list[p]]][2]
            parcel_codes.append(
                keys.parcel_code(county, t + 1, comm_in_town + 1, feature, seq[comm])
            )
        registered = (
            rng.integers(
                np.datetime64("1995-01-01").astype(int),
                np.datetime64("2024-06-30").astype(int),
                n_parcels,
            )
            + 719163
        )  # days since 1970 → date ordinal

        unit_parcel = np.array(self.unit_parcel, np.int64)
        unit_kind = np.array(self.unit_kind, np.int64)
        n_units = len(unit_parcel)
        prefix = self.juris.address_prefix
        unit_numbers: list[str] = []
        address_codes: list[str] = []
        addresses: list[str] = []
        roads: list[str] = []
        house_numbers: list[str] = []
        address_seq: dict[int, int] = {}
        unit_parcel_list = unit_parcel.tolist()
        unit_kind_list = unit_kind.tolist()
        for u in range(n_units):
            p = unit_parcel_list[u]
            comm = comm_list[p]
            t = township_of[comm]
            b, e, f, room = self.unit_spec[u]
            unit_numbers.append(
                keys.unit_number(parcel_codes[p], "F", b, self.unit_index_in_parcel[u])
            )
            address_seq[comm] = address_seq.get(comm, 0) + 1
            comm_in_town = comm - first_of_town[t]
            address_codes.append(
                f"{county}{t + 1:03d}{comm_in_town + 1:03d}{address_seq[comm]:06d}"
            )
            place = f"{prefix}{township_names[t]}{self.community_names[comm]}"
            number = self.parcel_road_no[p]
            if unit_kind_list[u] == RURAL:
                roads.append("")
                house_numbers.append(f"{number}号")
                addresses.append(f"{place}{number}号")
            elif unit_kind_list[u] == URBAN:
                road = self.community_roads[comm]
                roads.append(road)
                house_numbers.append(f"{number}号")
                addresses.append(f"{place}{road}{number}号{b}栋{e}单元{f}{room:02d}室")
            else:
                road = self.community_roads[comm]
                roads.append(road)
                house_numbers.append(f"{number}号")
                addresses.append(f"{place}{road}{number}号{100 + room}室")
        # a unit's point: inside its parcel, near the centre
        cx = ring[:, :, 0].mean(1)[unit_parcel]
        cy = ring[:, :, 1].mean(1)[unit_parcel]
        half_x = (ring[:, 1, 0] - ring[:, 0, 0])[unit_parcel] * 0.2
        half_y = (ring[:, 2, 1] - ring[:, 1, 1])[unit_parcel] * 0.2
        lon = np.round(cx + rng.uniform(-1, 1, n_units) * half_x, 6)
        lat = np.round(cy + rng.uniform(-1, 1, n_units) * half_y, 6)
        floor = np.zeros(n_units)
        for k in range(len(KIND_NAMES)):
            mask = unit_kind == k
            low, high = PARCEL_KINDS[KIND_NAMES[k]][5]
            floor[mask] = np.round(rng.uniform(low, high, int(mask.sum())), 2)
        return Land(
            bbox=bbox,
            township_names=township_names,
            community_names=self.community_names,
            community_township=self.community_township,
            community_roads=self.community_roads,
            parcel_codes=parcel_codes,
            parcel_kind=kinds,
            parcel_community=comms,
            parcel_ring=ring,
            parcel_area=np.round(area, 2),
            parcel_registered=registered.astype(np.int64),
            unit_parcel=unit_parcel,
            unit_kind=unit_kind,
            unit_numbers=unit_numbers,
            unit_address_codes=address_codes,
            unit_addresses=addresses,
            unit_roads=roads,
            unit_house_numbers=house_numbers,
            unit_lon=lon,
            unit_lat=lat,
            unit_floor_area=floor,
            household_unit=household_unit,
            vacant_units=self.vacant,
            business_units=self.business,
        )


def _shelf_pack(sizes: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Places squares of the given sides on shelves inside a square of side ``width``.

    Squares are packed left to right, shelf after shelf; when they do not fit, every side is
    scaled down and the packing repeated, so the block never spills into its neighbour.
    """
    scale = 1.0
    while True:
        x = np.zeros(len(sizes))
        y = np.zeros(len(sizes))
        cursor_x = cursor_y = shelf = 0.0
        for i, side in enumerate((sizes * scale).tolist()):
            if cursor_x + side > width and cursor_x > 0:
                cursor_y += shelf
                cursor_x = shelf = 0.0
            x[i], y[i] = cursor_x, cursor_y
            cursor_x += side
            shelf = max(shelf, side)
        if cursor_y + shelf <= width or not len(sizes):
            return x, y, sizes * scale
        scale *= math.sqrt(width / (cursor_y + shelf)) * 0.98
