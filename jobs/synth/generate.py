"""Writes a synthetic city: a landing tree of department deliveries plus the manifest.

Layout: ``<out>/<dept>/<resource>/<batch>/<resource>_<batch>[_partNNN].<ext>`` for every
resource in the catalog, and ``<out>/_manifest/`` (see :mod:`jobs.synth.manifest`). Batch ids
sort in delivery order: ``20250101T000000_full`` then ``20250108T000000_incr`` …; a department's
re-delivery of a broken file carries the same day at 12:00 (``…T120000_incr``), the accidental
second delivery of a batch the same day at 06:00 (``…T060000_…``).

Generation is streamed: the world is held as arrays, and each file is written row by row, so a
million persons need a few hundred megabytes whatever the number of rows delivered. The same
configuration (seed included) gives byte-identical files.

Each delivered file's mtime is set to its batch's time (the batch id, read as UTC): the city's
deliveries happened on their batch days, so ingestion finds them complete at once instead of
waiting out the landing quiet period meant for files still being copied.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jobs.catalog import Catalog, Resource, load_catalog
from jobs.settings import Settings
from jobs.synth.config import SynthConfig
from jobs.synth.defects import ID_KINDS, USCC_KINDS, RowInjector
from jobs.synth.events import advance
from jobs.synth.exporters import extension, open_writer
from jobs.synth.kinds import KINDS
from jobs.synth.manifest import Manifest
from jobs.synth.render import Shape
from jobs.synth.resources import SOURCES, BatchContext
from jobs.synth.truth import write_truth
from jobs.synth.world import World, build_world, plan_count, stream

#: File-level kinds whose file never reaches a pool; the department re-delivers it whole.
DESTROYING = ("truncated_file", "empty_file", "column_renamed_unknown_required")
#: Resources whose UTF-8 CSV starts with a byte-order mark (saved from Excel as "CSV UTF-8").
BOM_RESOURCES = ("rsj.insured",)
_KEY_KINDS = (*ID_KINDS, *USCC_KINDS, "missing_key")


@dataclass(frozen=True)
class FilePlan:
    """A file-level defect planned for one (resource, batch)."""

    kind: str
    field: str | None = None
    column: str | None = None


@dataclass
class Summary:
    """What one generation wrote, for the command line and the benchmark."""

    out: str
    persons: int
    batches: list[str]
    files: int = 0
    rows: int = 0
    defects: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    rows_by_resource: dict[str, int] = field(default_factory=dict)


def batch_id(day: datetime.date, full: bool, hour: int = 0) -> str:
    """A sortable batch id: ``20250101T000000_full``."""
    return f"{day:%Y%m%d}T{hour:02d}0000_{'full' if full else 'incr'}"


def generate(
    config: SynthConfig,
    out: str | Path,
    catalog: Catalog | None = None,
    progress: Callable[[str], None] | None = None,
) -> Summary:
    """Generates the city described by ``config`` into ``out`` (created; existing files of the
    same names are overwritten, others are left alone).

    Args:
        config: size, seed, time line, defect rates.
        out: the landing root to write into.
        catalog: the resource catalog; read from ``config.schemas_root`` (the shipped
            ``schemas/`` when that is not set) if not given.
        progress: called with a line of text after each batch.
    """
    started = time.perf_counter()
    catalog = catalog or load_catalog(config.schemas_root or Settings().schemas_root)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out / "_manifest")
    world = build_world(config)
    days = config.batch_dates()
    ids = [batch_id(day, k == 0) for k, day in enumerate(days)]
    summary = Summary(out=str(out), persons=config.persons, batches=ids)
    resources = [r for r in catalog.resources.values() if r.id in SOURCES]
    summary.notes += [
        f"{rid}: no generator for this resource; not delivered"
        for rid in catalog.resources
        if rid not in SOURCES
    ]
    shapes = {r.id: Shape(catalog, r) for r in resources}
    plans = plan_file_defects(config, resources, len(days), stream(config.seed, "files"))
    events: list[tuple[int, str, str, str, str]] = []
    writer = _Deliverer(world, catalog, config, out, manifest, shapes, summary)
    for k, day in enumerate(days):
        ctx = BatchContext(index=k, batch_id=ids[k], day=day.toordinal(), full=k == 0)
        if k == 0:
            changed: dict[str, set[int]] = {}
        else:
            changes = advance(world, days[k - 1].toordinal(), day.toordinal() - 1, k)
            changed = changes.refs
            events += [(*event, ids[k]) for event in changes.events]
        for resource in resources:
            source = SOURCES[resource.id]
            if k == 0:
                refs = source.full_refs(world, ctx)
            else:
                refs = np.array(sorted(changed.get(resource.id, ())), np.int64)
            if not len(refs) and not _always_delivered(resource, k):
                continue  # nothing changed: a JSON-lines export has nothing to deliver
            writer.deliver(resource, refs, ctx, day, plans.get((resource.id, k)))
        if progress:
            progress(
                f"batch {ids[k]}: {summary.files} files, {summary.rows} rows, "
                f"{len(manifest.defects)} defects, {time.perf_counter() - started:.1f}s"
            )
    write_truth(world, events, out / "_manifest" / "truth")
    for shape in shapes.values():
        summary.notes += [
            f"{shape.resource.id}: field {name!r} is in the catalog but not generated (left empty)"
            for name in sorted(shape.missing)
        ]
        summary.notes += [
            f"{shape.resource.id}: field {name!r} has no department value for code {code!r}"
            for name, code in sorted(shape.unmapped)
        ]
    summary.notes += writer.notes
    _stamp_delivery_times(out, resources)
    summary.defects = len(manifest.defects)
    manifest.close({**config.as_dict(), "batches": ids, "notes": summary.notes})
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


def _stamp_delivery_times(out: Path, resources: list[Resource]) -> None:
    """Sets every delivered file's mtime to the time its batch id names."""
    for resource in resources:
        folder = out / resource.department / resource.resource
        for batch in sorted(folder.iterdir()) if folder.is_dir() else ():
            try:
                delivered = datetime.datetime.strptime(batch.name[:15], "%Y%m%dT%H%M%S")
            except ValueError:
                continue
            stamp = delivered.replace(tzinfo=datetime.UTC).timestamp()
            for path in batch.iterdir():
                os.utime(path, (stamp, stamp))


