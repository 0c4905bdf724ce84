"""What each department's export says about the world: one row builder per catalog resource.

A builder turns one record of the world (a person, an entity, a registration, a parcel, a unit)
into canonical rows: dicts keyed by the catalog's pool field names, holding standard codes
(gender ``"1"``, status ``"active"``), dates as ordinals and text as text. How a department
*writes* those values (its column names, its code values, its date format) is applied later from
the catalog by :mod:`jobs.synth.render`, so a builder never names a column.

Keys starting with ``_`` are metadata for the defect injector: the record's true key, the person
or entity numbers behind each ID or USCC field, and the deliberate inconsistencies (world marks)
that this row shows, with their manifest details.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from jobs.synth.entities import ENTERPRISE, INDUSTRIES, SOCIAL_ORG, UNREGISTERED
from jobs.synth.land import KIND_NAMES, PARCEL_KINDS, UNIT_RIGHTS
from jobs.synth.population import RELATIONS
from jobs.synth.world import (
    CANCELLED,
    DRIVING_CLASSES,
    GRADES,
    INSURANCE_ACTIVE,
    INSURANCE_TYPES,
    LICENCE_STATUSES,
    PROPERTY_STATUSES,
    STUDENT_STATUSES,
    VALID,
    World,
)

Row = dict[str, Any]


@dataclass(frozen=True)
class DeptValue:
    """A value the department writes as is, bypassing the catalog's code map (e.g. 单位 for a
    social organisation owner, where the code map's first name for ``entity`` is 企业)."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class PersonGroup:
    """Fields of one row that describe one person: their ID and what else the row says."""

    id_field: str
    name_field: str | None = None
    birth_field: str | None = None
    gender_field: str | None = None


@dataclass(frozen=True)
class EntityGroup:
    """Fields of one row that describe one legal entity."""

    uscc_field: str
    name_field: str | None = None
    legal_rep_name_field: str | None = None


@dataclass(frozen=True)
class BatchContext:
    """The delivery a row is written for."""

    index: int
    batch_id: str
    day: int  # delivery date ordinal
    full: bool


@dataclass(frozen=True)
class Source:
    """How one resource sees the world.

    ``full_refs`` lists every record of a full extract; ``rows`` builds the rows of one record
    (insured persons have one row per insurance type); ``rows_per_ref`` bounds that number.
    """

    resource: str
    full_refs: Callable[[World, BatchContext], np.ndarray]
    rows: Callable[[World, int, BatchContext], list[Row]]
    persons: tuple[PersonGroup, ...] = ()
    entities: tuple[EntityGroup, ...] = ()
    address_fields: tuple[str, ...] = ()
    licence: tuple[str, str, str] | None = None  # valid_from, valid_to, status field
    rows_per_ref: int = 1


def _marked(world: World, kind: str, resource: str, ref: int) -> bool:
    marks = world.marks.get((kind, resource))
    return bool(marks) and ref in marks


def _timestamp(day: int, salt: int) -> str:
    seconds = 8 * 3600 + (salt * 7919) % (10 * 3600)  # office hours
    return f"{datetime.date.fromordinal(day).isoformat()} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _phone(value: int) -> str | None:
    return str(int(value)) if value else None


def _person_fields(world: World, p: int) -> Row:
    persons = world.persons
    return {
        "person_id": persons.ids[p],
        "full_name": world.person_name(p),
        "gender": str(int(persons.sex[p])),
        "birth_date": int(persons.birth[p]),
    }


# --- gaj ---------------------------------------------------------------------------------------


def _hukou_refs(world: World, ctx: BatchContext) -> np.ndarray:
    p = world.persons
    refs = np.flatnonzero(p.in_hukou & (p.hukou_since < ctx.day))
    return refs[np.lexsort((p.relation[refs], p.household[refs]))]


