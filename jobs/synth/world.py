"""One consistent world: the truth behind every department's export.

:func:`build_world` creates the county as it is on the day of the first (full) delivery:
persons in households with their marriages, births and deaths of the past year; enterprises and
social organisations with legal representatives; employment and social insurance; students;
driving licences; parcels, real-estate units and standard addresses with their owners.
:mod:`jobs.synth.events` then moves it forward between deliveries.

A few states are deliberately inconsistent between departments (a person who died last year
whose insurance is still active, an enterprise deregistered at market regulation that tax still
calls normal …). They are chosen here, recorded in :attr:`World.marks`, and rendered as rows by
:mod:`jobs.synth.resources`, which writes their manifest records.

Each part of the world draws from its own random stream (:func:`stream`), so changing, say, the
land layout does not change the persons.
"""

from __future__ import annotations

import datetime
import zlib
from dataclasses import dataclass, field

import numpy as np

from jobs.synth.config import SynthConfig
from jobs.synth.entities import (
    ENTERPRISE,
    SOCIAL_ORG,
    UNREGISTERED,
    Entities,
    EntityFactory,
    build_entities,
)
from jobs.synth.kinds import KINDS
from jobs.synth.land import Land, build_land
from jobs.synth.pools import Pools, build_pools
from jobs.synth.population import (
    MALE,
    UNMARRIED,
    WIDOWED,
    Households,
    Persons,
    build_population,
    months_of,
    years_of,
)
from jobs.synth.regions import Jurisdiction, jurisdiction

#: Driving licence classes (准驾车型) and their shares.
DRIVING_CLASSES = ("C1", "C2", "B2", "A2", "A1", "B1", "D", "E")
_DRIVING_SHARES = np.array([0.74, 0.06, 0.06, 0.03, 0.01, 0.02, 0.05, 0.03])
#: Licence status codes (licence_status code table) by index.
LICENCE_STATUSES = ("valid", "suspended", "revoked", "cancelled")
VALID, SUSPENDED, REVOKED, CANCELLED = range(4)
#: Insurance types (险种) by bit: pension 110, medical 310, unemployment 210, injury 410.
INSURANCE_TYPES = ("pension", "medical", "unemployment", "injury")
#: Insurance status codes.
INSURANCE_NONE, INSURANCE_ACTIVE, INSURANCE_TERMINATED = 0, 1, 3
#: Grades (年级) as schools write them, grade 1 to 12.
GRADES = (
    "一年级", "二年级", "三年级", "四年级", "五年级", "六年级",
    "初一", "初二", "初三", "高一", "高二", "高三",
)  # fmt: skip
#: Student status codes by index (student_status code table).
STUDENT_STATUSES = ("enrolled", "transferred", "graduated", "withdrawn")
#: Property status codes by index (property_status code table).
PROPERTY_STATUSES = ("current", "cancelled", "mortgaged")
DEATH_PLACES = ("医疗卫生机构", "家中", "养老服务机构", "途中", "其他")
DEATH_CAUSES = (
    "I21.9 急性心肌梗死", "I63.9 脑梗死", "I61.9 脑出血", "C34.9 肺恶性肿瘤",
    "C16.9 胃恶性肿瘤", "J44.9 慢性阻塞性肺病", "E14.9 糖尿病", "V89.2 道路交通事故",
    "I10 高血压", "C22.0 肝细胞癌",
)  # fmt: skip
_YEAR = 365.25


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent, reproducible random stream for one part of the world or one export."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def plan_count(config: SynthConfig, kind: str, eligible: int, rng: np.random.Generator) -> int:
    """How many of ``eligible`` candidates get defect ``kind``: binomial at the kind's rate,
    raised to ``min_per_kind`` so every kind occurs even in a small city."""
    if eligible <= 0:
        return 0
    rate = config.rates.get(kind, config.defect_rate * KINDS[kind].weight)
    count = int(rng.binomial(eligible, min(max(rate, 0.0), 1.0)))
    return min(eligible, max(count, config.min_per_kind))


@dataclass
class Registry:
    """Append-only registrations: marriages (婚姻登记), birth certificates, death certificates.

    Grain: one entry per registration; columns are lists or arrays of equal length.
    """

    columns: dict[str, list] = field(default_factory=dict)

    def add(self, **values: object) -> int:
        for name, value in values.items():
            self.columns.setdefault(name, []).append(value)
        return len(self) - 1

    def extend(self, **values: list) -> None:
        """Adds many registrations at once (columns of equal length)."""
        for name, column in values.items():
            self.columns.setdefault(name, []).extend(column)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def __getitem__(self, name: str) -> list:
        return self.columns[name]


