"""Persons in households (户): ages, sexes, names, marriages and citizen IDs.

Households are built by type (one person, couple, couple with children, three generations,
single parent) with ages drawn so that the county's age pyramid is plausible: a narrow base
(births have fallen), a bulge at 30-60 and an ageing top. Children are male with probability
1.05/2.05, the sex ratio at birth the brief asks for. Children carry their father's surname and
ethnicity; wives keep their own surname and are sometimes born elsewhere (another county of the
province or of the country), so their ID region codes differ.

Everything is stored in numpy arrays indexed by person number; strings are indices into the
Faker pools, so a million persons fit in a few hundred megabytes.
"""

from __future__ import annotations

import bisect
import datetime
import itertools
import random
from dataclasses import dataclass, field

import numpy as np

from jobs.synth import keys
from jobs.synth.pools import Pools
from jobs.synth.regions import Jurisdiction, migrant_codes

#: 与户主关系 (relation to the household head) names, indexed by the ``relation`` array.
RELATIONS = ("户主", "配偶", "子", "女", "父亲", "母亲", "孙子", "孙女", "儿媳", "其他")
HEAD, SPOUSE, SON, DAUGHTER, FATHER, MOTHER, GRANDSON, GRANDDAUGHTER, DAUGHTER_IN_LAW, OTHER = (
    range(len(RELATIONS))
)
MALE, FEMALE = 1, 2
#: Marital status codes (婚姻状况, GB/T 2261.2).
UNMARRIED, MARRIED, WIDOWED, DIVORCED = 10, 20, 30, 40
#: Probability that a child is a boy: sex ratio at birth 1.05.
P_MALE_BIRTH = 1.05 / 2.05
#: Where a person's ID region code comes from (see :func:`assign_ids`).
BORN_HERE, BORN_ELSEWHERE, OUTSIDER = 0, 1, 2
#: Ethnicity codes (GB/T 3304) and their shares in a Henan county.
_ETHNICITY_CODES = np.array([1, 3, 11, 2, 8, 15, 6])
_ETHNICITY_SHARES = np.array([0.968, 0.018, 0.005, 0.003, 0.002, 0.002, 0.002])
#: Household types and their shares (single, couple, nuclear, three generations, single parent).
_HOUSEHOLD_TYPES = ("single", "couple", "nuclear", "three_gen", "single_parent")
_HOUSEHOLD_SHARES = (0.16, 0.25, 0.36, 0.18, 0.05)


@dataclass
class Persons:
    """Every person of the world, indexed by person number; arrays grow with births.

    Grain: one entry per natural person, residents and the few outsiders (persons whom some
    department knows but who are not registered in the jurisdiction, ``in_hukou`` False).
    """

    ids: list[str]
    sex: np.ndarray
    birth: np.ndarray  # date ordinal
    surname: np.ndarray
    given: np.ndarray
    ethnicity: np.ndarray
    household: np.ndarray
    relation: np.ndarray
    marital: np.ndarray
    spouse: np.ndarray
    married_on: np.ndarray  # date ordinal of the current marriage, 0 if none
    death: np.ndarray  # date ordinal, 0 while alive
    in_hukou: np.ndarray
    hukou_since: np.ndarray  # date ordinal the person was registered (登记日期)
    phone: np.ndarray
    origin: np.ndarray  # BORN_HERE, BORN_ELSEWHERE or OUTSIDER
    mother: np.ndarray
    father: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def name(self, person: int, pools: Pools) -> str:
        return pools.surnames[self.surname[person]] + pools.givens[self.given[person]]

    def append(self, **columns: np.ndarray | list) -> None:
        """Adds persons (all columns given, same length), e.g. the babies of one window."""
        for column, values in columns.items():
            current = getattr(self, column)
            if isinstance(current, list):
                current.extend(values)
            else:
                setattr(self, column, np.concatenate([current, np.asarray(values, current.dtype)]))


