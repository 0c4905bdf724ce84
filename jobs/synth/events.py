"""The world between deliveries: births, deaths, marriages, divorces, moves, new enterprises,
deregistrations, changes, hires, licences, property sales.

:func:`advance` applies the events of one window (the days between two deliveries) and returns
which records changed, per resource, so that the incremental batch of each department carries
exactly those records. Every department reports each event in the batch of the window it
happened in (a death is in the death certificates, the register, the insurance and the licence
file of the same batch), so the only inconsistencies are the injected ones.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import numpy as np

from jobs.synth.entities import ENTERPRISE, ENTERPRISE_TYPES, INDUSTRIES, UNREGISTERED
from jobs.synth.population import (
    BORN_HERE,
    DAUGHTER,
    DAUGHTER_IN_LAW,
    DIVORCED,
    FEMALE,
    GRANDDAUGHTER,
    GRANDSON,
    HEAD,
    MALE,
    MARRIED,
    OTHER,
    P_MALE_BIRTH,
    SON,
    SPOUSE,
    UNMARRIED,
    WIDOWED,
    assign_ids,
)
from jobs.synth.world import (
    CANCELLED,
    INSURANCE_ACTIVE,
    INSURANCE_TERMINATED,
    VALID,
    World,
    add_birth_certificate,
    add_death_certificate,
    marriage_number,
    mortality,
    stream,
)

_YEAR = 365.25
#: Per-person arrays of :class:`World` that grow when a child is born, with their fill value.
_PERSON_ARRAYS = {
    "employer": -1,
    "insured_since": 0,
    "insurance_types": 0,
    "insurance_status": 0,
    "licence_class": -1,
    "licence_first": 0,
    "licence_from": 0,
    "licence_to": 0,
    "licence_status": 0,
    "licence_file": 0,
    "school": -1,
    "grade": 0,
    "enrolled_on": 0,
    "student_status": 0,
}


@dataclass
class Changes:
    """What one window changed: resource id → refs to re-deliver, and the event log.

    Grain of ``events``: one entry per event (day, kind, subject key, detail).
    """

    refs: dict[str, set[int]] = field(default_factory=dict)
    events: list[tuple[int, str, str, str]] = field(default_factory=list)

    def touch(self, resource: str, *refs: int) -> None:
        self.refs.setdefault(resource, set()).update(int(r) for r in refs)

    def log(self, day: int, kind: str, key: str, detail: str = "") -> None:
        self.events.append((int(day), kind, key, detail))


def advance(world: World, window_start: int, window_end: int, batch: int) -> Changes:
    """Applies the events of days ``window_start`` … ``window_end`` (date ordinals, inclusive).

    Args:
        world: the world, changed in place.
        window_start: first day of the window (the previous delivery day).
        window_end: last day of the window (the day before this delivery).
        batch: the batch number, which seeds this window's random stream.
    """
    rng = stream(world.config.seed, f"events/{batch}")
    changes = Changes()
    days = window_end - window_start + 1
    _deaths(world, window_start, window_end, days, rng, changes)
    _births(world, window_start, window_end, days, rng, changes)
    _marriages(world, window_start, window_end, days, rng, changes)
    _divorces(world, window_start, window_end, days, rng, changes)
    _moves(world, window_start, window_end, days, rng, changes)
    _enterprises(world, window_start, window_end, days, rng, changes)
    _hires(world, window_start, window_end, days, rng, changes)
    _licences(world, window_start, window_end, days, rng, changes)
    _property(world, window_start, window_end, days, rng, changes)
    _transfers(world, window_start, window_end, days, rng, changes)
    return changes


def _expected(world: World, per_year: float, days: int) -> float:
    return per_year * days / 365.0 * world.config.event_scale


def _pick_days(rng: np.random.Generator, start: int, end: int, n: int) -> np.ndarray:
    return rng.integers(start, max(start, end) + 1, n)


def _living_residents(world: World, on: int) -> np.ndarray:
    # deaths are applied first in a window, so "not dead at all" also excludes the people who
    # die later in this window: nobody is hired, married or sold a flat after their death
    return world.persons.in_hukou & world.alive(on) & (world.persons.death == 0)


def _deaths(
    world: World, ws: int, we: int, days: int, rng: np.random.Generator, changes: Changes
) -> None:
    p = world.persons
    ages = (ws - p.birth) / _YEAR
    # a legal representative's death would leave the register stale, which is no defect kind
    reps = np.zeros(len(p), bool)
    reps[world.entities.legal_rep] = True
    candidates = np.flatnonzero(_living_residents(world, ws) & (ages >= 18) & ~reps)
    scale = world.config.deaths_per_1000 / 7.5 * world.config.event_scale * days / 365.0
    dying = candidates[rng.random(len(candidates)) < mortality(ages[candidates]) * scale]
    for person in dying.tolist():
        day = int(_pick_days(rng, ws, we - 2, 1)[0])
        p.death[person] = day
        certificate = add_death_certificate(world, person, rng)
        world.deaths["issued"][certificate] = min(world.deaths["issued"][certificate], we)
        changes.touch("wjw.death_cert", certificate)
        changes.touch("gaj.hukou", person)
        changes.log(day, "death", p.ids[person])
        spouse = int(p.spouse[person])
        if spouse >= 0 and p.death[spouse] == 0:
            p.marital[spouse] = WIDOWED
        if world.insurance_status[person] == INSURANCE_ACTIVE:
            world.insurance_status[person] = INSURANCE_TERMINATED
            changes.touch("rsj.insured", person)
        if world.licence_class[person] >= 0 and world.licence_status[person] != CANCELLED:
            world.licence_status[person] = CANCELLED
            changes.touch("gaj.driving_licence", person)
        # inheritance (继承): the home passes to the spouse or another adult
        for unit in np.flatnonzero(world.owner_person == person).tolist():
            heir = _heir(world, person, ws, rng)
            _register_owner(world, unit, heir, -1, min(day + int(rng.integers(1, 3)), we), we, rng)
            changes.touch("zrzyj.real_estate", unit)
            changes.log(day, "inheritance", world.land.unit_numbers[unit], p.ids[heir])


def _heir(world: World, person: int, on: int, rng: np.random.Generator) -> int:
    p = world.persons
    spouse = int(p.spouse[person])
    if spouse >= 0 and p.death[spouse] == 0:
        return spouse
    household = np.flatnonzero(
        (p.household == p.household[person]) & world.alive(on) & ((on - p.birth) / _YEAR >= 18)
    )
    household = household[household != person]
    if len(household):
        return int(household[0])
    adults = np.flatnonzero(_living_residents(world, on) & ((on - p.birth) / _YEAR >= 25))
    return int(rng.choice(adults))


def _register_owner(
    world: World, unit: int, person: int, entity: int, day: int, we: int, rng: np.random.Generator
) -> None:
    world.owner_person[unit] = person
    world.owner_entity[unit] = entity
    world.property_registered[unit] = day
    world.property_issued[unit] = min(day + int(rng.integers(1, 5)), we)
    world.property_status[unit] = 0
    world.certificate[unit] = world.next_certificate(datetime.date.fromordinal(day).year)


def _grow(world: World, n: int) -> None:
    for name, fill in _PERSON_ARRAYS.items():
        current = getattr(world, name)
        setattr(world, name, np.concatenate([current, np.full(n, fill, current.dtype)]))


def _births(
    world: World, ws: int, we: int, days: int, rng: np.random.Generator, changes: Changes
) -> None:
    p = world.persons
    ages = (ws - p.birth) / _YEAR
    alive = world.alive(ws)
    spouse_alive = np.zeros(len(p), bool)
    has_spouse = p.spouse >= 0
    spouse_alive[has_spouse] = alive[p.spouse[has_spouse]]
    mothers = np.flatnonzero(
        p.in_hukou
        & alive
        & (p.sex == FEMALE)
        & (p.marital == MARRIED)
        & spouse_alive
        & (ages >= 20)
        & (ages < 43)
    )
    if not len(mothers):
        return
    fertility = np.exp(-(((ages[mothers] - 28.0) / 5.5) ** 2))
    expected = _expected(world, world.config.persons * world.config.births_per_1000 / 1000, days)
    count = min(len(mothers), int(rng.poisson(expected)))
    if count == 0:
        return
    chosen = rng.choice(mothers, count, replace=False, p=fertility / fertility.sum())
    lag_max = max(0, min(14, days - 1))
    lags = rng.integers(0, lag_max + 1, count)
    birth = np.array([_pick_days(rng, ws, we - lag, 1)[0] for lag in lags.tolist()], np.int64)
    sex = np.where(rng.random(count) < P_MALE_BIRTH, MALE, FEMALE).astype(np.int8)
    fathers = p.spouse[chosen]
    origin = np.full(count, BORN_HERE, np.int8)
    ids = assign_ids(birth, sex, origin, world.juris, rng)
    relation_of_mother = p.relation[chosen]
    relation = np.where(
        np.isin(relation_of_mother, (HEAD, SPOUSE)),
        np.where(sex == MALE, SON, DAUGHTER),
        np.where(
            relation_of_mother == DAUGHTER_IN_LAW,
            np.where(sex == MALE, GRANDSON, GRANDDAUGHTER),
            OTHER,
        ),
    )
    n_male = len(world.pools.given_male)
    given = np.where(
        sex == MALE,
        rng.integers(0, n_male, count),
        n_male + rng.integers(0, len(world.pools.given_female), count),
    )
    first = len(p)
    p.append(
        ids=ids,
        sex=sex,
        birth=birth,
        surname=p.surname[fathers],
        given=given,
        ethnicity=p.ethnicity[fathers],
        household=p.household[chosen],
        relation=relation,
        marital=np.full(count, UNMARRIED),
        spouse=np.full(count, -1),
        married_on=np.zeros(count),
        death=np.zeros(count),
        in_hukou=np.ones(count, bool),
        hukou_since=np.minimum(birth + lags, we),
        phone=np.zeros(count),
        origin=origin,
        mother=chosen,
        father=fathers,
    )
    _grow(world, count)
    for child in range(first, first + count):
        certificate = add_birth_certificate(world, child, rng, id_known=False)
        world.births["issued"][certificate] = min(world.births["issued"][certificate], we)
        changes.touch("wjw.birth_cert", certificate)
        changes.touch("gaj.hukou", child)
        changes.log(int(p.birth[child]), "birth", p.ids[child], p.ids[int(p.mother[child])])


def _marriages(
    world: World, ws: int, we: int, days: int, rng: np.random.Generator, changes: Changes
) -> None:
    p = world.persons
    ages = (ws - p.birth) / _YEAR
    base = _living_residents(world, ws) & (p.marital == UNMARRIED)
    men = np.flatnonzero(base & (p.sex == MALE) & (ages >= 22) & (ages < 45))
    # a woman joins her husband's household: only daughters and women living alone move
    movable = np.isin(p.relation, (DAUGHTER, GRANDDAUGHTER, OTHER)) | _alone(world)
    women = np.flatnonzero(base & (p.sex == FEMALE) & (ages >= 20) & (ages < 43) & movable)
    expected = _expected(world, world.config.persons * world.config.marriages_per_1000 / 1000, days)
    count = min(len(men), len(women), int(rng.poisson(expected)))
    if count == 0:
        return
    husbands = rng.choice(men, count, replace=False)
    wives = rng.choice(women, count, replace=False)
    for h, w in zip(husbands.tolist(), wives.tolist(), strict=True):
        if p.household[h] == p.household[w]:
            continue
        day = int(_pick_days(rng, ws, we, 1)[0])
        p.marital[h] = p.marital[w] = MARRIED
        p.spouse[h], p.spouse[w] = w, h
        p.married_on[h] = p.married_on[w] = day
        p.household[w] = p.household[h]
        p.relation[w] = (
            SPOUSE if p.relation[h] == HEAD else DAUGHTER_IN_LAW if p.relation[h] == SON else OTHER
        )
        registration = world.marriages.add(
            number=marriage_number(world, "marriage", day),
            kind="marriage",
            day=day,
            male=h,
            female=w,
        )
        changes.touch("mzj.marriage", registration)
        changes.touch("gaj.hukou", w)
        changes.log(day, "marriage", p.ids[h], p.ids[w])


def _alone(world: World) -> np.ndarray:
    p = world.persons
    sizes = np.bincount(p.household[p.household >= 0], minlength=len(world.households.numbers))
    alone = np.zeros(len(p), bool)
    resident = p.household >= 0
    alone[resident] = sizes[p.household[resident]] == 1
    return alone


def _divorces(
    world: World, ws: int, we: int, days: int, rng: np.random.Generator, changes: Changes
) -> None:
    p = world.persons
    alive = _living_residents(world, ws)
    husbands = np.flatnonzero(alive & (p.sex == MALE) & (p.marital == MARRIED) & (p.spouse >= 0))
    husbands = husbands[alive[p.spouse[husbands]] & (p.married_on[husbands] < ws)]
    expected = _expected(world, world.config.persons * world.config.divorces_per_1000 / 1000, days)
    count = min(len(husbands), int(rng.poisson(expected)))
    for h in rng.choice(husbands, count, replace=False).tolist() if count else []:
        w = int(p.spouse[h])
        day = int(_pick_days(rng, ws, we, 1)[0])
        p.marital[h] = p.marital[w] = DIVORCED
        p.spouse[h] = p.spouse[w] = -1
        registration = world.marriages.add(
            number=marriage_number(world, "divorce", day), kind="divorce", day=day, male=h, female=w
        )
        changes.touch("mzj.marriage", registration)
        changes.log(day, "divorce", p.ids[h], p.ids[w])


def _moves(
    world: World, ws: int, we: int, days: int, rng: np.random.Generator, changes: Changes
) -> None:
    """Households moving into a vacant flat (the landlord keeps the property)."""
    p, land = world.persons, world.land
    if not land.vacant_units:
        return
    expected = _expected(
        world, len(world.households.numbers) * world.config.moves_per_1000_households / 1000, days
    )
    count = min(len(land.vacant_units), int(rng.poisson(expected)))
    movers = rng.choice(len(world.households.numbers), count, replace=False) if count else []
    alive = _living_residents(world, ws)
    for hh in np.asarray(movers).tolist():
        members = np.flatnonzero((p.household == hh) & alive)
        if not len(members):
            continue
        unit = land.vacant_units.pop(int(rng.integers(len(land.vacant_units))))
        world.households.unit[hh] = unit
        day = int(_pick_days(rng, ws, we, 1)[0])
        changes.touch("gaj.hukou", *members.tolist())
        changes.log(day, "move", world.households.numbers[hh], land.unit_address_codes[unit])


def _active_enterprises(world: World) -> np.ndarray:
    e = world.entities
    return np.flatnonzero((e.kind == ENTERPRISE) & np.array([s == "active" for s in e.status]))


def _free_business_unit(world: World, rng: np.random.Generator) -> int:
    e, land = world.entities, world.land
    occupied = {int(u) for u, s in zip(e.unit.tolist(), e.status, strict=True) if s == "active"}
    free = [u for u in land.business_units if u not in occupied]
    pool = free or land.business_units
    return int(pool[int(rng.integers(len(pool)))])


def _enterprises(
    world: World, ws: int, we: int, days: int, rng: np.random.Generator, changes: Changes
) -> None:
    """New enterprises, deregistrations (注销) and registered changes (变更)."""
    p, e = world.persons, world.entities
    active = _active_enterprises(world)
    ages = (ws - p.birth) / _YEAR
    reps = np.flatnonzero(_living_residents(world, ws) & (ages >= 25) & (ages < 65))
    n_new = int(rng.poisson(_expected(world, len(active) * 0.10, days)))
    shares = np.array([t[2] for t in ENTERPRISE_TYPES])
    industry_shares = np.array([i[1] for i in INDUSTRIES])
    for _ in range(n_new):
        day = int(_pick_days(rng, ws, we, 1)[0])
        type_index = int(rng.choice(len(shares), p=shares / shares.sum()))
        industry = (
            0
            if type_index == len(shares) - 1
            else int(rng.choice(len(INDUSTRIES), p=industry_shares / industry_shares.sum()))
        )
        entity = len(e)
        e.append(
            uscc=[world.factory.uscc("9", ENTERPRISE_TYPES[type_index][1], day)],
            names=[world.factory.enterprise_name(type_index, industry)],
            kind=[ENTERPRISE],
            type_index=[type_index],
            industry=[industry],
            legal_rep=[int(rng.choice(reps))],
            capital=[float(rng.choice([10.0, 50.0, 100.0, 200.0, 500.0]))],
            established=[day],
            status=["active"],
            status_on=[day],
            updated=[day],
            unit=[_free_business_unit(world, rng)],
            size_weight=[float(rng.lognormal(0.0, 1.0))],
            general_taxpayer=[False],
            tax_registered=[min(day + int(rng.integers(0, 5)), we)],
            licence_issued=[day],
            licence_valid_to=[0],
        )
        for resource in ("scjgj.enterprise", "scjgj.business_licence", "swj.taxpayer"):
            changes.touch(resource, entity)
        changes.log(day, "enterprise_registered", e.uscc[entity])

    n_closed = min(len(active), int(rng.poisson(_expected(world, len(active) * 0.05, days))))
    closing = rng.choice(active, n_closed, replace=False) if n_closed else []
    for entity in np.asarray(closing).tolist():
        if e.established[entity] >= ws:
            continue
        day = int(_pick_days(rng, ws, we, 1)[0])
        e.status[entity] = "deregistered"
        e.status_on[entity] = day
        for resource in ("scjgj.enterprise", "scjgj.business_licence", "swj.taxpayer"):
            changes.touch(resource, entity)
        employees = np.flatnonzero(
            (world.employer == entity) & (world.insurance_status == INSURANCE_ACTIVE)
        )
        world.insurance_status[employees] = INSURANCE_TERMINATED
        changes.touch("rsj.insured", *employees.tolist())
        changes.log(day, "enterprise_deregistered", e.uscc[entity])

    still_active = np.array([s == "active" for s in e.status])
    active = np.flatnonzero((e.kind == ENTERPRISE) & still_active & (e.established < ws))
    n_changed = min(len(active), int(rng.poisson(_expected(world, len(active) * 0.08, days))))
    for entity in rng.choice(active, n_changed, replace=False) if n_changed else []:
        entity = int(entity)
        day = int(_pick_days(rng, ws, we, 1)[0])
        what = rng.random()
        if what < 0.5:
            e.legal_rep[entity] = int(rng.choice(reps))
            detail = "legal_representative"
        elif what < 0.7:
            e.names[entity] = world.factory.enterprise_name(
                int(e.type_index[entity]), int(e.industry[entity])
            )
            detail = "name"
        else:
            e.unit[entity] = _free_business_unit(world, rng)
            detail = "address"
        e.updated[entity] = day
        e.licence_issued[entity] = day
        for resource in ("scjgj.enterprise", "scjgj.business_licence", "swj.taxpayer"):
            changes.touch(resource, entity)
        changes.log(day, "enterprise_changed", e.uscc[entity], detail)


def _hires(
    world: World, ws: int, we: int, days: int, rng: np.random.Generator, changes: Changes
) -> None:
    p, e = world.persons, world.entities
    ages = (ws - p.birth) / _YEAR
    candidates = np.flatnonzero(
        _living_residents(world, ws)
        & (ages >= 18)
        & (ages < 59)
        & (world.insurance_status == 0)
        & (world.school < 0)
    )
    employed = int((world.insurance_status == INSURANCE_ACTIVE).sum())
    count = min(len(candidates), int(rng.poisson(_expected(world, employed * 0.06, days))))
    if count == 0:
        return
    employers = np.flatnonzero(
        (e.kind != UNREGISTERED)
        & np.array([s == "active" for s in e.status])
        & (e.established < ws)
    )
    hired = rng.choice(candidates, count, replace=False)
    chosen = rng.choice(employers, count)
    for person, employer in zip(hired.tolist(), chosen.tolist(), strict=True):
        day = int(_pick_days(rng, ws, we, 1)[0])
        world.employer[person] = employer
        world.insured_since[person] = day
        world.insurance_types[person] = 1 | 2 | 4 | 8 if rng.random() < 0.8 else 1 | 2
        world.insurance_status[person] = INSURANCE_ACTIVE
        changes.touch("rsj.insured", person)
        changes.log(day, "hired", p.ids[person], e.uscc[employer])


def _licences(
    world: World, ws: int, we: int, days: int, rng: np.random.Generator, changes: Changes
) -> None:
    """New driving licences and renewals (换证) before a validity period ends."""
    p = world.persons
    alive = _living_residents(world, ws)
    holders = world.licence_class >= 0
    due = np.flatnonzero(
        holders & alive & (world.licence_status == VALID) & (world.licence_to <= we + 1)
    )
    for person in due.tolist():
        day = int(_pick_days(rng, ws, min(we, int(world.licence_to[person]) - 1), 1)[0])
        world.licence_from[person] = day
        world.licence_to[person] = day + int(10 * _YEAR)
        changes.touch("gaj.driving_licence", person)
        changes.log(day, "licence_renewed", p.ids[person])
    ages = (ws - p.birth) / _YEAR
    candidates = np.flatnonzero(alive & ~holders & (ages >= 18) & (ages < 60))
    count = min(
        len(candidates), int(rng.poisson(_expected(world, world.config.persons * 0.012, days)))
    )
    if count == 0:
        return
    used = set(world.licence_file[holders].tolist())
    prefix = int(world.juris.code[:4]) * 100_000_000
    for person in rng.choice(candidates, count, replace=False).tolist():
        day = int(_pick_days(rng, ws, we, 1)[0])
        number = prefix + int(rng.integers(100_000_000))
        while number in used:
            number = prefix + int(rng.integers(100_000_000))
        used.add(number)
        world.licence_class[person] = 0
        world.licence_first[person] = world.licence_from[person] = day
        world.licence_to[person] = day + int(6 * _YEAR)
        world.licence_status[person] = VALID
        world.licence_file[person] = number
        changes.touch("gaj.driving_licence", person)
        changes.log(day, "licence_issued", p.ids[person])


def _property(
    world: World, ws: int, we: int, days: int, rng: np.random.Generator, changes: Changes
) -> None:
    """Sales (转移登记) and mortgages (抵押登记) of homes owned by residents."""
    p = world.persons
    alive = _living_residents(world, ws)
    owned = np.flatnonzero(world.owner_person >= 0)
    owned = owned[alive[world.owner_person[owned]]]
    n_sales = min(len(owned), int(rng.poisson(_expected(world, len(owned) * 0.02, days))))
    ages = (ws - p.birth) / _YEAR
    buyers = np.flatnonzero(alive & (ages >= 25))
    sold = rng.choice(owned, n_sales, replace=False) if n_sales else np.zeros(0, np.int64)
    for unit in sold.tolist():
        buyer = int(rng.choice(buyers))
        day = int(_pick_days(rng, ws, we, 1)[0])
        _register_owner(world, unit, buyer, -1, day, we, rng)
        changes.touch("zrzyj.real_estate", unit)
        changes.log(day, "property_sold", world.land.unit_numbers[unit], p.ids[buyer])
    rest = np.setdiff1d(owned, sold)
    rest = rest[world.property_status[rest] == 0]
    n_mortgages = min(len(rest), int(rng.poisson(_expected(world, len(owned) * 0.01, days))))
    for unit in rng.choice(rest, n_mortgages, replace=False) if n_mortgages else []:
        world.property_status[int(unit)] = 2
        changes.touch("zrzyj.real_estate", int(unit))
        changes.log(ws, "property_mortgaged", world.land.unit_numbers[int(unit)])


def _transfers(
    world: World, ws: int, we: int, days: int, rng: np.random.Generator, changes: Changes
) -> None:
    """Students transferring to a school outside the county (转出)."""
    students = np.flatnonzero((world.school >= 0) & (world.student_status == 0))
    count = min(len(students), int(rng.poisson(_expected(world, len(students) * 0.02, days))))
    for person in rng.choice(students, count, replace=False) if count else []:
        world.student_status[int(person)] = 1
        changes.touch("jyj.student", int(person))
        changes.log(ws, "student_transferred", world.persons.ids[int(person)])