def _hukou_rows(world: World, p: int, ctx: BatchContext) -> list[Row]:
    persons, hh = world.persons, int(world.persons.household[p])
    unit = int(world.households.unit[hh])
    dead = 0 < persons.death[p] < ctx.day
    last_change = max(int(persons.hukou_since[p]), int(persons.death[p]) if dead else 0)
    row = _person_fields(world, p)
    row.update(
        ethnicity=f"{int(persons.ethnicity[p]):02d}",
        household_id=world.households.numbers[hh],
        relation_to_head=RELATIONS[int(persons.relation[p])],
        domicile_address=world.land.unit_addresses[unit],
        domicile_region=world.juris.code,
        phone=_phone(persons.phone[p]),
        registered_on=int(persons.hukou_since[p]),
        status="deceased" if dead else "normal",
        marital_status=str(int(persons.marital[p])),
        updated_at=_timestamp(last_change if ctx.full else ctx.day - 1, p),
        _key=persons.ids[p],
        _persons={"person_id": p},
    )
    return [row]


def _driving_refs(world: World, ctx: BatchContext) -> np.ndarray:
    refs = np.flatnonzero(world.licence_class >= 0)
    return refs[np.argsort(world.licence_file[refs], kind="stable")]


def _driving_rows(world: World, p: int, ctx: BatchContext) -> list[Row]:
    resource = "gaj.driving_licence"
    status = int(world.licence_status[p])
    marks = []
    if _marked(world, "deceased_holds_licence", resource, p) and status == CANCELLED:
        status = VALID
        marks.append(
            {
                "kind": "deceased_holds_licence",
                "field": "licence_status",
                "value_true": "cancelled",
                "key": world.persons.ids[p],
            }
        )
    if _marked(world, "licence_holder_not_in_population", resource, p):
        marks.append(
            {
                "kind": "licence_holder_not_in_population",
                "field": "person_id",
                "key": world.persons.ids[p],
            }
        )
    juris = world.juris
    row = _person_fields(world, p)
    row.update(
        file_number=str(int(world.licence_file[p])),
        driving_class=DRIVING_CLASSES[int(world.licence_class[p])],
        issued_on=int(world.licence_first[p]),
        valid_from=int(world.licence_from[p]),
        valid_to=int(world.licence_to[p]),
        licence_status=LICENCE_STATUSES[status],
        issuing_authority=f"{juris.province}{juris.prefecture}公安局交通警察支队",
        _key=world.persons.ids[p],
        _persons={"person_id": p},
        _marks=marks,
        _alive=world.persons.death[p] == 0 or world.persons.death[p] >= ctx.day,
    )
    return [row]


# --- wjw ---------------------------------------------------------------------------------------


def _all(registry_name: str) -> Callable[[World, BatchContext], np.ndarray]:
    def refs(world: World, ctx: BatchContext) -> np.ndarray:
        registry = getattr(world, registry_name)
        # A small county may have no births or deaths at all: an empty registry has no columns.
        if not len(registry):
            return np.zeros(0, np.int64)
        days = np.asarray(registry["issued"] if "issued" in registry.columns else registry["day"])
        return np.flatnonzero(days < ctx.day)

    return refs


def _birth_rows(world: World, i: int, ctx: BatchContext) -> list[Row]:
    b, persons = world.births, world.persons
    child, mother, father = b["child"][i], b["mother"][i], b["father"][i]
    # the hospital learns the child's ID only for some certificates; new ones never have it
    child_known = b["id_known"][i]
    row: Row = {
        "birth_cert_number": b["number"][i],
        "child_id": persons.ids[child] if child_known else None,
        "child_name": world.person_name(child),
        "child_gender": str(int(persons.sex[child])),
        "birth_date": b["day"][i],
        "birth_place": b["place"][i],
        "mother_id": persons.ids[mother],
        "mother_name": world.person_name(mother),
        "father_id": persons.ids[father] if father >= 0 else None,
        "father_name": world.person_name(father) if father >= 0 else None,
        "issued_on": b["issued"][i],
        "_key": b["number"][i],
        "_persons": {"mother_id": mother, **({"father_id": father} if father >= 0 else {})},
    }
    return [row]


