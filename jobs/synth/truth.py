"""The truth snapshot (``_manifest/truth/``): the world as it really is after the last window.

Other engineers measure the pipeline against these tables: the population base should find
these persons with these attributes, the legal-entity base these entities, and so on. Every
table states its grain in ``truth/README.md``; dates are Parquet dates, keys are the true
normalised keys.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jobs.synth.entities import ENTERPRISE, INDUSTRIES, SOCIAL_ORG
from jobs.synth.land import KIND_NAMES, PARCEL_KINDS
from jobs.synth.population import RELATIONS
from jobs.synth.world import (
    DRIVING_CLASSES,
    GRADES,
    INSURANCE_TYPES,
    LICENCE_STATUSES,
    PROPERTY_STATUSES,
    STUDENT_STATUSES,
    World,
)

#: Grain of each truth table, written to ``truth/README.md``.
GRAINS: dict[str, str] = {
    "persons": "one row per natural person (residents, including the deceased, and outsiders)",
    "entities": "one row per legal entity (enterprise, social organisation, unregistered holder)",
    "employment": "one row per insured person (employer and insurance types)",
    "students": "one row per student",
    "licences": "one row per (licence type, licence number)",
    "parcels": "one row per parcel (宗地), with its true boundary",
    "real_estate_units": "one row per real-estate unit (不动产单元) with its current owner",
    "addresses": "one row per standard address (标准地址)",
    "events": "one row per event between deliveries (birth, death, marriage …)",
}
_ORIGINS = ("born_here", "born_elsewhere", "outsider")
_EPOCH = datetime.date(1970, 1, 1).toordinal()


def _table(columns: dict[str, pa.Array]) -> pa.Table:
    # from_arrays, not pa.table: pa.table probes for pandas, and importing pandas costs seconds
    return pa.Table.from_arrays(list(columns.values()), names=list(columns))


def _dates(ordinals: np.ndarray | list[int]) -> pa.Array:
    values = np.asarray(ordinals, np.int64)
    days = np.where(values > 0, values - _EPOCH, 0).astype(np.int32)
    return pa.array(days, pa.date32(), mask=values <= 0)


def _optional(values: list[str | None]) -> pa.Array:
    return pa.array(values, pa.string())


def write_truth(world: World, events: list[tuple[int, str, str, str, str]], folder: Path) -> None:
    """Writes the truth tables and the jurisdiction boundary into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "persons": _persons(world),
        "entities": _entities(world),
        "employment": _employment(world),
        "students": _students(world),
        "licences": _licences(world),
        "parcels": _parcels(world),
        "real_estate_units": _units(world),
        "addresses": _addresses(world),
        "events": _table(
            {
                "day": _dates([e[0] for e in events]),
                "batch": pa.array([e[4] for e in events], pa.string()),
                "kind": pa.array([e[1] for e in events], pa.string()),
                "key": pa.array([e[2] for e in events], pa.string()),
                "detail": _optional([e[3] or None for e in events]),
            }
        ),
    }
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet")
    boundary = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "region_code": world.juris.code,
                    "name": world.juris.address_prefix,
                },
                "geometry": {"type": "Polygon", "coordinates": [world.land.jurisdiction_ring()]},
            }
        ],
    }
    (folder / "jurisdiction.geojson").write_text(
        json.dumps(boundary, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    lines = ["# Truth tables", ""] + [f"- `{n}.parquet`: {g}" for n, g in GRAINS.items()]
    (folder / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _persons(world: World) -> pa.Table:
    p, hh = world.persons, world.households
    ids = p.ids
    resident = p.household >= 0
    units = np.where(resident, hh.unit[np.maximum(p.household, 0)], -1)
    land = world.land
    return _table(
        {
            "person_id": pa.array(ids, pa.string()),
            "name": pa.array([world.person_name(i) for i in range(len(p))], pa.string()),
            "gender": pa.array([str(int(s)) for s in p.sex], pa.string()),
            "birth_date": _dates(p.birth),
            "ethnicity": pa.array([f"{int(e):02d}" for e in p.ethnicity], pa.string()),
            "household_number": _optional([hh.numbers[h] if h >= 0 else None for h in p.household]),
            "relation_to_head": _optional(
                [
                    RELATIONS[int(r)] if h >= 0 else None
                    for r, h in zip(p.relation, p.household, strict=True)
                ]
            ),
            "address_code": _optional(
                [land.unit_address_codes[u] if u >= 0 else None for u in units]
            ),
            "domicile_address": _optional(
                [land.unit_addresses[u] if u >= 0 else None for u in units]
            ),
            "marital_status": pa.array([str(int(m)) for m in p.marital], pa.string()),
            "spouse_id": _optional([ids[s] if s >= 0 else None for s in p.spouse]),
            "death_date": _dates(p.death),
            "in_population": pa.array(p.in_hukou, pa.bool_()),
            "registered_on": _dates(np.where(p.in_hukou, p.hukou_since, 0)),
            "origin": pa.array([_ORIGINS[int(o)] for o in p.origin], pa.string()),
            "mother_id": _optional([ids[m] if m >= 0 else None for m in p.mother]),
            "father_id": _optional([ids[f] if f >= 0 else None for f in p.father]),
        }
    )


def _entities(world: World) -> pa.Table:
    e, land = world.entities, world.land
    registers = {ENTERPRISE: "enterprise", SOCIAL_ORG: "social_org"}
    return _table(
        {
            "uscc": pa.array(e.uscc, pa.string()),
            "name": pa.array(e.names, pa.string()),
            "register": pa.array(
                [registers.get(int(k), "unregistered") for k in e.kind], pa.string()
            ),
            "entity_type": pa.array([e.type_name(i) for i in range(len(e))], pa.string()),
            "industry_code": pa.array([INDUSTRIES[int(i)][0] for i in e.industry], pa.string()),
            "legal_representative_id": pa.array(
                [world.persons.ids[r] for r in e.legal_rep], pa.string()
            ),
            "legal_representative_name": pa.array(
                [world.person_name(int(r)) for r in e.legal_rep], pa.string()
            ),
            "registered_capital": pa.array(e.capital, pa.float64()),
            "established_on": _dates(e.established),
            "status": pa.array(e.status, pa.string()),
            "status_on": _dates(e.status_on),
            "address_code": pa.array([land.unit_address_codes[u] for u in e.unit], pa.string()),
            "business_address": pa.array([land.unit_addresses[u] for u in e.unit], pa.string()),
        }
    )


def _employment(world: World) -> pa.Table:
    people = np.flatnonzero(world.insurance_status > 0)
    e = world.entities
    return _table(
        {
            "person_id": pa.array([world.persons.ids[i] for i in people], pa.string()),
            "employer_uscc": pa.array([e.uscc[world.employer[i]] for i in people], pa.string()),
            "insured_since": _dates(world.insured_since[people]),
            "insurance_types": pa.array(
                [
                    [
                        t
                        for b, t in enumerate(INSURANCE_TYPES)
                        if world.insurance_types[i] & (1 << b)
                    ]
                    for i in people
                ],
                pa.list_(pa.string()),
            ),
            "status": pa.array(
                ["active" if world.insurance_status[i] == 1 else "terminated" for i in people],
                pa.string(),
            ),
        }
    )


def _students(world: World) -> pa.Table:
    people = np.flatnonzero(world.school >= 0)
    return _table(
        {
            "person_id": pa.array([world.persons.ids[i] for i in people], pa.string()),
            "student_number": pa.array(["G" + world.persons.ids[i] for i in people], pa.string()),
            "school_name": pa.array([world.schools[world.school[i]] for i in people], pa.string()),
            "grade": pa.array([GRADES[world.grade[i] - 1] for i in people], pa.string()),
            "enrolled_on": _dates(world.enrolled_on[people]),
            "status": pa.array(
                [STUDENT_STATUSES[world.student_status[i]] for i in people], pa.string()
            ),
        }
    )


def _licences(world: World) -> pa.Table:
    p, e = world.persons, world.entities
    rows: list[tuple] = []
    for i in np.flatnonzero(world.licence_class >= 0).tolist():
        rows.append(
            (
                "driving_licence", str(int(world.licence_file[i])), p.ids[i], None,
                DRIVING_CLASSES[world.licence_class[i]], int(world.licence_first[i]),
                int(world.licence_from[i]), int(world.licence_to[i]),
                LICENCE_STATUSES[world.licence_status[i]],
            )
        )  # fmt: skip
    licence_status = {"active": "valid", "deregistered": "cancelled", "revoked": "revoked"}
    for i in range(len(e)):
        if e.kind[i] == SOCIAL_ORG:
            continue
        rows.append(
            (
                "business_licence", e.uscc[i], e.uscc[i], None, None, int(e.licence_issued[i]),
                int(e.established[i]), int(e.licence_valid_to[i]), licence_status[e.status[i]],
            )
        )  # fmt: skip
    owned = np.flatnonzero((world.owner_person >= 0) | (world.owner_entity >= 0))
    for u in owned.tolist():
        person, entity = int(world.owner_person[u]), int(world.owner_entity[u])
        holder = p.ids[person] if person >= 0 else e.uscc[entity]
        rows.append(
            (
                "real_estate_certificate", world.certificate[u], holder, None, None,
                int(world.property_issued[u]), int(world.property_registered[u]), 0,
                PROPERTY_STATUSES[world.property_status[u]],
            )
        )  # fmt: skip
    m = world.marriages
    # a registration injected after one party's death never happened: the truth says so
    erroneous = world.marks.get(("deceased_married", "mzj.marriage"), set())
    for i in range(len(m)):
        rows.append(
            (
                "marriage_certificate", m["number"][i], p.ids[m["male"][i]], p.ids[m["female"][i]],
                m["kind"][i], m["day"][i], m["day"][i], 0,
                "erroneous" if i in erroneous else "valid",
            )
        )  # fmt: skip
    b = world.births
    for i in range(len(b)):
        rows.append(
            (
                "birth_certificate", b["number"][i], p.ids[b["child"][i]], p.ids[b["mother"][i]],
                None, b["issued"][i], b["day"][i], 0, "valid",
            )
        )  # fmt: skip
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in range(9)]
    return _table(
        {
            "licence_type": pa.array(columns[0], pa.string()),
            "licence_number": pa.array(columns[1], pa.string()),
            "holder_key": pa.array(columns[2], pa.string()),
            "second_holder_key": pa.array(columns[3], pa.string()),
            "category": pa.array(columns[4], pa.string()),
            "issued_on": _dates(list(columns[5])),
            "valid_from": _dates(list(columns[6])),
            "valid_to": _dates(list(columns[7])),
            "status": pa.array(columns[8], pa.string()),
        }
    )


def _ring_wkt(ring: np.ndarray) -> str:
    points = [*ring.tolist(), ring[0].tolist()]
    return "POLYGON ((" + ", ".join(f"{x:.7f} {y:.7f}" for x, y in points) + "))"


def _parcels(world: World) -> pa.Table:
    land = world.land
    comms = land.parcel_community
    return _table(
        {
            "parcel_code": pa.array(land.parcel_codes, pa.string()),
            "township": pa.array(
                [land.township_names[land.community_township[c]] for c in comms], pa.string()
            ),
            "community": pa.array([land.community_names[c] for c in comms], pa.string()),
            "land_use": pa.array(
                [PARCEL_KINDS[KIND_NAMES[k]][0] for k in land.parcel_kind], pa.string()
            ),
            "rights_type": pa.array(
                [PARCEL_KINDS[KIND_NAMES[k]][1] for k in land.parcel_kind], pa.string()
            ),
            "area_m2": pa.array(land.parcel_area, pa.float64()),
            "geometry_wkt": pa.array([_ring_wkt(r) for r in land.parcel_ring], pa.string()),
        }
    )


def _units(world: World) -> pa.Table:
    land, p, e = world.land, world.persons, world.entities
    owner = [
        p.ids[a] if a >= 0 else (e.uscc[b] if b >= 0 else None)
        for a, b in zip(world.owner_person.tolist(), world.owner_entity.tolist(), strict=True)
    ]
    kind = [
        "person" if a >= 0 else ("entity" if b >= 0 else None)
        for a, b in zip(world.owner_person, world.owner_entity, strict=True)
    ]
    return _table(
        {
            "unit_number": pa.array(land.unit_numbers, pa.string()),
            "parcel_code": pa.array([land.parcel_codes[q] for q in land.unit_parcel], pa.string()),
            "address_code": pa.array(land.unit_address_codes, pa.string()),
            "owner_id": _optional(owner),
            "owner_kind": _optional(kind),
            "certificate_number": _optional([c or None for c in world.certificate]),
            "registered_on": _dates(world.property_registered),
            "status": pa.array([PROPERTY_STATUSES[s] for s in world.property_status], pa.string()),
            "floor_area_m2": pa.array(land.unit_floor_area, pa.float64()),
        }
    )


def _addresses(world: World) -> pa.Table:
    land = world.land
    comms = land.parcel_community[land.unit_parcel]
    return _table(
        {
            "address_code": pa.array(land.unit_address_codes, pa.string()),
            "full_address": pa.array(land.unit_addresses, pa.string()),
            "township": pa.array(
                [land.township_names[land.community_township[c]] for c in comms], pa.string()
            ),
            "community": pa.array([land.community_names[c] for c in comms], pa.string()),
            "longitude": pa.array(land.unit_lon, pa.float64()),
            "latitude": pa.array(land.unit_lat, pa.float64()),
        }
    )
