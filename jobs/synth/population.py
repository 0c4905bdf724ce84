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
    born_here: np.ndarray
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


def build_population(
    n_persons: int, start: datetime.date, pools: Pools, juris: Jurisdiction, seed: int
) -> tuple[Persons, Households]:
    """Builds ``n_persons`` residents in households, with IDs valid in their birth year.

    Args:
        n_persons: residents to create (the last household is cut to fit exactly).
        start: the day of the first (full) delivery; ages are ages on that day.
        pools: the name pools.
        juris: the jurisdiction; locally born residents carry its code of their birth year.
        seed: the population stream's seed.
    """
    r = random.Random(seed)
    rows: list[
        tuple[float, int, int, int, int, int, int]
    ] = []  # age, sex, relation, hh, marital, spouse offset, role
    couples: list[tuple[int, int]] = []
    parents: list[tuple[int, int, int]] = []  # child, mother, father (row numbers; -1 unknown)
    heads: list[int] = []
    urban: list[bool] = []
    hh = 0
    cumulative = list(itertools.accumulate(_HOUSEHOLD_SHARES))
    while len(rows) < n_persons:
        kind = _HOUSEHOLD_TYPES[min(bisect.bisect(cumulative, r.random()), len(cumulative) - 1)]
        first = len(rows)
        heads.append(first)
        urban.append(r.random() < 0.35)

        def add(age: float, sex: int, relation: int, marital: int) -> int:
            rows.append((age, sex, relation, hh, marital, -1, 0))
            return len(rows) - 1

        def couple(husband_age: float, relation_h: int, relation_w: int) -> tuple[int, int]:
            wife_age = max(20.5, husband_age - r.gauss(2, 2))
            h = add(husband_age, MALE, relation_h, MARRIED)
            w = add(wife_age, FEMALE, relation_w, MARRIED)
            couples.append((h, w))
            return h, w

        def kids(mother: int, father: int, count: int, son: int, daughter: int) -> None:
            for age in _children(r, rows[mother][0], count):
                sex = MALE if r.random() < P_MALE_BIRTH else FEMALE
                marital = UNMARRIED
                child = add(age, sex, son if sex == MALE else daughter, marital)
                parents.append((child, mother, father))

        if kind == "single":
            age, sex, marital = _age_single(r)
            add(age, sex, HEAD, marital)
        elif kind == "couple":
            band = r.random()
            if band < 0.35:
                age = min(r.uniform(60, 80) + r.expovariate(1 / 4), 96)
            elif band < 0.72:
                age = r.uniform(48, 66)
            else:
                age = r.uniform(23, 45)
            couple(age, HEAD, SPOUSE)
        elif kind == "nuclear":
            h, w = couple(r.triangular(25, 60, 44), HEAD, SPOUSE)
            kids(w, h, 1 if r.random() < 0.45 else 2 if r.random() < 0.82 else 3, SON, DAUGHTER)
        elif kind == "three_gen":
            middle_age = r.uniform(26, 50)
            grand_age = middle_age + r.uniform(24, 32)
            if r.random() < 0.5:
                h, w = couple(middle_age, HEAD, SPOUSE)
                gp = (FATHER, MOTHER)
                kid_rel = (SON, DAUGHTER)
            else:
                h, w = couple(middle_age, SON, DAUGHTER_IN_LAW)
                gp = (HEAD, SPOUSE)
                kid_rel = (GRANDSON, GRANDDAUGHTER)
            if r.random() < 0.6:
                gh, gw = couple(min(grand_age, 95), *gp)
                parents.append((h, gw, gh))
            elif r.random() < 0.75:
                g = add(min(grand_age - 2, 95), FEMALE, gp[1] if gp[1] != SPOUSE else HEAD, WIDOWED)
                parents.append((h, g, -1))
            else:
                g = add(min(grand_age, 95), MALE, gp[0], WIDOWED)
                parents.append((h, -1, g))
            kids(w, h, 1 if r.random() < 0.55 else 2, *kid_rel)
            # the head is the grandparent when the middle couple are son and daughter-in-law
            heads[-1] = next(i for i in range(first, len(rows)) if rows[i][2] == HEAD)
        else:
            female = r.random() < 0.7
            age = r.uniform(28, 55)
            p = add(
                age, FEMALE if female else MALE, HEAD, DIVORCED if r.random() < 0.7 else WIDOWED
            )
            for child_age in _children(r, age if female else age - 2, 1 if r.random() < 0.6 else 2):
                sex = MALE if r.random() < P_MALE_BIRTH else FEMALE
                c = add(child_age, sex, SON if sex == MALE else DAUGHTER, UNMARRIED)
                parents.append((c, p, -1) if female else (c, -1, p))
        hh += 1
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

    n = n_persons
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
    born_here = np.ones(n, bool)
    wives = np.array([w for _, w in couples], np.int64)
    if len(wives):
        born_here[wives[rng.random(len(wives)) < 0.33]] = False
    married_on = _marriage_dates(couples, birth, mother, start_ord, rng)
    hukou_since = np.where(born_here, birth + rng.integers(3, 60, n), 0)
    migrants = ~born_here
    hukou_since[migrants] = np.maximum(
        married_on[migrants], birth[migrants] + 18 * 365
    ) + rng.integers(5, 90, int(migrants.sum()))
    hukou_since = np.minimum(hukou_since, start_ord - 1)

    ids = assign_ids(birth, sex, born_here, juris, rng)
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
        in_hukou=np.ones(n, bool),
        hukou_since=hukou_since.astype(np.int64),
        phone=phone,
        born_here=born_here,
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
    earliest = np.maximum.reduce(
        [
            birth[husbands] + 22 * 366,
            birth[wives] + 20 * 366,
            np.full(len(pairs), datetime.date(1980, 1, 1).toordinal()),
        ]
    )
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
    born_here: np.ndarray,
    juris: Jurisdiction,
    rng: np.random.Generator,
    foreign_province_only: np.ndarray | None = None,
) -> list[str]:
    """Citizen IDs: region code valid in the birth year, birth date, order code, check.

    The order code (顺序码) is unique within (region, birth date) and odd for men, even for
    women; ranks are computed with a sort, not a Python set, so a million IDs take a second.

    Args:
        foreign_province_only: persons whose region must be outside the jurisdiction's province
            (outsiders), so they can never collide with a resident's identity.
    """
    n = len(birth)
    years = years_of(birth)
    regions = np.empty(n, dtype=object)
    local_codes = {int(y): juris.code_at(int(y)) for y in np.unique(years)}
    for i in np.flatnonzero(born_here):
        regions[i] = local_codes[int(years[i])]
    elsewhere = np.flatnonzero(~born_here)
    if len(elsewhere):
        same_province = 0.0 if foreign_province_only is not None else 0.7
        codes = migrant_codes(years[elsewhere], rng, juris.province_code, same_province)
        if foreign_province_only is not None:
            codes = [c if c[:2] != juris.province_code else "110105" for c in codes]
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