def _death_rows(world: World, i: int, ctx: BatchContext) -> list[Row]:
    d = world.deaths
    p = d["person"][i]
    row = _person_fields(world, p)
    row.update(
        certificate_number=d["number"][i],
        death_date=d["day"][i],
        death_place=d["place"][i],
        death_cause=d["cause"][i],
        issued_on=d["issued"][i],
        _key=world.persons.ids[p],
        _persons={"person_id": p},
    )
    return [row]


# --- mzj ---------------------------------------------------------------------------------------


def _marriage_rows(world: World, i: int, ctx: BatchContext) -> list[Row]:
    m, persons = world.marriages, world.persons
    male, female = m["male"][i], m["female"][i]
    marks = []
    if _marked(world, "deceased_married", "mzj.marriage", i):
        dead = male if persons.death[male] and persons.death[male] < m["day"][i] else female
        marks.append(
            {
                "kind": "deceased_married",
                "field": "registered_on",
                "key": persons.ids[dead],
                "detail": f"registered after the death of {persons.ids[dead]}",
            }
        )
    row: Row = {
        "registration_number": m["number"][i],
        "registration_type": m["kind"][i],
        "registered_on": m["day"][i],
        "male_id": persons.ids[male],
        "male_name": world.person_name(male),
        "male_birth_date": int(persons.birth[male]),
        "female_id": persons.ids[female],
        "female_name": world.person_name(female),
        "female_birth_date": int(persons.birth[female]),
        "registration_authority": f"{world.juris.county}民政局",
        "_key": m["number"][i],
        "_persons": {"male_id": male, "female_id": female},
        "_marks": marks,
    }
    return [row]


def _entity_refs(kinds: tuple[int, ...]) -> Callable[[World, BatchContext], np.ndarray]:
    def refs(world: World, ctx: BatchContext) -> np.ndarray:
        e = world.entities
        return np.flatnonzero(np.isin(e.kind, kinds) & (e.established < ctx.day))

    return refs


def _capital(value: float) -> str:
    return f"{value:g}"


def _legal_rep_marks(world: World, resource: str, e: int) -> list[dict[str, str]]:
    rep = int(world.entities.legal_rep[e])
    # a later change of legal representative ends the inconsistency
    if (
        not _marked(world, "legal_rep_not_in_population", resource, e)
        or world.persons.in_hukou[rep]
    ):
        return []
    return [
        {
            "kind": "legal_rep_not_in_population",
            "field": "legal_representative_id",
            "key": world.entities.uscc[e],
            "detail": f"legal representative {world.persons.ids[rep]}",
        }
    ]


def _social_org_rows(world: World, e: int, ctx: BatchContext) -> list[Row]:
    ent = world.entities
    rep = int(ent.legal_rep[e])
    row: Row = {
        "uscc": ent.uscc[e],
        "entity_name": ent.names[e],
        "entity_type": ent.type_name(e),
        "legal_representative_name": world.person_name(rep),
        "legal_representative_id": world.persons.ids[rep],
        "registered_capital": _capital(float(ent.capital[e])),
        "established_on": int(ent.established[e]),
        "entity_status": ent.status[e],
        "business_address": world.land.unit_addresses[int(ent.unit[e])],
        "region_code": world.juris.code,
        "_key": ent.uscc[e],
        "_entities": {"uscc": e},
        "_persons": {"legal_representative_id": rep},
        "_marks": _legal_rep_marks(world, "mzj.social_org", e),
    }
    return [row]


# --- rsj ---------------------------------------------------------------------------------------

_INSURANCE_CODES = {
    "pension": "pension",
    "medical": "medical",
    "unemployment": "unemployment",
    "injury": "injury",
}


def _insured_refs(world: World, ctx: BatchContext) -> np.ndarray:
    refs = np.flatnonzero((world.insurance_status > 0) & (world.insured_since < ctx.day))
    return refs[np.argsort(world.insured_since[refs], kind="stable")]