@dataclass
class World:
    """The county. Person, entity, parcel and unit numbers index the arrays of each part."""

    config: SynthConfig
    juris: Jurisdiction
    pools: Pools
    persons: Persons
    households: Households
    land: Land
    entities: Entities
    factory: EntityFactory
    start_ord: int
    # employment and social insurance (社会保险), per person
    employer: np.ndarray
    insured_since: np.ndarray
    insurance_types: np.ndarray  # bit mask over INSURANCE_TYPES
    insurance_status: np.ndarray
    # driving licences (机动车驾驶证), per person; class -1 = none
    licence_class: np.ndarray
    licence_first: np.ndarray
    licence_from: np.ndarray
    licence_to: np.ndarray
    licence_status: np.ndarray
    licence_file: np.ndarray
    # students (学籍), per person; school -1 = not a student here
    school: np.ndarray
    grade: np.ndarray
    enrolled_on: np.ndarray
    student_status: np.ndarray
    schools: list[str]
    # real estate (不动产), per unit: the owner is a person or an entity (-1 when the other)
    owner_person: np.ndarray
    owner_entity: np.ndarray
    certificate: list[str]
    property_registered: np.ndarray
    property_issued: np.ndarray
    property_status: np.ndarray
    # registrations
    marriages: Registry
    births: Registry
    deaths: Registry
    #: Deliberate inconsistencies: (defect kind, resource id) → the refs they apply to.
    marks: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    certificate_seq: dict[int, int] = field(default_factory=dict)
    #: Persons whose marital status a department misstates (marital_status_conflict): their
    #: marriage registrations keep their number, so the registry the conflict is found against
    #: reaches the pool.
    marital_claims: set[int] = field(default_factory=set)
    #: Parties of a marriage registration delivered without its number (missing_key): no pool
    #: holds it, so no marital status conflict can be measured against it.
    unregistered_parties: set[int] = field(default_factory=set)

    def person_name(self, person: int) -> str:
        return self.persons.name(person, self.pools)

    def alive(self, on: int) -> np.ndarray:
        """Persons alive on date ordinal ``on`` (born on or before, not dead before)."""
        p = self.persons
        return (p.birth <= on) & ((p.death == 0) | (p.death > on))

    def mark(self, kind: str, resource: str, refs: np.ndarray | list[int]) -> None:
        self.marks.setdefault((kind, resource), set()).update(int(r) for r in refs)

    def next_certificate(self, year: int) -> str:
        """A new real-estate certificate number (不动产权证书号) of ``year``."""
        self.certificate_seq[year] = self.certificate_seq.get(year, 0) + 1
        return (
            f"{self.juris.province_abbreviation}({year}){self.juris.county}"
            f"不动产权第{self.certificate_seq[year]:07d}号"
        )


