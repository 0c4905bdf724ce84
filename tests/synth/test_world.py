from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import shapely

from jobs.synth import keys
from jobs.synth.config import SynthConfig
from jobs.synth.entities import ENTERPRISE, ENTERPRISE_TYPES, SOCIAL_ORG, UNREGISTERED
from jobs.synth.events import advance
from jobs.synth.world import CANCELLED, INSURANCE_ACTIVE, build_world


@pytest.fixture(scope="module")
def world():
    return build_world(SynthConfig(persons=4000, seed=3, batches=3, event_scale=20.0))


def test_enterprises_start_with_9_and_social_organisations_with_5(world):
    e = world.entities
    for index, code in enumerate(e.uscc):
        assert keys.is_clean_uscc(code)
        assert code[0] == ("5" if e.kind[index] == SOCIAL_ORG else "9")
        assert code[2:8] == world.juris.code
    assert len(set(e.uscc)) == len(e.uscc)
    assert len(set(e.names)) == len(e.names)


def test_enterprise_types_follow_a_county_register(world):
    e = world.entities
    enterprises = np.flatnonzero(e.kind == ENTERPRISE)
    types = Counter(ENTERPRISE_TYPES[int(t)][0] for t in e.type_index[enterprises])
    limited = types["有限责任公司(自然人投资或控股)"] + types["有限责任公司(自然人独资)"]
    assert limited / len(enterprises) > 0.5
    assert types["农民专业合作社"] > 0
    cooperatives = [e.uscc[i] for i in enterprises if e.type_index[i] == len(ENTERPRISE_TYPES) - 1]
    assert all(code.startswith("93") for code in cooperatives)


def test_legal_representatives_are_adults_of_the_world(world):
    e, p = world.entities, world.persons
    ages = (world.start_ord - p.birth[e.legal_rep]) / 365.25
    assert ages.min() >= 25
    outsiders = ~p.in_hukou[e.legal_rep]
    marked = set().union(
        *(refs for (kind, _), refs in world.marks.items() if kind == "legal_rep_not_in_population")
    )
    assert set(np.flatnonzero(outsiders).tolist()) == marked


def test_employers_are_active_registered_entities(world):
    employers = world.employer[world.employer >= 0]
    assert len(employers) > 0.15 * world.config.persons
    assert (world.entities.kind[employers] != UNREGISTERED).all()


def test_parcels_are_valid_inside_the_jurisdiction_and_do_not_overlap(world):
    land = world.land
    polygons = [shapely.Polygon(ring) for ring in land.parcel_ring]
    boundary = shapely.Polygon(land.jurisdiction_ring())
    assert all(polygon.is_valid for polygon in polygons)
    assert all(boundary.contains(polygon) for polygon in polygons)
    left, right = shapely.STRtree(polygons).query(polygons, predicate="intersects")
    assert (left == right).all()
    assert all(keys.is_clean_parcel_code(code) for code in land.parcel_codes)
    assert all(keys.is_clean_unit_number(code) for code in land.unit_numbers)
    assert len(set(land.unit_address_codes)) == len(land.unit_address_codes)


def test_every_household_lives_at_a_standard_address(world):
    units = world.households.unit
    assert (units >= 0).all()
    addresses = [world.land.unit_addresses[u] for u in units]
    assert all(a.startswith(world.juris.address_prefix) for a in addresses)


def test_a_death_is_reported_by_every_department_in_the_same_window(world):
    dates = [d.toordinal() for d in world.config.batch_dates()]
    changes = advance(world, dates[0], dates[1] - 1, 1)
    deaths = [world.deaths["person"][i] for i in changes.refs.get("wjw.death_cert", ())]
    assert deaths
    for person in deaths:
        assert person in changes.refs["gaj.hukou"]
        assert world.insurance_status[person] != INSURANCE_ACTIVE
        if world.licence_class[person] >= 0:
            assert world.licence_status[person] == CANCELLED
            assert person in changes.refs["gaj.driving_licence"]
        assert not (world.owner_person == person).any()


def test_a_birth_adds_a_resident_with_a_certificate(world):
    dates = [d.toordinal() for d in world.config.batch_dates()]
    before = len(world.persons)
    changes = advance(world, dates[1], dates[2] - 1, 2)
    born = list(range(before, len(world.persons)))
    assert born
    assert set(born) <= changes.refs["gaj.hukou"]
    children = {world.births["child"][i] for i in changes.refs["wjw.birth_cert"]}
    assert children == set(born)
    for child in born:
        assert keys.is_clean_citizen_id(world.persons.ids[child])
        assert dates[1] <= world.persons.birth[child] < dates[2]
        assert world.persons.hukou_since[child] < dates[2]