def _insured_rows(world: World, p: int, ctx: BatchContext) -> list[Row]:
    ent = world.entities
    employer = int(world.employer[p])
    status = int(world.insurance_status[p])
    marked = (
        _marked(world, "deceased_still_insured", "rsj.insured", p) and status != INSURANCE_ACTIVE
    )
    base = _person_fields(world, p)
    base.update(
        employer_uscc=ent.uscc[employer],
        employer_name=ent.names[employer],
        insured_since=int(world.insured_since[p]),
        insurance_status="active" if marked or status == INSURANCE_ACTIVE else "terminated",
        phone=_phone(world.persons.phone[p]),
        _key=world.persons.ids[p],
        _persons={"person_id": p},
    )
    rows = []
    types = int(world.insurance_types[p])
    for bit, name in enumerate(INSURANCE_TYPES):
        if types & (1 << bit):
            row = dict(base, insurance_type=_INSURANCE_CODES[name])
            row["_marks"] = []
            rows.append(row)
    if marked and rows:
        rows[0]["_marks"] = [
            {
                "kind": "deceased_still_insured",
                "field": "insurance_status",
                "value_true": "terminated",
                "key": world.persons.ids[p],
            }
        ]
    return rows


# --- jyj ---------------------------------------------------------------------------------------


def _student_refs(world: World, ctx: BatchContext) -> np.ndarray:
    refs = np.flatnonzero(world.school >= 0)
    return refs[np.lexsort((world.grade[refs], world.school[refs]))]


def _student_rows(world: World, p: int, ctx: BatchContext) -> list[Row]:
    row = _person_fields(world, p)
    row.update(
        student_number="G" + world.persons.ids[p],
        ethnicity=f"{int(world.persons.ethnicity[p]):02d}",
        school_name=world.schools[int(world.school[p])],
        grade=GRADES[int(world.grade[p]) - 1],
        enrolled_on=int(world.enrolled_on[p]),
        student_status=STUDENT_STATUSES[int(world.student_status[p])],
        _key=world.persons.ids[p],
        _persons={"person_id": p},
    )
    return [row]


# --- scjgj, swj --------------------------------------------------------------------------------


def _enterprise_rows(world: World, e: int, ctx: BatchContext) -> list[Row]:
    ent = world.entities
    rep = int(ent.legal_rep[e])
    industry = INDUSTRIES[int(ent.industry[e])]
    row: Row = {
        "uscc": ent.uscc[e],
        "entity_name": ent.names[e],
        "entity_type": ent.type_name(e),
        "legal_representative_name": world.person_name(rep),
        "legal_representative_id": world.persons.ids[rep],
        "registered_capital": _capital(float(ent.capital[e])),
        "established_on": int(ent.established[e]),
        "entity_status": ent.status[e],
        "industry_code": industry[0],
        "business_address": world.land.unit_addresses[int(ent.unit[e])],
        "region_code": world.juris.code,
        "business_scope": industry[3],
        "updated_at": _timestamp(int(max(ent.updated[e], ent.status_on[e])), e),
        "_key": ent.uscc[e],
        "_entities": {"uscc": e},
        "_persons": {"legal_representative_id": rep},
        "_marks": _legal_rep_marks(world, "scjgj.enterprise", e),
    }
    return [row]


def _licence_status(status: str) -> str:
    return {"active": "valid", "deregistered": "cancelled", "revoked": "revoked"}.get(
        status, "valid"
    )


def _business_licence_rows(world: World, e: int, ctx: BatchContext) -> list[Row]:
    ent = world.entities
    rep = int(ent.legal_rep[e])
    marks = []
    if ent.kind[e] == UNREGISTERED:
        marks.append(
            {"kind": "licence_holder_not_in_legal_entity", "field": "uscc", "key": ent.uscc[e]}
        )
    row: Row = {
        "uscc": ent.uscc[e],
        "entity_name": ent.names[e],
        "legal_representative_name": world.person_name(rep),
        "issued_on": int(ent.licence_issued[e]),
        "valid_from": int(ent.established[e]),
        "valid_to": int(ent.licence_valid_to[e]) or None,
        "licence_status": _licence_status(ent.status[e]),
        "issuing_authority": f"{world.juris.county}市场监督管理局",
        "_key": ent.uscc[e],
        "_entities": {"uscc": e} if ent.kind[e] == ENTERPRISE else {},
        "_marks": marks,
    }
    return [row]