@dataclass
class Households:
    """Grain: one entry per household (户); ``urban`` households live in apartments."""

    numbers: list[str]
    head: np.ndarray
    urban: np.ndarray
    unit: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _age_single(r: random.Random) -> tuple[float, int, int]:
    band = r.random()
    if band < 0.40:
        age = r.uniform(20, 36)
        return age, MALE if r.random() < 0.6 else FEMALE, UNMARRIED
    if band < 0.65:
        age = r.uniform(36, 60)
        return (
            age,
            MALE if r.random() < 0.55 else FEMALE,
            DIVORCED if r.random() < 0.5 else UNMARRIED,
        )
    age = min(r.uniform(60, 82) + r.expovariate(1 / 6), 99)
    return age, FEMALE if r.random() < 0.65 else MALE, WIDOWED


def _children(r: random.Random, mother_age: float, count: int) -> list[float]:
    ages = []
    for _ in range(count):
        for _attempt in range(6):
            age = mother_age - r.uniform(21, 36)
            if 0 <= age <= 30:
                ages.append(age)
                break
    return sorted(ages, reverse=True)


class _HouseholdBuilder:
    """Appends the members of one household at a time; rows are (age, sex, relation,
    household, marital status)."""

    def __init__(self, r: random.Random) -> None:
        self.r = r
        self.rows: list[tuple[float, int, int, int, int]] = []
        self.couples: list[tuple[int, int]] = []
        self.parents: list[tuple[int, int, int]] = []  # child, mother, father (-1 unknown)
        self.heads: list[int] = []
        self.urban: list[bool] = []
        self.hh = -1

    def add(self, age: float, sex: int, relation: int, marital: int) -> int:
        self.rows.append((age, sex, relation, self.hh, marital))
        return len(self.rows) - 1

    def couple(self, husband_age: float, relation_h: int, relation_w: int) -> tuple[int, int]:
        wife_age = max(20.5, husband_age - self.r.gauss(2, 2))
        h = self.add(husband_age, MALE, relation_h, MARRIED)
        w = self.add(wife_age, FEMALE, relation_w, MARRIED)
        self.couples.append((h, w))
        return h, w

    def kids(self, mother: int, father: int, count: int, son: int, daughter: int) -> None:
        for age in _children(self.r, self.rows[mother][0], count):
            sex = MALE if self.r.random() < P_MALE_BIRTH else FEMALE
            child = self.add(age, sex, son if sex == MALE else daughter, UNMARRIED)
            self.parents.append((child, mother, father))

    def household(self, kind: str) -> None:
        r = self.r
        self.hh += 1
        first = len(self.rows)
        self.heads.append(first)
        self.urban.append(r.random() < 0.35)
        if kind == "single":
            age, sex, marital = _age_single(r)
            self.add(age, sex, HEAD, marital)
        elif kind == "couple":
            band = r.random()
            if band < 0.35:
                age = min(r.uniform(60, 80) + r.expovariate(1 / 4), 96)
            elif band < 0.72:
                age = r.uniform(48, 66)
            else:
                age = r.uniform(23, 45)
            self.couple(age, HEAD, SPOUSE)
        elif kind == "nuclear":
            h, w = self.couple(r.triangular(25, 60, 44), HEAD, SPOUSE)
            count = 1 if r.random() < 0.45 else 2 if r.random() < 0.82 else 3
            self.kids(w, h, count, SON, DAUGHTER)
        elif kind == "three_gen":
            self._three_generations(first)
        else:
            female = r.random() < 0.7
            age = r.uniform(28, 55)
            marital = DIVORCED if r.random() < 0.7 else WIDOWED
            p = self.add(age, FEMALE if female else MALE, HEAD, marital)
            for child_age in _children(r, age if female else age - 2, 1 if r.random() < 0.6 else 2):
                sex = MALE if r.random() < P_MALE_BIRTH else FEMALE
                c = self.add(child_age, sex, SON if sex == MALE else DAUGHTER, UNMARRIED)
                self.parents.append((c, p, -1) if female else (c, -1, p))

    def _three_generations(self, first: int) -> None:
        r = self.r
        middle_age = r.uniform(26, 50)
        grand_age = middle_age + r.uniform(24, 32)
        if r.random() < 0.5:
            h, w = self.couple(middle_age, HEAD, SPOUSE)
            grandparents, grandchildren = (FATHER, MOTHER), (SON, DAUGHTER)
        else:
            # the grandparents head the household; the middle couple are son and daughter-in-law
            h, w = self.couple(middle_age, SON, DAUGHTER_IN_LAW)
            grandparents, grandchildren = (HEAD, SPOUSE), (GRANDSON, GRANDDAUGHTER)
        if r.random() < 0.6:
            gh, gw = self.couple(min(grand_age, 95), *grandparents)
            self.parents.append((h, gw, gh))
        elif r.random() < 0.75:
            relation = HEAD if grandparents[1] == SPOUSE else grandparents[1]
            g = self.add(min(grand_age - 2, 95), FEMALE, relation, WIDOWED)
            self.parents.append((h, g, -1))
        else:
            g = self.add(min(grand_age, 95), MALE, grandparents[0], WIDOWED)
            self.parents.append((h, -1, g))
        self.kids(w, h, 1 if r.random() < 0.55 else 2, *grandchildren)
        self.heads[-1] = next(i for i in range(first, len(self.rows)) if self.rows[i][2] == HEAD)