def plan_file_defects(
    config: SynthConfig, resources: list[Resource], n_batches: int, rng: np.random.Generator
) -> dict[tuple[str, int], FilePlan]:
    """Chooses which (resource, batch) files get a file-level defect; at most one per file.

    Renamed columns only happen in a later batch (an export template that changed), so they
    need at least two batches.
    """
    later = list(range(1, n_batches)) or [0]
    plans: dict[tuple[str, int], FilePlan] = {}
    for name in sorted(k for k, kind in KINDS.items() if kind.level == "file"):
        batches = (
            later if name.startswith("column_renamed") or name in DESTROYING else range(n_batches)
        )
        if name.startswith("column_renamed") and n_batches < 2:
            continue
        candidates: list[tuple[str, int, FilePlan]] = []
        for resource in resources:
            for plan in _file_plans(name, resource):
                candidates += [
                    (resource.id, k, plan)
                    for k in batches
                    if (resource.id, k) not in plans and _always_delivered(resource, k)
                ]
        count = plan_count(config, name, len(candidates), rng)
        for index in rng.choice(len(candidates), count, replace=False) if count else []:
            rid, k, plan = candidates[int(index)]
            if (rid, k) not in plans:
                plans[(rid, k)] = plan
    return plans


def _always_delivered(resource: Resource, k: int) -> bool:
    """A JSON-lines resource with no changes delivers no file, so only its full batch is sure
    to exist; CSV and XLSX have a header and GeoJSON a collection even without rows."""
    return k == 0 or resource.delivery.format != "jsonl"


def _file_plans(kind: str, resource: Resource) -> list[FilePlan]:
    fields = [f for f in resource.fields if f.data_element.kind != "geometry"]
    known = set(resource.source_column_index())
    if kind == "wrong_encoding":
        return [FilePlan(kind)] if resource.delivery.format in ("csv", "jsonl") else []
    if kind.startswith("column_renamed") and resource.delivery.format not in ("csv", "xlsx"):
        # JSON lines and GeoJSON name their columns in every row, not in a header: a batch
        # without rows would show no renamed column at all
        return []
    if kind == "column_renamed_synonym":
        return [
            FilePlan(kind, f.name, f.source_columns[1])
            for f in fields
            if f.required and len(f.source_columns) > 1
        ]
    if kind.startswith("column_renamed_unknown"):
        required = kind.endswith("required")
        key_fields = set(resource.key.fields)
        return [
            FilePlan(kind, f.name, _unknown_name(f.source_columns[0], known))
            for f in fields
            if f.required == required and f.name not in key_fields
        ]
    return [FilePlan(kind)]


def _unknown_name(column: str, known: set[str]) -> str:
    """A plausible drifted column name that the catalog does not declare."""
    for candidate in (column + "信息", "原" + column, column + "(新)"):
        if candidate not in known:
            return candidate
    return column + "_1"