def _taxpayer_refs(world: World, ctx: BatchContext) -> np.ndarray:
    e = world.entities
    return np.flatnonzero((e.kind == ENTERPRISE) & (e.tax_registered < ctx.day))


def _taxpayer_rows(world: World, e: int, ctx: BatchContext) -> list[Row]:
    ent = world.entities
    status = {"active": "normal", "deregistered": "deregistered", "revoked": "abnormal"}[
        ent.status[e]
    ]
    marks = []
    if _marked(world, "deregistered_active_at_tax", "swj.taxpayer", e) and status == "deregistered":
        status = "normal"
        marks.append(
            {
                "kind": "deregistered_active_at_tax",
                "field": "tax_status",
                "value_true": "deregistered",
                "key": ent.uscc[e],
            }
        )
    row: Row = {
        "uscc": ent.uscc[e],
        "entity_name": ent.names[e],
        "legal_representative_name": world.person_name(int(ent.legal_rep[e])),
        "taxpayer_type": "一般纳税人" if ent.general_taxpayer[e] else "小规模纳税人",
        "tax_status": status,
        "registered_on": int(ent.tax_registered[e]),
        "tax_authority": f"国家税务总局{world.juris.county}税务局",
        "_key": ent.uscc[e],
        "_entities": {"uscc": e},
        "_marks": marks,
    }
    return [row]


# --- zrzyj -------------------------------------------------------------------------------------


def _parcel_refs(world: World, ctx: BatchContext) -> np.ndarray:
    return np.arange(len(world.land.parcel_codes))


def parcel_geometry(world: World, parcel: int) -> dict[str, Any]:
    """The parcel's true boundary as a GeoJSON polygon (closed, counter-clockwise)."""
    ring = world.land.parcel_ring[parcel].tolist()
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _parcel_rows(world: World, parcel: int, ctx: BatchContext) -> list[Row]:
    land = world.land
    kind = PARCEL_KINDS[KIND_NAMES[int(land.parcel_kind[parcel])]]
    row: Row = {
        "parcel_code": land.parcel_codes[parcel],
        "land_use": kind[0],
        "land_area": f"{float(land.parcel_area[parcel]):.2f}",
        "rights_type": kind[1],
        "region_code": world.juris.code,
        "geometry": parcel_geometry(world, parcel),
        "_key": land.parcel_codes[parcel],
        "_parcel": parcel,
    }
    return [row]


def _owned_units(world: World, ctx: BatchContext) -> np.ndarray:
    refs = np.flatnonzero((world.owner_person >= 0) | (world.owner_entity >= 0))
    return refs[world.property_registered[refs] < ctx.day]


def _real_estate_rows(world: World, unit: int, ctx: BatchContext) -> list[Row]:
    land, ent = world.land, world.entities
    person, entity = int(world.owner_person[unit]), int(world.owner_entity[unit])
    marks = []
    if person >= 0:
        owner_id, owner_name, owner_type = (
            world.persons.ids[person],
            world.person_name(person),
            "person",
        )
        outsider = not world.persons.in_hukou[person]
        if outsider and _marked(
            world, "licence_holder_not_in_population", "zrzyj.real_estate", unit
        ):
            marks.append(
                {"kind": "licence_holder_not_in_population", "field": "owner_id", "key": owner_id}
            )
    else:
        owner_id, owner_name = ent.uscc[entity], ent.names[entity]
        owner_type = DeptValue("单位") if ent.kind[entity] == SOCIAL_ORG else "entity"
    kind = int(land.unit_kind[unit])
    row: Row = {
        "unit_number": land.unit_numbers[unit],
        "certificate_number": world.certificate[unit],
        "owner_id": owner_id,
        "owner_name": owner_name,
        "owner_type": owner_type,
        "rights_type": UNIT_RIGHTS[kind],
        "property_use": PARCEL_KINDS[KIND_NAMES[kind]][3],
        "floor_area": f"{float(land.unit_floor_area[unit]):.2f}",
        "address": land.unit_addresses[unit],
        "registered_on": int(world.property_registered[unit]),
        "issued_on": int(world.property_issued[unit]),
        "property_status": PROPERTY_STATUSES[int(world.property_status[unit])],
        "_key": land.unit_numbers[unit],
        "_persons": {"owner_id": person} if person >= 0 else {},
        "_marks": marks,
    }
    return [row]


