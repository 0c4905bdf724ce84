"""Approved catalog revisions (目录更新): numbered YAML files read over `schemas/`.

A department's change to its own resource's catalog entry (000 §10, 002 §13, 003 §18) is
reviewed in the workflow store (:mod:`jobs.govern.catalog_change`); once the bureau approves it,
it becomes revision N here: one file ``<revisions root>/<N>.<resource id>.yaml``
(``0007.mzj.marriage.yaml``) holding who
proposed and who approved it, why, the diff, and the whole new entry of the resource. The
catalog loader (:mod:`jobs.catalog.loader`) reads ``schemas/`` and, for each resource, takes the
entry of its newest revision instead of its file there; so the DAG factory, ingestion and the
quality suites pick an approved change up without a code change, and without a database:
Airflow parses DAG files from configuration, never from the store.

Why files and not the store: the store is the source of truth of the *workflow* (who asked,
who decided, when); what the pipeline reads is *configuration*, which must load where no store
is reachable (an Airflow worker, a DAG parse) and in the time a DAG parse allows (a directory
listing and one small YAML file per revised resource: the file name says which resource a
revision is of, so only the newest of each is read, however long the history grows). The files are written from the store after
each approval (:func:`jobs.govern.catalog_change.publish_revisions` writes any that are missing,
so a write that failed is made good by the next one). They live outside git
(``GOVLAKE_CATALOG_REVISIONS_ROOT``, default ``data/catalog``): `schemas/` stays the reviewed
baseline, and a revision is adopted into it by copying its ``entry`` into the resource's file
(the revision keeps shadowing the file until it is removed).

A revision file is never rewritten: written once under a temporary name and renamed, it is
either there whole or not at all.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from jobs import yamlconf
from jobs.yamlconf import ANY, INT, TEXT, Keys, ListOf

#: A revision's file name: its number, zero-padded to four digits (more once past 9999), and
#: the resource it revises.
REVISION_FILE = re.compile(r"^(\d{4,})\.([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.yaml$")

#: The keys of a revision file; ``entry`` is a resource entry, checked by the catalog loader.
REVISION_SHAPE = Keys(
    {
        "revision": INT,
        "resource": TEXT,
        "request": TEXT,
        "proposed_by": TEXT,
        "proposed_department": TEXT,
        "proposed_on": TEXT,
        "reason": TEXT,
        "approved_by": TEXT,
        "approved_on": TEXT,
        "decision": TEXT,
        "changes": ListOf(ANY),
        "entry": ANY,
    },
    required={"revision", "resource", "proposed_by", "approved_by", "approved_on", "entry"},
)


@dataclass(frozen=True)
class Revision:
    """One approved change of one resource's catalog entry (revision ``number``)."""

    number: int
    resource: str
    entry: Mapping[str, Any]
    proposed_by: str
    approved_by: str
    approved_on: str
    proposed_department: str = ""
    proposed_on: str = ""
    reason: str = ""
    decision: str = ""
    request: str = ""
    changes: tuple[Mapping[str, Any], ...] = ()
    file: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The revision as its file holds it (and as the API and ``--json`` print it)."""
        return {
            "revision": self.number,
            "resource": self.resource,
            "request": self.request,
            "proposed_by": self.proposed_by,
            "proposed_department": self.proposed_department,
            "proposed_on": self.proposed_on,
            "reason": self.reason,
            "approved_by": self.approved_by,
            "approved_on": self.approved_on,
            "decision": self.decision,
            "changes": [dict(c) for c in self.changes],
            "entry": plain(self.entry),
        }


def file_name(number: int, resource: str) -> str:
    return f"{number:04d}.{resource}.yaml"


def revision_files(root: str | Path | None) -> list[Path]:
    """The revision files under ``root``, oldest first (none when the folder does not exist)."""
    if root is None:
        return []
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    numbered = [(int(m.group(1)), name) for name in names if (m := REVISION_FILE.match(name))]
    return [Path(root) / name for _, name in sorted(numbered)]


def signature(root: str | Path | None) -> tuple[str, ...]:
    """What changes when a revision is added: the file names (files are never rewritten).
    A directory listing, cheap enough for every catalog load of a long-lived process."""
    return tuple(path.name for path in revision_files(root))


def read_revisions(
    root: str | Path | None, *, newest_only: bool = False
) -> tuple[list[Revision], list[yamlconf.Problem]]:
    """Every revision under ``root`` (or only each resource's newest), oldest first, and what is
    wrong with the files that could not be read (the loader refuses a catalog with any: a
    revision must not half-apply).

    The entries are returned as parsed (with their lines, for the loader's messages); whether
    an entry is a valid catalog entry is the loader's to say.
    """
    revisions: list[Revision] = []
    problems: list[yamlconf.Problem] = []
    paths = revision_files(root)
    if newest_only:
        newest = {REVISION_FILE.match(p.name).group(2): p for p in paths}  # type: ignore[union-attr]
        paths = sorted(newest.values(), key=lambda p: int(p.name.split(".")[0]))
    for path in paths:
        try:
            data = yamlconf.read(path)
        except yamlconf.ConfigError as exc:
            problems.extend(exc.problems)
            continue
        found = yamlconf.check(data, REVISION_SHAPE, path)
        if found:
            problems.extend(found)
            continue
        named = REVISION_FILE.match(path.name)
        assert named is not None  # revision_files lists only names that match
        mismatched = [
            yamlconf.Problem(
                str(path),
                yamlconf.line_of(data, key),
                key,
                f"{data[key]} does not match the file name {path.name}",
            )
            for key, value in (("revision", int(named.group(1))), ("resource", named.group(2)))
            if data[key] != value
        ]
        if mismatched:
            problems.extend(mismatched)
            continue
        revisions.append(_revision(data, str(path)))
    return revisions, problems


def _revision(data: Mapping[str, Any], file: str = "") -> Revision:
    return Revision(
        number=int(data["revision"]),
        resource=data["resource"],
        entry=data["entry"],
        proposed_by=data["proposed_by"],
        approved_by=data["approved_by"],
        approved_on=str(data["approved_on"]),
        proposed_department=data.get("proposed_department", ""),
        proposed_on=str(data.get("proposed_on", "")),
        reason=data.get("reason", ""),
        decision=data.get("decision", ""),
        request=data.get("request", ""),
        changes=tuple(data.get("changes") or ()),
        file=file,
    )


def newest_by_resource(revisions: Iterable[Revision]) -> dict[str, Revision]:
    """The newest revision of each resource (the one the catalog reads)."""
    newest: dict[str, Revision] = {}
    for revision in sorted(revisions, key=lambda r: r.number):
        newest[revision.resource] = revision
    return newest


def write_revision(root: str | Path, revision: Revision) -> Path:
    """Writes revision ``revision.number`` as a new file, whole or not at all.

    Raises:
        FileExistsError: a file of that number exists with other content (revisions are never
            rewritten; the same content again is a no-op, so publishing can be repeated).
    """
    folder = Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(revision.number, revision.resource)
    text = render(revision)
    if path.exists():
        if path.read_text(encoding="utf-8") == text:
            return path
        raise FileExistsError(f"revision {revision.number} already exists at {path}")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".revision-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.link(temporary, path)  # fails if the number was taken meanwhile: never overwrites
    finally:
        os.unlink(temporary)
    return path


def render(revision: Revision) -> str:
    """The file text of a revision: a comment line, then the keys in a fixed order."""
    header = f"# catalog revision {revision.number} (目录更新): {revision.resource}\n"
    body = yaml.safe_dump(
        revision.as_dict(), allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    return header + body


# --- diffs ----------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Parsed YAML as plain dicts, lists and scalars (for JSON, the store and comparisons)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def diff_entries(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """What changes from one catalog entry to another, one line per changed value:
    ``{"path": "fields[birth_date].required", "before": False, "after": True}``.

    Fields are matched by name (``fields[name]``), so a reordering reads as one line
    (``fields (order)``) and an edited field as the keys that changed in it; a field added or
    removed has ``before`` or ``after`` None.
    """
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        changes: list[dict[str, Any]] = []
        for key in dict.fromkeys([*before, *after]):
            inner = f"{path}.{key}" if path else str(key)
            if key not in before:
                changes.append(_change(inner, None, after[key]))
            elif key not in after:
                changes.append(_change(inner, before[key], None))
            else:
                changes.extend(diff_entries(before[key], after[key], inner))
        return changes
    if path == "fields" and _named(before) and _named(after):
        return _diff_fields(before, after)
    # True == 1 in Python; in a catalog entry they are different values
    if plain(before) != plain(after) or isinstance(before, bool) != isinstance(after, bool):
        return [_change(path, before, after)]
    return []


def _named(items: Any) -> bool:
    if not isinstance(items, list):
        return False
    names = [i.get("name") for i in items if isinstance(i, Mapping)]
    return len(names) == len(items) and all(isinstance(n, str) for n in names)


def _diff_fields(before: list[Any], after: list[Any]) -> list[dict[str, Any]]:
    old = {f["name"]: f for f in before}
    new = {f["name"]: f for f in after}
    changes: list[dict[str, Any]] = []
    for name in dict.fromkeys([*old, *new]):
        inner = f"fields[{name}]"
        if name not in old:
            changes.append(_change(inner, None, new[name]))
        elif name not in new:
            changes.append(_change(inner, old[name], None))
        else:
            changes.extend(diff_entries(old[name], new[name], inner))
    kept_old = [n for n in old if n in new]
    kept_new = [n for n in new if n in old]
    if kept_old != kept_new:
        changes.append(_change("fields (order)", kept_old, kept_new))
    return changes


def _change(path: str, before: Any, after: Any) -> dict[str, Any]:
    return {"path": path, "before": plain(before), "after": plain(after)}