def build_population(
    n_persons: int,
    start: datetime.date,
    pools: Pools,
    juris: Jurisdiction,
    seed: int,
    n_outsiders: int = 0,
) -> tuple[Persons, Households]:
    """Builds ``n_persons`` residents in households, with IDs valid in their birth year.

    Args:
        n_persons: residents to create (the last household is cut to fit exactly).
        start: the day of the first (full) delivery; ages are ages on that day.
        pools: the name pools.
        juris: the jurisdiction; locally born residents carry its code of their birth year.
        seed: the population stream's seed.
        n_outsiders: persons to add after the residents who are not registered here (for the
            "missing from the population base" defects).
    """
    r = random.Random(seed)
    b = _HouseholdBuilder(r)
    cumulative = list(itertools.accumulate(_HOUSEHOLD_SHARES))
    while len(b.rows) < n_persons:
        kind = _HOUSEHOLD_TYPES[min(bisect.bisect(cumulative, r.random()), len(cumulative) - 1)]
        b.household(kind)
    rows, couples, parents, heads, urban = b.rows, b.couples, b.parents, b.heads, b.urban
    # cut the last household so the count is exact; drop links to cut persons
    rows = rows[:n_persons]
    n_households = rows[-1][3] + 1
    heads = heads[:n_households]
    if heads[-1] >= n_persons:  # the last household lost its head: its first member leads it
        first_member = next(i for i, row in enumerate(rows) if row[3] == n_households - 1)
        heads[-1] = first_member
        rows[first_member] = (*rows[first_member][:2], HEAD, *rows[first_member][3:])
    couples = [(h, w) for h, w in couples if h < n_persons and w < n_persons]
    parents = [(c, m, f) for c, m, f in parents if c < n_persons]

    # outsiders: adults registered in another province whom some department still knows
    outsider_rng = random.Random(seed + 1)
    for _ in range(n_outsiders):
        sex = MALE if outsider_rng.random() < 0.7 else FEMALE
        rows.append((outsider_rng.uniform(25, 62), sex, OTHER, -1, UNMARRIED))
    n = len(rows)
    ages = np.array([row[0] for row in rows])
    sex = np.array([row[1] for row in rows], np.int8)
    relation = np.array([row[2] for row in rows], np.int8)
    household = np.array([row[3] for row in rows], np.int64)
    marital = np.array([row[4] for row in rows], np.int16)
    spouse = np.full(n, -1, np.int64)
    for h, w in couples:
        spouse[h], spouse[w] = w, h
    # a person whose spouse was cut off by the exact count is single again
    marital[(marital == MARRIED) & (spouse < 0)] = UNMARRIED

    rng = np.random.default_rng(seed)
    start_ord = start.toordinal()
    birth = start_ord - 1 - np.floor(ages * 365.25).astype(np.int64)
    # children whose mother would have been under 18 are nudged younger
    mother = np.full(n, -1, np.int64)
    father = np.full(n, -1, np.int64)
    for c, m, f in parents:
        mother[c] = m if m < n else -1
        father[c] = f if f < n else -1
    has_mother = mother >= 0
    too_early = has_mother & (birth - birth[np.maximum(mother, 0)] < 18 * 365)
    birth[too_early] = np.minimum(birth[mother[too_early]] + 20 * 365, start_ord - 1)

    # surnames: the household head's family name runs in the male line; wives keep their own
    surname = rng.choice(len(pools.surnames), size=n, p=pools.surname_weights).astype(np.int32)
    for index in np.argsort(birth, kind="stable"):  # parents before children
        f = father[index]
        if f >= 0:
            surname[index] = surname[f]
    n_male = len(pools.given_male)
    given = np.where(
        sex == MALE,
        rng.integers(0, n_male, n),
        n_male + rng.integers(0, len(pools.given_female), n),
    ).astype(np.int32)
    ethnicity = rng.choice(_ETHNICITY_CODES, size=n, p=_ETHNICITY_SHARES).astype(np.int8)
    for index in np.argsort(birth, kind="stable"):
        f = father[index] if father[index] >= 0 else mother[index]
        if f >= 0:
            ethnicity[index] = ethnicity[f]

    # wives are born elsewhere a third of the time; everybody else here
    origin = np.full(n, BORN_HERE, np.int8)
    origin[n_persons:] = OUTSIDER
    wives = np.array([w for _, w in couples], np.int64)
    if len(wives):
        origin[wives[rng.random(len(wives)) < 0.33]] = BORN_ELSEWHERE
    married_on = _marriage_dates(couples, birth, mother, start_ord, rng)
    hukou_since = birth + rng.integers(3, 60, n)
    migrants = origin == BORN_ELSEWHERE
    hukou_since[migrants] = np.maximum(
        married_on[migrants], birth[migrants] + 18 * 365
    ) + rng.integers(5, 90, int(migrants.sum()))
    hukou_since = np.minimum(hukou_since, start_ord - 1)
    hukou_since[origin == OUTSIDER] = 0

    ids = assign_ids(birth, sex, origin, juris, rng)
    phone = _phones(rng, pools, n)
    phone[birth > start_ord - 16 * 365] = 0  # children have no phone of their own
    persons = Persons(
        ids=ids,
        sex=sex,
        birth=birth.astype(np.int64),
        surname=surname,
        given=given,
        ethnicity=ethnicity,
        household=household,
        relation=relation,
        marital=marital,
        spouse=spouse,
        married_on=married_on,
        death=np.zeros(n, np.int64),
        in_hukou=origin != OUTSIDER,
        hukou_since=hukou_since.astype(np.int64),
        phone=phone,
        origin=origin,
        mother=mother,
        father=father,
    )
    households = Households(
        numbers=household_numbers(juris, n_households, rng),
        head=np.array(heads, np.int64),
        urban=np.array(urban[:n_households], bool),
    )
    return persons, households