def _address_refs(world: World, ctx: BatchContext) -> np.ndarray:
    return np.arange(len(world.land.unit_numbers))


def _address_rows(world: World, unit: int, ctx: BatchContext) -> list[Row]:
    land = world.land
    comm = int(land.parcel_community[land.unit_parcel[unit]])
    row: Row = {
        "address_code": land.unit_address_codes[unit],
        "full_address": land.unit_addresses[unit],
        "region_code": world.juris.code,
        "township": land.township_names[int(land.community_township[comm])],
        "community": land.community_names[comm],
        "road_name": land.unit_roads[unit] or None,
        "house_number": land.unit_house_numbers[unit],
        "longitude": f"{float(land.unit_lon[unit]):.6f}",
        "latitude": f"{float(land.unit_lat[unit]):.6f}",
        "_key": land.unit_address_codes[unit],
    }
    return [row]


_PERSON = PersonGroup("person_id", "full_name", "birth_date", "gender")

#: Every resource the synthetic city can deliver, by catalog id.
SOURCES: dict[str, Source] = {
    source.resource: source
    for source in (
        Source(
            "gaj.hukou",
            _hukou_refs,
            _hukou_rows,
            persons=(_PERSON,),
            address_fields=("domicile_address",),
        ),
        Source(
            "gaj.driving_licence",
            _driving_refs,
            _driving_rows,
            persons=(_PERSON,),
            licence=("valid_from", "valid_to", "licence_status"),
        ),
        Source(
            "wjw.birth_cert",
            _all("births"),
            _birth_rows,
            persons=(
                PersonGroup("mother_id", "mother_name"),
                PersonGroup("father_id", "father_name"),
            ),
        ),
        Source("wjw.death_cert", _all("deaths"), _death_rows, persons=(_PERSON,)),
        Source(
            "mzj.marriage",
            _all("marriages"),
            _marriage_rows,
            persons=(
                PersonGroup("male_id", "male_name", "male_birth_date"),
                PersonGroup("female_id", "female_name", "female_birth_date"),
            ),
        ),
        Source("mzj.social_org", _entity_refs((SOCIAL_ORG,)), _social_org_rows),
        Source("rsj.insured", _insured_refs, _insured_rows, persons=(_PERSON,), rows_per_ref=4),
        Source("jyj.student", _student_refs, _student_rows, persons=(_PERSON,)),
        Source("scjgj.enterprise", _entity_refs((ENTERPRISE,)), _enterprise_rows),
        Source(
            "scjgj.business_licence",
            _entity_refs((ENTERPRISE, UNREGISTERED)),
            _business_licence_rows,
            entities=(EntityGroup("uscc", "entity_name", "legal_representative_name"),),
            licence=("valid_from", "valid_to", "licence_status"),
        ),
        Source(
            "swj.taxpayer",
            _taxpayer_refs,
            _taxpayer_rows,
            entities=(EntityGroup("uscc", "entity_name", "legal_representative_name"),),
        ),
        Source("zrzyj.parcel", _parcel_refs, _parcel_rows),
        Source("zrzyj.real_estate", _owned_units, _real_estate_rows, address_fields=("address",)),
        Source("zrzyj.address", _address_refs, _address_rows),
    )
}