class _Deliverer:
    """Writes the files of one (resource, batch), applies file-level defects, records them."""

    def __init__(
        self,
        world: World,
        catalog: Catalog,
        config: SynthConfig,
        out: Path,
        manifest: Manifest,
        shapes: dict[str, Shape],
        summary: Summary,
    ) -> None:
        self.world = world
        self.catalog = catalog
        self.config = config
        self.out = out
        self.manifest = manifest
        self.shapes = shapes
        self.summary = summary
        self.notes: list[str] = []

    def deliver(
        self,
        resource: Resource,
        refs: np.ndarray,
        ctx: BatchContext,
        day: datetime.date,
        plan: FilePlan | None,
    ) -> None:
        kind = plan.kind if plan else None
        declared = resource.delivery.encoding
        encoding = declared
        if kind == "wrong_encoding":
            encoding = "utf-8" if declared in ("gbk", "gb18030") else "gbk"
        rename = (
            {plan.field: plan.column} if plan and plan.kind.startswith("column_renamed") else {}
        )
        destroyed = kind in DESTROYING
        files = self._write(
            resource,
            refs,
            ctx,
            encoding,
            rename,
            enabled=not destroyed,
            force=ctx.full and not destroyed,
        )
        first = files[0][0]
        if kind == "truncated_file":
            _truncate(first, stream(self.config.seed, f"truncate/{resource.id}/{ctx.batch_id}"))
        elif kind == "empty_file":
            os.truncate(first, 0)
        for path, rows in files:
            self._file_record(resource, ctx.batch_id, path, rows, encoding)
        if plan is not None:
            self._plan_record(resource, ctx, plan, first)
        if destroyed:
            again = BatchContext(ctx.index, batch_id(day, ctx.full, hour=12), ctx.day, ctx.full)
            for path, rows in self._write(
                resource, refs, again, declared, {}, enabled=True, force=ctx.full
            ):
                self._file_record(
                    resource, again.batch_id, path, rows, declared, redelivery_of=ctx.batch_id
                )
        if kind == "duplicate_batch":
            copy_id = batch_id(day, ctx.full, hour=6)
            target = self.out / resource.department / resource.resource / copy_id
            target.mkdir(parents=True, exist_ok=True)
            for path, rows in files:
                copy = target / path.name.replace(ctx.batch_id, copy_id)
                shutil.copyfile(path, copy)
                self._file_record(
                    resource, copy_id, copy, rows, encoding, duplicate_of=ctx.batch_id
                )

    def _write(
        self,
        resource: Resource,
        refs: np.ndarray,
        ctx: BatchContext,
        encoding: str,
        rename: dict[str, str],
        *,
        enabled: bool,
        force: bool,
    ) -> list[tuple[Path, int]]:
        world, config = self.world, self.config
        shape = self.shapes[resource.id]
        source = SOURCES[resource.id]
        folder = self.out / resource.department / resource.resource / ctx.batch_id
        folder.mkdir(parents=True, exist_ok=True)
        fmt = resource.delivery.format
        columns = [
            rename.get(name, column)
            for name, column in zip(shape.names, shape.columns, strict=True)
        ]
        geometry = shape.geometry_column
        if geometry is not None:
            geometry = rename.get(shape.names[shape.columns.index(geometry)], geometry)
        parts = len(refs) * source.rows_per_ref > config.max_rows_per_file
        rng = random.Random(f"{config.seed}/{resource.id}/{ctx.batch_id}")
        injector = RowInjector(
            world,
            self.catalog,
            resource,
            source,
            shape,
            config,
            rng,
            ctx,
            enabled=enabled,
            force=force,
            hidden_fields=frozenset(
                name
                for name, column in rename.items()
                if column not in resource.field(name).source_columns
            ),
        )
        created = f"{datetime.date.fromordinal(ctx.day).isoformat()}T00:00:00Z"
        files: list[tuple[Path, int]] = []
        state: dict[str, Any] = {}

        def open_part() -> None:
            number = len(files) + 1
            suffix = f"_part{number:03d}" if parts else ""
            path = folder / f"{resource.resource}_{ctx.batch_id}{suffix}.{extension(fmt)}"
            state["path"] = path
            state["relative"] = path.relative_to(self.out).as_posix()
            state["writer"] = open_writer(
                path,
                fmt,
                columns,
                encoding,
                geometry_column=geometry,
                created=created,
                bom=resource.id in BOM_RESOURCES and encoding == "utf-8",
                name=resource.resource,
            )
            files.append((path, 0))

        def close_part() -> None:
            writer = state["writer"]
            writer.close()
            files[-1] = (files[-1][0], writer.rows)

        pending: list[tuple[int, list[Any], Any]] = []

        def emit(values: list[Any]) -> int:
            writer = state["writer"]
            writer.write(values)
            return writer.rows

        def flush(force_all: bool = False) -> None:
            while pending and (force_all or pending[0][0] <= state["writer"].rows):
                _, values, injected = pending.pop(0)
                number = emit(values)
                injector.record(self.manifest, injected, values, state["relative"], number)

        open_part()
        chunk = max(1, config.chunk_rows)
        for start in range(0, len(refs), chunk):
            for ref in refs[start : start + chunk].tolist():
                for row in source.rows(world, ref, ctx):
                    injected = injector.choose(row)
                    style = shape.row_style(rng.random())
                    values = shape.render(row, style, rng.random())
                    if injected is not None and injected.kind in _KEY_KINDS:
                        injector.damage_key(injected, values)
                    number = emit(values)
                    if enabled:
                        injector.record_marks(self.manifest, row, values, state["relative"], number)
                    if injected is not None:
                        injected.extra["style"] = style
                        if injected.kind == "duplicate_row":
                            injected.extra["original_row"] = number
                            pending.append((number + rng.randrange(4), list(values), injected))
                        else:
                            injector.record(
                                self.manifest, injected, values, state["relative"], number
                            )
                    flush()
                    if state["writer"].rows >= config.max_rows_per_file:
                        flush(force_all=True)
                        close_part()
                        open_part()
        flush(force_all=True)
        close_part()
        if parts and files[-1][1] == 0 and len(files) > 1:
            files[-1][0].unlink()
            files.pop()
        for kind, remaining in injector.forced.items():
            why = "too few rows" if kind in injector.eligible else "no row qualifies"
            self.notes.append(
                f"{resource.id} {ctx.batch_id}: {kind} placed "
                f"{self.config.min_per_kind - remaining} of {self.config.min_per_kind} times ({why})"
            )
        rows = sum(r for _, r in files)
        self.summary.rows += rows
        self.summary.rows_by_resource[resource.id] = (
            self.summary.rows_by_resource.get(resource.id, 0) + rows
        )
        return files

    def _file_record(
        self,
        resource: Resource,
        batch: str,
        path: Path,
        rows: int,
        encoding: str,
        *,
        redelivery_of: str | None = None,
        duplicate_of: str | None = None,
    ) -> None:
        data = path.read_bytes()
        self.manifest.file(
            department=resource.department,
            resource=resource.id,
            batch=batch,
            file=path.relative_to(self.out).as_posix(),
            format=resource.delivery.format,
            declared_encoding=resource.delivery.encoding,
            actual_encoding=encoding if resource.delivery.format in ("csv", "jsonl") else "utf-8",
            rows=rows,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            redelivery_of=redelivery_of,
            duplicate_of=duplicate_of,
        )
        self.summary.files += 1

    def _plan_record(
        self, resource: Resource, ctx: BatchContext, plan: FilePlan, path: Path
    ) -> None:
        kind = KINDS[plan.kind]
        detail = None
        if plan.kind == "wrong_encoding":
            declared = resource.delivery.encoding
            detail = f"declared {declared}, delivered {'utf-8' if declared != 'utf-8' else 'gbk'}"
        elif plan.kind == "duplicate_batch":
            detail = f"copied as {batch_id(datetime.date.fromordinal(ctx.day), ctx.full, hour=6)}"
        elif plan.kind in DESTROYING:
            detail = (
                f"re-delivered as {batch_id(datetime.date.fromordinal(ctx.day), ctx.full, hour=12)}"
            )
        original = None
        if plan.field is not None:
            original = resource.field(plan.field).source_columns[0]
        self.manifest.defect(
            kind=kind.name,
            level=kind.level,
            department=resource.department,
            resource=resource.id,
            batch=ctx.batch_id,
            file=path.relative_to(self.out).as_posix(),
            field=plan.field,
            column=plan.column,
            value_written=plan.column,
            value_true=original,
            outcome=kind.outcome,
            reason=kind.reason or None,
            detail=detail,
        )


def _truncate(path: Path, rng: np.random.Generator) -> None:
    """Cuts the file somewhere in its second half, never exactly at a line end."""
    size = path.stat().st_size
    cut = max(1, int(size * rng.uniform(0.5, 0.9)))
    with open(path, "rb") as data:
        data.seek(cut - 1)
        if data.read(1) in (b"\n", b"\r") and cut > 2:
            cut -= 2
    os.truncate(path, cut)