def _marriage_dates(
    couples: list[tuple[int, int]],
    birth: np.ndarray,
    mother: np.ndarray,
    start_ord: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Registration date of each couple's marriage: after both reached the legal age
    (men 22, women 20) and before their first child was born."""
    married_on = np.zeros(len(birth), np.int64)
    if not couples:
        return married_on
    pairs = np.array(couples, np.int64)
    husbands, wives = pairs[:, 0], pairs[:, 1]
    first_child = np.full(len(birth), start_ord - 30, np.int64)
    children = np.flatnonzero(mother >= 0)
    np.minimum.at(first_child, mother[children], birth[children])
    earliest = np.maximum(birth[husbands] + 22 * 366, birth[wives] + 20 * 366)
    latest = np.minimum.reduce(
        [first_child[wives] - 200, birth[wives] + 32 * 365, np.full(len(pairs), start_ord - 30)]
    )
    # most couples marry in their twenties: skew towards the earliest possible date
    spread = np.maximum(latest - earliest, 0)
    day = earliest + (spread * rng.random(len(pairs)) ** 1.8).astype(np.int64)
    day = np.minimum(day, start_ord - 30)
    married_on[husbands] = day
    married_on[wives] = day
    return married_on


def assign_ids(
    birth: np.ndarray,
    sex: np.ndarray,
    origin: np.ndarray,
    juris: Jurisdiction,
    rng: np.random.Generator,
) -> list[str]:
    """Citizen IDs: region code valid in the birth year, birth date, order code, check.

    The order code (顺序码) is unique within (region, birth date) and odd for men, even for
    women; ranks are computed with a sort, not a Python set, so a million IDs take a second.

    Args:
        origin: per person, :data:`BORN_HERE` (the jurisdiction's code of the birth year),
            :data:`BORN_ELSEWHERE` (a county of the province or of the country) or
            :data:`OUTSIDER` (a county of another province).
    """
    n = len(birth)
    years = years_of(birth)
    regions = np.empty(n, dtype=object)
    local_codes = {int(y): juris.code_at(int(y)) for y in np.unique(years)}
    for i in np.flatnonzero(origin == BORN_HERE):
        regions[i] = local_codes[int(years[i])]
    for kind, same_province in ((BORN_ELSEWHERE, 0.7), (OUTSIDER, 0.0)):
        elsewhere = np.flatnonzero(origin == kind)
        if len(elsewhere):
            codes = migrant_codes(
                years[elsewhere],
                rng,
                juris.province_code,
                same_province,
                exclude_province=kind == OUTSIDER,
            )
            for i, code in zip(elsewhere.tolist(), codes, strict=True):
                regions[i] = code
    region_int = np.array([int(c) for c in regions], np.int64)
    group = region_int * 10_000_000 + birth.astype(np.int64)
    order = np.lexsort((rng.random(n), sex, group))
    sorted_key = group[order] * 4 + sex[order]
    new_run = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0))
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - run_start
    offset = (group % 37) * 2  # spreads order codes without breaking uniqueness
    sequence = np.where(sex == MALE, 2 * (rank + offset) + 1, 2 * (rank + offset) + 2)
    if sequence.max(initial=0) > 999:
        raise ValueError("too many persons share one region code and birth date")
    return keys.citizen_ids(regions.tolist(), birth, sequence)


_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def years_of(ordinals: np.ndarray) -> np.ndarray:
    """Calendar years of date ordinals, vectorised."""
    days = (np.asarray(ordinals, np.int64) - _EPOCH_ORDINAL).astype("datetime64[D]")
    return days.astype("datetime64[Y]").astype(np.int64) + 1970


def months_of(ordinals: np.ndarray) -> np.ndarray:
    """Calendar months (1-12) of date ordinals, vectorised."""
    days = (np.asarray(ordinals, np.int64) - _EPOCH_ORDINAL).astype("datetime64[D]")
    return (days.astype("datetime64[M]") - days.astype("datetime64[Y]")).astype(np.int64) + 1


def household_numbers(juris: Jurisdiction, count: int, rng: np.random.Generator) -> list[str]:
    """户号: 9 digits, unique, not in order of creation (registers are renumbered over time)."""
    # spaced numbers in a random order: unique by construction, no rejection sampling
    step = max(1, 800_000_000 // max(count, 1))
    numbers = 100_000_000 + np.arange(count, dtype=np.int64) * step + rng.integers(0, step, count)
    return [str(int(v)) for v in rng.permutation(numbers)]


def _phones(rng: np.random.Generator, pools: Pools, n: int) -> np.ndarray:
    prefixes = np.array(pools.phone_prefixes, np.int64)
    phone = prefixes[rng.integers(0, len(prefixes), n)] * 100_000_000 + rng.integers(
        0, 100_000_000, n
    )
    phone[rng.random(n) < 0.12] = 0  # no phone on record
    return phone
