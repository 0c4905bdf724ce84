from __future__ import annotations

import datetime

import numpy as np
import pytest
from stdnum.cn import ric

from jobs.synth.pools import build_pools
from jobs.synth.population import FEMALE, HEAD, MALE, MARRIED, build_population
from jobs.synth.regions import jurisdiction

START = datetime.date(2025, 1, 1)


@pytest.fixture(scope="module")
def population():
    return build_population(
        12_000, START, build_pools(5, 100), jurisdiction("410622"), 5, n_outsiders=10
    )


def _ages(persons):
    return (START.toordinal() - persons.birth) / 365.25


def test_exact_number_of_residents_and_outsiders(population):
    persons, _ = population
    assert len(persons) == 12_010
    assert int(persons.in_hukou.sum()) == 12_000


def test_every_id_is_unique_and_valid(population):
    persons, _ = population
    assert len(set(persons.ids)) == len(persons.ids)
    assert all(ric.is_valid(value) for value in persons.ids)


def test_id_encodes_birth_date_and_gender(population):
    persons, _ = population
    for i in range(0, len(persons), 97):
        value = persons.ids[i]
        assert value[6:14] == datetime.date.fromordinal(int(persons.birth[i])).strftime("%Y%m%d")
        assert (int(value[16]) % 2 == 1) == (persons.sex[i] == MALE)


def test_age_pyramid_is_plausible_for_a_chinese_county(population):
    persons, _ = population
    ages = _ages(persons)[persons.in_hukou]
    children, elderly = (ages < 15).mean(), (ages >= 65).mean()
    assert 0.12 <= children <= 0.25
    assert 0.08 <= elderly <= 0.22
    assert ages.max() < 100 and ages.min() >= 0
    # the working-age middle is the widest part of the pyramid
    bands = np.histogram(ages, bins=[0, 20, 40, 60, 80, 100])[0]
    assert bands[1] > bands[0] and bands[2] > bands[3] > bands[4]


def test_sex_ratio_at_birth_is_about_1_05(population):
    persons, _ = population
    young = _ages(persons) < 18
    ratio = (young & (persons.sex == MALE)).sum() / (young & (persons.sex == FEMALE)).sum()
    assert 0.95 <= ratio <= 1.16
    overall = (persons.sex == MALE).sum() / (persons.sex == FEMALE).sum()
    assert 0.93 <= overall <= 1.08


def test_couples_are_a_man_and_a_woman_married_to_each_other(population):
    persons, _ = population
    married = np.flatnonzero(persons.spouse >= 0)
    assert len(married) > 0.4 * len(persons)
    spouses = persons.spouse[married]
    assert (persons.spouse[spouses] == married).all()
    assert (persons.sex[married] != persons.sex[spouses]).all()
    assert (persons.marital[married] == MARRIED).all()
    assert (persons.married_on[married] > persons.birth[married] + 20 * 365).all()


def test_every_household_has_one_head(population):
    persons, households = population
    heads = persons.relation[households.head]
    assert (heads == HEAD).all()
    assert (persons.household[households.head] == np.arange(len(households.numbers))).all()


def test_children_are_younger_than_their_mothers(population):
    persons, _ = population
    children = np.flatnonzero(persons.mother >= 0)
    gap = (persons.birth[children] - persons.birth[persons.mother[children]]) / 365.25
    assert gap.min() >= 17
