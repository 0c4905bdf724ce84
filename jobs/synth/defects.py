"""Row-level defect injection: which rows of a delivered file are damaged, how, and what the
manifest says about each.

For every row the injector draws once: with the summed rate of the kinds that apply to the
resource, the row gets one defect, of a kind chosen in proportion to the kinds' rates (a row
never carries two defects, so each has one expected outcome). In a full batch, every applicable
kind is also forced onto at least ``min_per_kind`` rows (after skipping a few eligible rows, so
the forced ones are not always the first). Rows that show a deliberate inconsistency of the
world (:attr:`jobs.synth.world.World.marks`) get no row-level defect on top.

Value defects (a homophone name, a conflicting birth date …) change the canonical row before it
is rendered; key defects (a wrong check character, Excel damage …) change the rendered text of
the key column. Either way :meth:`RowInjector.record` writes the manifest entry once the row's
file and row number are known.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jobs.catalog import Catalog, Resource
from jobs.synth import keys
from jobs.synth.config import SynthConfig
from jobs.synth.exporters import ExcelNumber
from jobs.synth.kinds import KINDS
from jobs.synth.pools import homophone_of
from jobs.synth.render import Shape
from jobs.synth.resources import BatchContext, Source
from jobs.synth.world import World

#: Key defects of citizen-ID keys and of USCC keys (applied to the rendered key text).
ID_KINDS = (
    "id_wrong_check_char",
    "id_15_digit",
    "id_lowercase_x",
    "key_fullwidth",
    "key_whitespace",
    "id_excel_damage",
)
USCC_KINDS = (
    "uscc_wrong_check_char",
    "uscc_wrong_org_code_check",
    "key_fullwidth",
    "key_whitespace",
)
_PERSON_KINDS = {
    "name_homophone": ("name_field", "person_name", False),
    "name_conflict": ("name_field", "person_name", False),
    "birth_date_conflict": ("birth_field", "birth_date", False),
    "gender_conflict": ("gender_field", "gender", False),
    "birth_date_id_mismatch": ("birth_field", "birth_date", True),
    "gender_id_mismatch": ("gender_field", "gender", True),
}
_ENTITY_KINDS = {
    "entity_name_conflict": ("name_field", "entity_name"),
    "legal_rep_conflict": ("legal_rep_name_field", "legal_representative_name"),
}
_PARCEL_KINDS = ("parcel_invalid_geometry", "parcel_outside_jurisdiction", "parcel_overlap")
_SKIP_BEFORE_FORCING = 20


@dataclass
class Injected:
    """One defect put into one row, waiting for its file and row number."""

    kind: str
    field: str | None
    key: str | None
    value_true: Any = None
    detail: str = ""
    target: tuple[str, int] | None = None  # person group id field and person, for conflicts
    extra: dict[str, Any] = field(default_factory=dict)


class RowInjector:
    """Damages the rows of one delivered file and records what it did.

    Args:
        enabled: False for a file that will be destroyed (truncated, emptied, held): its rows
            reach no pool, so nothing row-level is injected or recorded.
        force: True in a full batch: every applicable kind occurs at least ``min_per_kind`` times.
    """

    def __init__(
        self,
        world: World,
        catalog: Catalog,
        resource: Resource,
        source: Source,
        shape: Shape,
        config: SynthConfig,
        rng: random.Random,
        ctx: BatchContext,
        *,
        enabled: bool = True,
        force: bool = False,
        expected_rows: int = 1_000,
        hidden_fields: frozenset[str] = frozenset(),
    ) -> None:
        self.world = world
        self.catalog = catalog
        self.resource = resource
        self.source = source
        self.shape = shape
        self.rng = rng
        self.ctx = ctx
        self.enabled = enabled
        # a field delivered under an undeclared column name reaches no pool column: a value
        # defect there would be promised in the manifest and seen by no pipeline
        present = set(resource.field_names) - hidden_fields
        self.key_field = resource.key_fields[0]
        self.kinds: dict[str, float] = {}
        self.person_targets: dict[str, list[tuple[str, str]]] = {}
        self.entity_targets: dict[str, list[tuple[str, str]]] = {}
        self.address_fields = [f for f in source.address_fields if f in present]
        self.licence = source.licence if source.licence and set(source.licence) <= present else None
        key_kind = self.key_field.data_element.kind
        applicable: list[str] = ["missing_key", "duplicate_row"]
        if key_kind == "citizen_id":
            applicable += list(ID_KINDS)
        elif key_kind == "uscc":
            applicable += list(USCC_KINDS)
        for kind, (attribute, element, authoritative) in _PERSON_KINDS.items():
            targets = [
                (group.id_field, getattr(group, attribute))
                for group in source.persons
                if getattr(group, attribute) in present
                and group.id_field in present
                and self._is_authority(getattr(group, attribute), element) == authoritative
            ]
            if targets:
                self.person_targets[kind] = targets
                applicable.append(kind)
        marital = [
            f.name for f in resource.fields if f.element == "marital_status" and f.name in present
        ]
        self._registered: np.ndarray | None = None
        self.is_marital_registry = resource.id in catalog.element("marital_status").authority
        if marital and not self._is_authority(marital[0], "marital_status") and source.persons:
            self.person_targets["marital_status_conflict"] = [
                (source.persons[0].id_field, marital[0])
            ]
            applicable.append("marital_status_conflict")
        for kind, (attribute, element) in _ENTITY_KINDS.items():
            targets = [
                (group.uscc_field, getattr(group, attribute))
                for group in source.entities
                if getattr(group, attribute) in present
                and not self._is_authority(getattr(group, attribute), element)
            ]
            if targets:
                self.entity_targets[kind] = targets
                applicable.append(kind)
        if self.address_fields:
            applicable.append("address_variant")
        if self.licence:
            applicable.append("licence_expired")
        if resource.id == "zrzyj.parcel" and "geometry" in present:
            applicable += list(_PARCEL_KINDS)
        for kind in applicable:
            self.kinds[kind] = config.rates.get(kind, config.defect_rate * KINDS[kind].weight)
        self.total_rate = sum(self.kinds.values())
        self.cumulative: list[tuple[float, str]] = []
        running = 0.0
        for kind, rate in self.kinds.items():
            running += rate
            self.cumulative.append((running, kind))
        self.forced: dict[str, int] = (
            {k: config.min_per_kind for k in self.kinds} if force and enabled else {}
        )
        # skip a few eligible rows before forcing, fewer in a small file so the kind still fits
        most = min(_SKIP_BEFORE_FORCING, expected_rows // (4 * max(1, len(self.kinds))))
        self.skips = {k: rng.randrange(most + 1) for k in self.forced}
        self.counts: dict[str, int] = {}
        #: kinds some row of the file could have carried (to tell "too few rows" apart from
        #: "no row qualifies", e.g. 15-digit IDs among schoolchildren born after 1999)
        self.eligible: set[str] = set()
        #: parcels of this file whose geometry a defect changed, and the neighbours an overlap
        #: was drawn onto: a neighbour moved or broken by a second defect would leave the
        #: promised overlap with nothing to overlap
        self.reshaped_parcels: set[int] = set()
        self.overlapped_parcels: set[int] = set()

    def _is_authority(self, field_name: str, element: str) -> bool:
        field_element = self.resource.field(field_name).element
        return self.resource.id in self.catalog.element(field_element).authority or (
            self.resource.id in self.catalog.element(element).authority
        )

    # --- choosing ---------------------------------------------------------------------------

    def choose(self, row: dict[str, Any]) -> Injected | None:
        """Picks (and applies, for value kinds) the defect of one canonical row, if any."""
        if not self.enabled or row.get("_marks"):
            return None
        if self.forced:
            for kind in list(self.forced):
                injected = self._try(kind, row)
                if injected is None:
                    continue
                self.eligible.add(kind)
                if self.skips[kind] > 0:
                    self.skips[kind] -= 1
                    self._undo(injected, row)
                    continue
                return self._accept(injected)
        u = self.rng.random()
        if u >= self.total_rate:
            return None
        for bound, kind in self.cumulative:
            if u < bound:
                injected = self._try(kind, row)
                return self._accept(injected) if injected is not None else None
        return None

    def _accept(self, injected: Injected) -> Injected:
        self._count(injected.kind)
        if injected.kind == "marital_status_conflict" and injected.target is not None:
            self.world.marital_claims.add(injected.target[1])
        elif injected.kind == "missing_key" and self.is_marital_registry:
            self.world.unregistered_parties.update(injected.extra["parties"])
        return injected

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if kind in self.forced:
            self.forced[kind] -= 1
            if self.forced[kind] <= 0:
                del self.forced[kind]

    def _undo(self, injected: Injected, row: dict[str, Any]) -> None:
        if injected.field is not None and "original" in injected.extra:
            row[injected.field] = injected.extra["original"]
        if "from_field" in injected.extra:
            row[injected.extra["from_field"]] = injected.extra["from"]

    def _try(self, kind: str, row: dict[str, Any]) -> Injected | None:
        key_value = row.get(self.key_field.name)
        if kind in ID_KINDS or kind in USCC_KINDS or kind == "missing_key":
            if not isinstance(key_value, str) or not key_value:
                return None
            if kind == "missing_key" and self.is_marital_registry:
                parties = [p for p in row.get("_persons", {}).values() if p is not None]
                if self.world.marital_claims.intersection(parties):
                    return None  # the registration a marital status conflict is measured by
                return Injected(
                    kind,
                    self.key_field.name,
                    row.get("_key"),
                    value_true=key_value,
                    extra={"parties": parties},
                )
            if kind == "id_lowercase_x" and not key_value.endswith("X"):
                return None
            if kind == "id_15_digit" and key_value[6:8] != "19":
                return None
            if kind == "id_excel_damage" and not key_value[-1].isdigit():
                return None
            return Injected(kind, self.key_field.name, row.get("_key"), value_true=key_value)
        if kind == "duplicate_row":
            return Injected(kind, None, row.get("_key"))
        if kind in self.person_targets:
            return self._person_value(kind, row)
        if kind in self.entity_targets:
            return self._entity_value(kind, row)
        if kind == "address_variant":
            name = self.address_fields[0]
            value = row.get(name)
            if not value:
                return None
            variant = self._address_variant(value)
            row[name] = variant
            return Injected(
                kind, name, row.get("_key"), value_true=value, extra={"original": value}
            )
        if kind == "licence_expired":
            return self._expired(row)
        if kind in _PARCEL_KINDS:
            return self._geometry(kind, row)
        return None

    # --- value defects ----------------------------------------------------------------------

    def _person_value(self, kind: str, row: dict[str, Any]) -> Injected | None:
        persons = self.world.persons
        targets = self.person_targets[kind]
        id_field, value_field = targets[self.rng.randrange(len(targets))]
        person = row.get("_persons", {}).get(id_field, -1)
        if person is None or person < 0 or not persons.in_hukou[person]:
            return None
        if persons.hukou_since[person] >= self.ctx.day:
            return None
        original = row.get(value_field)
        if original is None:
            return None
        if kind == "marital_status_conflict" and not self._comparable_marital(person, original):
            return None
        if kind == "name_homophone":
            changed = homophone_of(original)
            if changed is None:
                return None
        elif kind == "name_conflict":
            pools = self.world.pools
            givens = pools.given_male if persons.sex[person] == 1 else pools.given_female
            changed = original
            while changed == original:
                changed = (
                    pools.surnames[persons.surname[person]]
                    + givens[self.rng.randrange(len(givens))]
                )
        elif kind in ("birth_date_conflict", "birth_date_id_mismatch"):
            shift = self.rng.choice((-365, -31, -30, -1, 1, 30, 31, 365, 366))
            changed = int(original) + shift
        elif kind in ("gender_conflict", "gender_id_mismatch"):
            changed = {"1": "2", "2": "1"}.get(str(original))
            if changed is None:
                return None
        elif kind == "marital_status_conflict":
            changed = "10"  # 未婚, where the marriage registry has registered the person
        else:  # pragma: no cover - every person kind is handled above
            return None
        row[value_field] = changed
        return Injected(
            kind,
            value_field,
            persons.ids[person],
            value_true=original,
            target=(id_field, person),
            extra={"original": original},
        )

    def _comparable_marital(self, person: int, original: Any) -> bool:
        """Whether "unmarried" would contradict what the marriage registry (the authority) says
        of the person when this file is delivered, so that a pipeline can find the conflict: the
        person has a registration before the delivery (married, widowed since or divorced, never
        "unmarried"), and none made after a party's death (a deceased_married world mark, whose
        anomaly the pipeline reports instead)."""
        if str(original) == "10":
            return False
        if self._registered is None:
            self._registered = _registered_persons(self.world, self.ctx.day)
        return person < len(self._registered) and bool(self._registered[person])

    def _entity_value(self, kind: str, row: dict[str, Any]) -> Injected | None:
        targets = self.entity_targets[kind]
        uscc_field, value_field = targets[self.rng.randrange(len(targets))]
        entity = row.get("_entities", {}).get(uscc_field)
        original = row.get(value_field)
        if entity is None or not original:
            return None
        if kind == "entity_name_conflict":
            changed = _other_entity_name(original, self.world.juris.county)
        else:
            pools = self.world.pools
            changed = original
            while changed == original:
                surname = pools.surnames[self.rng.randrange(len(pools.surnames))]
                changed = surname + pools.givens[self.rng.randrange(len(pools.givens))]
        row[value_field] = changed
        return Injected(
            kind,
            value_field,
            self.world.entities.uscc[entity],
            value_true=original,
            extra={"original": original},
        )

    def _address_variant(self, address: str) -> str:
        juris = self.world.juris
        form = self.rng.randrange(4)
        if form == 0 and address.startswith(juris.address_prefix):
            return address[len(juris.province) + len(juris.prefecture) :]  # 淇县…
        if form == 1 and address.startswith(juris.province):
            return address[len(juris.province) :]  # 鹤壁市淇县…
        if form == 2:
            return keys.fullwidth(address)
        return address.replace(juris.county, juris.county + " ", 1)

    def _expired(self, row: dict[str, Any]) -> Injected | None:
        valid_from, valid_to, status = self.licence  # type: ignore[misc]
        if row.get(status) != "valid" or not row.get("_alive", True):
            return None
        original_to, original_from = row.get(valid_to), row.get(valid_from)
        ended = self.ctx.day - self.rng.randint(10, 700)
        row[valid_to] = ended
        if isinstance(original_from, int) and original_from >= ended:
            row[valid_from] = ended - 6 * 365
        return Injected(
            "licence_expired",
            valid_to,
            row.get("_key"),
            value_true=original_to,
            extra={"original": original_to, "from": original_from, "from_field": valid_from},
        )

    def _geometry(self, kind: str, row: dict[str, Any]) -> Injected | None:
        land = self.world.land
        parcel = row.get("_parcel")
        original = row.get("geometry")
        if parcel is None or original is None or parcel in self.overlapped_parcels:
            return None
        ring = [list(point) for point in original["coordinates"][0][:4]]
        detail = ""
        if kind == "parcel_invalid_geometry":
            ring[1], ring[2] = ring[2], ring[1]  # a bow-tie: the boundary crosses itself
        elif kind == "parcel_outside_jurisdiction":
            width = land.bbox[2] - land.bbox[0]
            ring = [[round(x + width * 1.05, 7), y] for x, y in ring]
        else:
            neighbour = _east_neighbour(self.world, parcel)
            if neighbour is None or neighbour in self.reshaped_parcels:
                return None
            self.overlapped_parcels.add(neighbour)
            centre_x = round(float(land.parcel_ring[neighbour][:, 0].mean()), 7)
            ring[1][0] = ring[2][0] = centre_x
            detail = f"overlaps {land.parcel_codes[neighbour]}"
        self.reshaped_parcels.add(parcel)
        row["geometry"] = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        return Injected(
            kind,
            "geometry",
            row.get("_key"),
            value_true=original,
            detail=detail,
            extra={"original": original},
        )

    # --- key defects ------------------------------------------------------------------------

    def damage_key(self, injected: Injected, values: list[Any]) -> None:
        """Applies a key defect to the rendered row (in place)."""
        position = self.shape.position[self.key_field.name]
        key = values[position]
        kind = injected.kind
        if kind == "missing_key":
            values[position] = None
        elif kind == "id_wrong_check_char":
            values[position] = keys.with_wrong_check_char(key, "0123456789X", self.rng.random())
        elif kind == "uscc_wrong_check_char":
            values[position] = keys.with_wrong_check_char(
                key, keys.USCC_ALPHABET, self.rng.random()
            )
        elif kind == "uscc_wrong_org_code_check":
            values[position] = keys.with_wrong_org_code_check(key, self.rng.random())
        elif kind == "id_15_digit":
            values[position] = keys.id_15_digit(key)
        elif kind == "id_lowercase_x":
            values[position] = keys.lowercase_x(key)
        elif kind == "key_fullwidth":
            values[position] = keys.fullwidth(key)
        elif kind == "key_whitespace":
            values[position] = keys.with_whitespace(key, self.rng.random())
        elif kind == "id_excel_damage":
            truncated = keys.excel_truncated(key)
            # One truncation in eleven leaves an ID whose check character still holds (…0000 ends
            # in a valid "0"): no check can tell it from a real ID, so the manifest's outcome
            # (quarantined as excel_damaged) would be false. Such a cell is shown as Excel's
            # scientific notation instead, which is always detectable.
            if self.rng.random() < 0.5 or keys.id_check_char(truncated[:17]) == truncated[17]:
                values[position] = ExcelNumber(float(key), keys.excel_scientific(key))
            else:
                values[position] = ExcelNumber(float(key), truncated)

    # --- recording --------------------------------------------------------------------------

    def record(
        self, manifest: Any, injected: Injected, values: list[Any], file: str, row_number: int
    ) -> None:
        """Writes the manifest entry of a row-level defect."""
        kind = KINDS[injected.kind]
        column = None
        written: Any = None
        true: Any = injected.value_true
        if injected.field is not None:
            position = self.shape.position[injected.field]
            column = self.shape.columns[position]
            written = values[position]
            formatter = self.shape.formatter(injected.field)
            if injected.kind not in ID_KINDS + USCC_KINDS + ("missing_key",):
                true = formatter(true, self._style_of(values, injected), 0.5)
        detail = injected.detail
        if injected.kind == "duplicate_row":
            detail = f"copy of row {injected.extra['original_row']}"
        if injected.kind == "id_excel_damage" and self.resource.delivery.format == "xlsx":
            detail = "numeric cell"
        manifest.defect(
            kind=kind.name,
            level=kind.level,
            department=self.resource.department,
            resource=self.resource.id,
            batch=self.ctx.batch_id,
            file=file,
            row=row_number,
            key=injected.key,
            field=injected.field,
            column=column,
            value_written=_text(written),
            value_true=_text(true),
            outcome=kind.outcome,
            reason=kind.reason or None,
            element=kind.element or None,
            rule=kind.rule or None,
            ticket_department=self.resource.department
            if kind.outcome in ("conflict", "anomaly")
            else None,
            detail=detail or None,
        )

    def record_marks(
        self, manifest: Any, row: dict[str, Any], values: list[Any], file: str, row_number: int
    ) -> None:
        """Writes the manifest entries of the world marks a row shows."""
        for mark in row.get("_marks", ()):
            kind = KINDS[mark["kind"]]
            name = mark.get("field")
            position = self.shape.position.get(name) if name else None
            written = values[position] if position is not None else None
            true = mark.get("value_true")
            if true is not None and name:
                true = self.shape.formatter(name)(true, self.shape.habit[0], 0.5)
            manifest.defect(
                kind=kind.name,
                level=kind.level,
                department=self.resource.department,
                resource=self.resource.id,
                batch=self.ctx.batch_id,
                file=file,
                row=row_number,
                key=mark.get("key"),
                field=name,
                column=self.shape.columns[position] if position is not None else None,
                value_written=_text(written),
                value_true=_text(true),
                outcome=kind.outcome,
                reason=kind.reason or None,
                element=kind.element or None,
                rule=kind.rule or None,
                ticket_department=self.resource.department,
                detail=mark.get("detail"),
            )

    def _style_of(self, values: list[Any], injected: Injected) -> int:
        return injected.extra.get("style", self.shape.habit[0])


def _registered_persons(world: World, day: int) -> np.ndarray:
    """Person number → has a marriage registration (婚姻登记) before ``day``, is not a party of
    one registered after a party's death, nor of one delivered without its number."""
    registered = np.zeros(len(world.persons.sex), bool)
    m = world.marriages
    if not len(m):
        return registered
    before = np.asarray(m["day"]) < day
    registered[np.asarray(m["male"])[before]] = True
    registered[np.asarray(m["female"])[before]] = True
    erroneous = sorted(world.marks.get(("deceased_married", "mzj.marriage"), ()))
    if erroneous:
        registered[np.asarray(m["male"])[erroneous]] = False
        registered[np.asarray(m["female"])[erroneous]] = False
    registered[sorted(world.unregistered_parties)] = False
    return registered


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _other_entity_name(name: str, county: str) -> str:
    """A different name for the same enterprise (its name before a change, or a mistyped one):
    the two trade-name characters swapped, or the first replaced."""
    start = len(county) if name.startswith(county) else 0
    trade = name[start : start + 2]
    if len(trade) == 2 and trade[0] != trade[1]:
        return name[:start] + trade[::-1] + name[start + 2 :]
    return name[:start] + "新" + name[start + 1 :]


def _east_neighbour(world: World, parcel: int) -> int | None:
    land = world.land
    neighbour = parcel + 1
    if neighbour >= len(land.parcel_codes):
        return None
    if land.parcel_community[neighbour] != land.parcel_community[parcel]:
        return None
    ring, other = land.parcel_ring[parcel], land.parcel_ring[neighbour]
    same_shelf = (
        abs(float(other[:, 1].min()) - float(ring[:, 1].min()))
        < float(ring[:, 1].max() - ring[:, 1].min()) * 0.5
    )
    if not same_shelf or float(other[:, 0].min()) <= float(ring[:, 0].max()):
        return None
    return neighbour