def build_world(config: SynthConfig) -> World:
    """The county on the day of the first delivery (``config.start``)."""
    seed = config.seed
    juris = jurisdiction(config.jurisdiction)
    start_ord = config.start.toordinal()
    plan = stream(seed, "plan")
    n = config.persons
    n_enterprises = max(5, round(n * config.enterprises_per_person))
    n_social_orgs = max(3, round(n * config.social_orgs_per_person))
    # outsiders: persons some department knows but who are not registered here
    n_rep_outsiders = plan_count(
        config, "legal_rep_not_in_population", n_enterprises, plan
    ) + plan_count(config, "legal_rep_not_in_population", n_social_orgs, plan)
    n_driver_outsiders = plan_count(config, "licence_holder_not_in_population", int(n * 0.3), plan)
    n_owner_outsiders = plan_count(config, "licence_holder_not_in_population", int(n * 0.35), plan)
    n_unregistered = plan_count(config, "licence_holder_not_in_legal_entity", n_enterprises, plan)

    pools = build_pools(seed, min(800, max(60, n // 100)))
    persons, households = build_population(
        n,
        config.start,
        pools,
        juris,
        int(stream(seed, "population").integers(1 << 31)),
        n_outsiders=n_rep_outsiders + n_driver_outsiders + n_owner_outsiders,
    )
    outsiders = np.flatnonzero(~persons.in_hukou)
    rep_outsiders = outsiders[:n_rep_outsiders]
    driver_outsiders = outsiders[n_rep_outsiders : n_rep_outsiders + n_driver_outsiders]
    owner_outsiders = outsiders[n_rep_outsiders + n_driver_outsiders :]

    _deaths_before_start(config, persons, start_ord, stream(seed, "deaths"))

    n_business = round((n_enterprises + n_social_orgs + n_unregistered) * 1.4) + 8
    urban = stream(seed, "urban").random(len(households.numbers)) < config.urban_share
    households.urban = urban
    land = build_land(
        juris,
        urban,
        n_business,
        pools,
        config.center_lonlat,
        config.extent_km,
        stream(seed, "land"),
    )
    households.unit = land.household_unit

    ages = (start_ord - persons.birth) / _YEAR
    living = persons.in_hukou & (persons.death == 0)
    rep_pool = np.flatnonzero(living & (ages >= 28) & (ages < 68))
    factory = EntityFactory(juris, pools, stream(seed, "entities"))
    entities = build_entities(
        n_enterprises,
        n_social_orgs,
        n_unregistered,
        rep_pool,
        land.business_units,
        start_ord,
        factory,
    )
    world = World(
        config=config,
        juris=juris,
        pools=pools,
        persons=persons,
        households=households,
        land=land,
        entities=entities,
        factory=factory,
        start_ord=start_ord,
        employer=np.full(len(persons), -1, np.int64),
        insured_since=np.zeros(len(persons), np.int64),
        insurance_types=np.zeros(len(persons), np.int8),
        insurance_status=np.zeros(len(persons), np.int8),
        licence_class=np.full(len(persons), -1, np.int8),
        licence_first=np.zeros(len(persons), np.int64),
        licence_from=np.zeros(len(persons), np.int64),
        licence_to=np.zeros(len(persons), np.int64),
        licence_status=np.zeros(len(persons), np.int8),
        licence_file=np.zeros(len(persons), np.int64),
        school=np.full(len(persons), -1, np.int64),
        grade=np.zeros(len(persons), np.int8),
        enrolled_on=np.zeros(len(persons), np.int64),
        student_status=np.zeros(len(persons), np.int8),
        schools=[],
        owner_person=np.full(len(land.unit_numbers), -1, np.int64),
        owner_entity=np.full(len(land.unit_numbers), -1, np.int64),
        certificate=[""] * len(land.unit_numbers),
        property_registered=np.zeros(len(land.unit_numbers), np.int64),
        property_issued=np.zeros(len(land.unit_numbers), np.int64),
        property_status=np.zeros(len(land.unit_numbers), np.int8),
        marriages=Registry(),
        births=Registry(),
        deaths=Registry(),
    )
    _legal_rep_outsiders(world, rep_outsiders, plan)
    _employment(world, stream(seed, "employment"))
    _students(world, stream(seed, "students"))
    _driving_licences(world, driver_outsiders, stream(seed, "driving"))
    _marriage_registry(world)
    _birth_registry(world, stream(seed, "births"))
    _death_registry(world, stream(seed, "death_registry"))
    _real_estate(world, owner_outsiders, stream(seed, "real_estate"))
    _world_defects(world, plan)
    return world


def mortality(age: np.ndarray) -> np.ndarray:
    """Yearly probability of dying at ``age`` (a Gompertz curve near Chinese life tables)."""
    return np.minimum(0.00025 * np.exp(0.085 * np.maximum(age - 20, 0)), 0.5)


def _deaths_before_start(
    config: SynthConfig, persons: Persons, start_ord: int, rng: np.random.Generator
) -> None:
    """Residents who died in the year before the first delivery: they stay in the register as
    死亡注销 and in the death certificates, and their spouses are widowed."""
    ages = (start_ord - persons.birth) / _YEAR
    candidates = np.flatnonzero(persons.in_hukou & (ages >= 18))
    weights = mortality(ages[candidates])
    expected = config.persons * config.deaths_per_1000 / 1000
    count = min(len(candidates), int(rng.poisson(expected)))
    if count == 0:
        return
    dead = rng.choice(candidates, count, replace=False, p=weights / weights.sum())
    persons.death[dead] = start_ord - rng.integers(2, 365, count)
    for d in dead.tolist():
        s = persons.spouse[d]
        if s >= 0 and persons.death[s] == 0:
            persons.marital[s] = WIDOWED


def _legal_rep_outsiders(world: World, outsiders: np.ndarray, rng: np.random.Generator) -> None:
    """Gives some enterprises and social organisations a legal representative who is not in the
    population base (an outsider), and records them for the manifest."""
    e = world.entities
    n_social = int(min(len(outsiders), max(world.config.min_per_kind, 0)))
    social = np.flatnonzero((e.kind == SOCIAL_ORG) & np.array([s == "active" for s in e.status]))
    enterprise = np.flatnonzero(
        (e.kind == ENTERPRISE) & np.array([s == "active" for s in e.status])
    )
    chosen_social = (
        rng.choice(social, min(n_social, len(social)), replace=False) if len(social) else []
    )
    rest = len(outsiders) - len(chosen_social)
    chosen_ent = rng.choice(enterprise, min(rest, len(enterprise)), replace=False)
    for entity, person in zip(
        list(chosen_social) + list(chosen_ent), outsiders.tolist(), strict=False
    ):
        e.legal_rep[entity] = person
        resource = "mzj.social_org" if e.kind[entity] == SOCIAL_ORG else "scjgj.enterprise"
        world.mark("legal_rep_not_in_population", resource, [entity])


def _employment(world: World, rng: np.random.Generator) -> None:
    """Employees of active entities, insured through their employer (职工社会保险)."""
    p, e = world.persons, world.entities
    start = world.start_ord
    ages = (start - p.birth) / _YEAR
    death_or_start = np.where(p.death > 0, p.death, start)
    age_then = (death_or_start - p.birth) / _YEAR
    working = p.in_hukou & (age_then >= 18) & (age_then < 60) & (ages >= 18)
    probability = np.where(p.sex == MALE, 0.42, 0.32)
    employed = np.flatnonzero(working & (rng.random(len(p)) < probability))
    employers = np.flatnonzero(
        (e.kind != UNREGISTERED)
        & np.array([s == "active" for s in e.status])
        & (e.established < start - 60)
    )
    # a city without a single insured person among the dead could not show the "deceased
    # still insured" inconsistency: employ one working-age deceased person if need be
    dead_working = np.flatnonzero(working & (p.death > 0))
    if len(dead_working) and not np.isin(dead_working, employed).any():
        employed = np.union1d(employed, dead_working[:1])
    weights = e.size_weight[employers]
    chosen = rng.choice(employers, len(employed), p=weights / weights.sum())
    world.employer[employed] = chosen
    earliest = np.maximum.reduce(
        [
            e.established[chosen] + 30,
            p.birth[employed] + int(18 * _YEAR),
            np.full(len(employed), datetime.date(2000, 1, 1).toordinal()),
        ]
    )
    latest = death_or_start[employed] - 1
    world.insured_since[employed] = earliest + (
        np.maximum(latest - earliest, 0) * rng.random(len(employed))
    ).astype(np.int64)
    types = (
        1
        | 2
        | np.where(rng.random(len(employed)) < 0.85, 4, 0)
        | np.where(rng.random(len(employed)) < 0.9, 8, 0)
    )
    world.insurance_types[employed] = types
    world.insurance_status[employed] = np.where(
        p.death[employed] > 0, INSURANCE_TERMINATED, INSURANCE_ACTIVE
    )


def _students(world: World, rng: np.random.Generator) -> None:
    """Primary and secondary students (学籍) of the county's schools."""
    p, juris = world.persons, world.juris
    start = datetime.date.fromordinal(world.start_ord)
    school_year = start.year if start.month >= 9 else start.year - 1
    birth_years = years_of(p.birth)
    entry_year = birth_years + 6 + (months_of(p.birth) >= 9)
    grade = school_year - entry_year + 1
    eligible = np.flatnonzero(
        p.in_hukou & (p.death == 0) & (grade >= 1) & (grade <= 12) & (rng.random(len(p)) < 0.96)
    )
    towns = [
        name.removesuffix("街道").removesuffix("镇").removesuffix("乡")
        for name in world.land.township_names
    ]
    primary = [f"{juris.county}{town}小学" for town in towns]
    junior = [f"{juris.county}第{i + 1}初级中学" for i in range(max(1, len(towns) // 2))]
    senior = [f"{juris.county}第一高级中学", f"{juris.county}第二高级中学"]
    world.schools = primary + junior + senior
    town_of = world.land.community_township[
        world.land.parcel_community[world.land.unit_parcel[world.households.unit[p.household]]]
    ]
    g = grade[eligible]
    town = town_of[eligible]
    school = np.where(
        g <= 6,
        town,
        np.where(
            g <= 9,
            len(primary) + town % len(junior),
            len(primary) + len(junior) + rng.integers(0, 2, len(eligible)),
        ),
    )
    world.school[eligible] = school
    world.grade[eligible] = g
    stage_start = np.where(g <= 6, 1, np.where(g <= 9, 7, 10))
    enrol_year = school_year - (g - stage_start)
    world.enrolled_on[eligible] = [
        datetime.date(int(y), 9, 1).toordinal() for y in enrol_year.tolist()
    ]


def _licence_period(first: np.ndarray, on: int) -> tuple[np.ndarray, np.ndarray]:
    """The validity period (有效期) containing ``on``: 6 years first, then 10-year periods."""
    six = (6 * _YEAR) // 1
    ten = (10 * _YEAR) // 1
    after_first = on - (first + six)
    renewals = np.where(after_first >= 0, after_first // ten + 1, 0)
    start = np.where(renewals == 0, first, first + six + (renewals - 1) * ten)
    end = np.where(renewals == 0, first + six, start + ten)
    return start.astype(np.int64), end.astype(np.int64)


def _driving_licences(world: World, outsiders: np.ndarray, rng: np.random.Generator) -> None:
    """Driving licences of adults; holders who died before the first delivery have theirs
    cancelled (注销), except where a defect says otherwise."""
    p = world.persons
    start = world.start_ord
    ages = (start - p.birth) / _YEAR
    male = p.sex == MALE
    probability = np.select(
        [ages < 18, ages < 25, ages < 60, ages < 76],
        [0.0, np.where(male, 0.30, 0.20), np.where(male, 0.62, 0.38), np.where(male, 0.35, 0.08)],
        0.0,
    )
    holders = np.flatnonzero(p.in_hukou & (rng.random(len(p)) < probability))
    holders = np.union1d(holders, outsiders)
    earliest = np.maximum(p.birth[holders] + int(18 * _YEAR), datetime.date(1992, 1, 1).toordinal())
    until = np.where(p.death[holders] > 0, p.death[holders], start) - 30
    first = earliest + (np.maximum(until - earliest, 0) * rng.random(len(holders))).astype(np.int64)
    valid_from, valid_to = _licence_period(first, start)
    world.licence_class[holders] = rng.choice(
        len(DRIVING_CLASSES), len(holders), p=_DRIVING_SHARES / _DRIVING_SHARES.sum()
    )
    world.licence_first[holders] = first
    world.licence_from[holders] = valid_from
    world.licence_to[holders] = valid_to
    status = rng.choice(4, len(holders), p=[0.99, 0.005, 0.005, 0.0])
    status[p.death[holders] > 0] = CANCELLED
    world.licence_status[holders] = status
    prefix = int(world.juris.code[:4]) * 100_000_000
    world.licence_file[holders] = prefix + rng.choice(100_000_000, len(holders), replace=False)
    world.mark("licence_holder_not_in_population", "gaj.driving_licence", outsiders)


def marriage_number(world: World, kind: str, day: int) -> str:
    """结婚证字号 / 离婚证字号: J (marriage) or L (divorce) + the county code of that year +
    year + sequence, e.g. J410622-2015-000123."""
    year = datetime.date.fromordinal(day).year
    key = (kind, year)
    world.certificate_seq[key] = world.certificate_seq.get(key, 0) + 1  # type: ignore[index]
    prefix = "J" if kind != "divorce" else "L"
    return f"{prefix}{world.juris.code_at(year)}-{year}-{world.certificate_seq[key]:06d}"  # type: ignore[index]


def _marriage_registry(world: World) -> None:
    """Marriage registrations (婚姻登记) of the couples living in the county."""
    p = world.persons
    husbands = np.flatnonzero((p.sex == MALE) & (p.spouse >= 0) & p.in_hukou)
    husbands = husbands[np.argsort(p.married_on[husbands], kind="stable")]
    days = p.married_on[husbands]
    years = years_of(days)
    # sequence numbers restart every year: rank within the year, in date order
    first_of_year = np.searchsorted(years, years, side="left")
    sequence = np.arange(len(years)) - first_of_year + 1
    for year, count in zip(*np.unique(years, return_counts=True), strict=True):
        world.certificate_seq[("marriage", int(year))] = int(count)  # type: ignore[index]
    codes = {int(y): world.juris.code_at(int(y)) for y in np.unique(years)}
    world.marriages.extend(
        number=[
            f"J{codes[y]}-{y}-{n:06d}"
            for y, n in zip(years.tolist(), sequence.tolist(), strict=True)
        ],
        kind=["marriage"] * len(husbands),
        day=days.tolist(),
        male=husbands.tolist(),
        female=p.spouse[husbands].tolist(),
    )


def _birth_registry(world: World, rng: np.random.Generator) -> None:
    """Birth certificates (出生医学证明) of the children born in the three years before."""
    p = world.persons
    since = world.start_ord - int(3 * _YEAR)
    children = np.flatnonzero((p.birth >= since) & (p.mother >= 0) & p.in_hukou)
    for child in children[np.argsort(p.birth[children], kind="stable")].tolist():
        add_birth_certificate(world, child, rng, id_known=bool(rng.random() < 0.7))


def add_birth_certificate(
    world: World, child: int, rng: np.random.Generator, id_known: bool
) -> int:
    """Registers a birth certificate for ``child``; the child's ID is filled in later."""
    p, juris = world.persons, world.juris
    born = int(p.birth[child])
    year = datetime.date.fromordinal(born).year
    seq = len(world.births) + 1
    letter = "OPQRSTUVWX"[year % 10]
    hospitals = (
        f"{juris.county}人民医院",
        f"{juris.county}妇幼保健院",
        f"{juris.county}中医院",
        f"{juris.prefecture or juris.county}人民医院",
    )
    return world.births.add(
        number=f"{letter}{juris.code[:2]}{seq:07d}",
        child=child,
        mother=int(p.mother[child]),
        father=int(p.father[child]),
        day=born,
        place=hospitals[int(rng.integers(len(hospitals)))],
        issued=born + int(rng.integers(1, 4)),
        id_known=id_known,
    )


def _death_registry(world: World, rng: np.random.Generator) -> None:
    """Death certificates (死亡医学证明) of the residents who died before the first delivery."""
    dead = np.flatnonzero(world.persons.death > 0)
    for person in dead[np.argsort(world.persons.death[dead], kind="stable")].tolist():
        add_death_certificate(world, person, rng)


def add_death_certificate(world: World, person: int, rng: np.random.Generator) -> int:
    day = int(world.persons.death[person])
    year = datetime.date.fromordinal(day).year
    return world.deaths.add(
        number=f"{year}{world.juris.code}{len(world.deaths) + 1:06d}",
        person=person,
        day=day,
        place=DEATH_PLACES[int(rng.choice(len(DEATH_PLACES), p=[0.6, 0.3, 0.05, 0.03, 0.02]))],
        cause=DEATH_CAUSES[int(rng.integers(len(DEATH_CAUSES)))],
        issued=day + int(rng.integers(0, 3)),
    )


def _real_estate(world: World, outsiders: np.ndarray, rng: np.random.Generator) -> None:
    """Owners and certificates of every unit: households own their homes, vacant flats belong to
    a resident, an outsider or a developer, business units to an active entity."""
    p, land, e = world.persons, world.land, world.entities
    start = world.start_ord
    alive = p.in_hukou & (p.death == 0)
    adults = np.flatnonzero(alive & ((start - p.birth) / _YEAR >= 25))
    # homes: the head, else the spouse, else a living adult of the household, else an heir
    grown = alive & ((start - p.birth) / _YEAR >= 20)
    heads = world.households.head
    spouses = p.spouse[heads]
    first_grown = np.full(len(heads), len(p), np.int64)
    members = np.flatnonzero(grown & (p.household >= 0))
    np.minimum.at(first_grown, p.household[members], members)
    heirs = rng.choice(adults, len(heads))
    owner = np.where(
        grown[heads],
        heads,
        np.where(
            (spouses >= 0) & grown[np.maximum(spouses, 0)],
            spouses,
            np.where(first_grown < len(p), first_grown, heirs),
        ),
    )
    world.owner_person[world.households.unit] = owner
    vacant = np.array(land.vacant_units, np.int64)
    developers = np.flatnonzero(
        (e.kind == ENTERPRISE) & np.array([s == "active" for s in e.status])
    )
    if len(vacant):
        to_entity = rng.random(len(vacant)) < 0.25
        world.owner_entity[vacant[to_entity]] = rng.choice(developers, int(to_entity.sum()))
        world.owner_person[vacant[~to_entity]] = rng.choice(adults, int((~to_entity).sum()))
        chosen = rng.choice(
            vacant[~to_entity], min(len(outsiders), int((~to_entity).sum())), replace=False
        )
        world.owner_person[chosen] = outsiders[: len(chosen)]
        world.mark("licence_holder_not_in_population", "zrzyj.real_estate", chosen)
    # business units: the active entity there, else a developer
    occupant = {int(u): i for i, u in enumerate(e.unit.tolist()) if e.status[i] == "active"}
    for unit in land.business_units:
        entity = occupant.get(int(unit), -1)
        if entity < 0 or e.kind[entity] == UNREGISTERED:
            entity = int(rng.choice(developers))
        world.owner_entity[unit] = entity
    owned = np.flatnonzero((world.owner_person >= 0) | (world.owner_entity >= 0))
    earliest = np.maximum(
        land.parcel_registered[land.unit_parcel[owned]], datetime.date(2016, 1, 1).toordinal()
    )
    registered = earliest + ((start - 20 - earliest) * rng.random(len(owned))).astype(np.int64)
    world.property_registered[owned] = registered
    world.property_issued[owned] = np.minimum(
        registered + rng.integers(3, 15, len(owned)), start - 1
    )
    world.property_status[owned] = np.where(rng.random(len(owned)) < 0.08, 2, 0)
    order = owned[np.argsort(world.property_registered[owned], kind="stable")]
    for unit in order.tolist():
        year = datetime.date.fromordinal(int(world.property_registered[unit])).year
        world.certificate[unit] = world.next_certificate(year)


def _world_defects(world: World, plan: np.random.Generator) -> None:
    """Chooses the inconsistent states between departments (see the module docstring)."""
    p, e, config = world.persons, world.entities, world.config
    dead = p.death > 0
    insured_dead = np.flatnonzero(dead & (world.insurance_status == INSURANCE_TERMINATED))
    count = plan_count(config, "deceased_still_insured", len(insured_dead), plan)
    world.mark(
        "deceased_still_insured", "rsj.insured", plan.choice(insured_dead, count, replace=False)
    )

    licensed_dead = np.flatnonzero(dead & (world.licence_class >= 0) & p.in_hukou)
    count = plan_count(config, "deceased_holds_licence", len(licensed_dead), plan)
    world.mark(
        "deceased_holds_licence",
        "gaj.driving_licence",
        plan.choice(licensed_dead, count, replace=False),
    )

    deregistered = np.flatnonzero(
        (e.kind == ENTERPRISE) & np.array([s == "deregistered" for s in e.status])
    )
    count = plan_count(config, "deregistered_active_at_tax", len(deregistered), plan)
    world.mark(
        "deregistered_active_at_tax",
        "swj.taxpayer",
        plan.choice(deregistered, count, replace=False),
    )

    # a marriage registered after one party's death: the deceased and an unmarried resident
    dead_adults = np.flatnonzero(dead & p.in_hukou & (p.death < world.start_ord - 20))
    count = plan_count(config, "deceased_married", len(dead_adults), plan)
    singles = np.flatnonzero(p.in_hukou & (p.death == 0) & (p.marital == UNMARRIED))
    singles = singles[(world.start_ord - p.birth[singles]) / _YEAR >= 22]
    for person in plan.choice(dead_adults, count, replace=False).tolist():
        partners = singles[p.sex[singles] != p.sex[person]]
        if not len(partners):
            continue
        partner = int(plan.choice(partners))
        day = int(p.death[person]) + int(
            plan.integers(5, max(6, world.start_ord - int(p.death[person]) - 2))
        )
        male, female = (person, partner) if p.sex[person] == MALE else (partner, person)
        registration = world.marriages.add(
            number=marriage_number(world, "marriage", day),
            kind="marriage",
            day=day,
            male=male,
            female=female,
        )
        world.mark("deceased_married", "mzj.marriage", [registration])
