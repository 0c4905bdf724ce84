"""``govlake catalog``: list, show and validate the resource catalog (目录).

``list`` prints one line per resource with the catalog items the regulations ask for (source,
format, update cycle, share type, open type, security level; 001 §8, 002 §10, 003 §15);
``show`` prints everything about one resource; ``validate`` checks `schemas/` and lists every
problem, for people editing the YAML and for CI.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

from jobs.catalog import revisions
from jobs.catalog.loader import CatalogError, read_catalog
from jobs.catalog.models import SECURITY_LEVELS, Catalog, Resource
from jobs.settings import Settings

#: Catalog open types → the policy profile's vocabulary keys (profiles call 依申请 "conditional").
_PROFILE_OPEN_KEYS = {"on_request": "conditional"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake catalog list|show|validate``."""
    catalog = subparsers.add_parser("catalog", help="list, show and validate the resource catalog")
    commands = catalog.add_subparsers(dest="catalog_command", metavar="ACTION")
    catalog.set_defaults(func=functools.partial(_help, catalog))

    root_help = "schemas folder (default: GOVLAKE_SCHEMAS_ROOT or ./schemas)"
    listing = commands.add_parser("list", help="one line per resource")
    listing.add_argument("--root", help=root_help)
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(func=_list)

    show = commands.add_parser("show", help="everything about one resource")
    show.add_argument("resource_id", metavar="RESOURCE", help='resource id, e.g. "gaj.hukou"')
    show.add_argument("--root", help=root_help)
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(func=_show)

    validate = commands.add_parser("validate", help="check the catalog and list every problem")
    validate.add_argument("--root", help=root_help)
    validate.set_defaults(func=_validate)

    history = commands.add_parser(
        "revisions", help="approved catalog changes (目录更新): list, or show one with its diff"
    )
    history.add_argument("number", nargs="?", type=int, help="show this revision")
    history.add_argument("--resource", help='only revisions of this resource, e.g. "mzj.marriage"')
    history.add_argument("--json", action="store_true", help="print as JSON")
    history.add_argument(
        "--publish",
        action="store_true",
        help="first write the file of every approved change the revisions folder lacks",
    )
    history.set_defaults(func=_revisions)


def _help(parser: argparse.ArgumentParser, _args: argparse.Namespace) -> int:
    parser.print_help()
    return 2


def _settings(args: argparse.Namespace) -> Settings:
    """The effective settings, with ``--root`` as the schemas folder when given (then without
    the approved revisions: the folder alone is what is asked about)."""
    settings = Settings.from_env()
    if not args.root:
        return settings
    return dataclasses.replace(settings, schemas_root=args.root, catalog_revisions_root="")


def _read(settings: Settings) -> Catalog | None:
    # Commands always re-read: a person running them has usually just edited a file.
    try:
        return read_catalog(settings.schemas_root, settings.catalog_revisions_root or None)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return None


def _list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    catalog = _read(settings)
    if catalog is None:
        return 1
    vocabulary = policy_vocabulary(settings)
    if args.json:
        rows = [_summary(resource, vocabulary) for resource in catalog.resources.values()]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    header = ("id", "title", "key", "format", "frequency", "share", "open", "level", "feeds")
    rows = [
        (
            resource.id,
            resource.title,
            resource.key.kind,
            resource.delivery.format,
            resource.update_frequency,
            _labelled(resource.share.type, "share", vocabulary),
            _labelled(resource.open.type, "open", vocabulary),
            str(resource.security_level),
            ", ".join(resource.feeds) or "-",
        )
        for resource in catalog.resources.values()
    ]
    print(_table(header, rows))
    return 0


def _show(args: argparse.Namespace) -> int:
    settings = _settings(args)
    catalog = _read(settings)
    if catalog is None:
        return 1
    if args.resource_id not in catalog.resources:
        known = ", ".join(catalog.resources)
        print(f"unknown resource {args.resource_id!r}; known: {known}", file=sys.stderr)
        return 1
    resource = catalog.resource(args.resource_id)
    vocabulary = policy_vocabulary(settings)
    details = _details(catalog, resource, vocabulary)
    if args.json:
        print(json.dumps(details, indent=2, ensure_ascii=False))
        return 0
    print(_render_details(details))
    return 0


def _validate(args: argparse.Namespace) -> int:
    catalog = _read(_settings(args))
    if catalog is None:
        return 1
    field_count = sum(len(r.fields) for r in catalog.resources.values())
    print(
        f"catalog OK at {catalog.root}: {len(catalog.departments)} departments, "
        f"{len(catalog.resources)} resources ({field_count} fields), "
        f"{len(catalog.elements)} data elements, {len(catalog.code_tables)} code tables"
    )
    return 0


def _revisions(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.publish:
        from jobs.govern.catalog_change import publish_revisions

        for path in publish_revisions(settings):
            print(f"wrote {path}")
    found, problems = revisions.read_revisions(settings.catalog_revisions_root)
    for problem in problems:
        print(problem, file=sys.stderr)
    chosen = [
        r
        for r in found
        if (args.resource in (None, r.resource)) and (args.number in (None, r.number))
    ]
    if args.number is not None and not chosen:
        print(f"no revision {args.number} in {settings.catalog_revisions_root}", file=sys.stderr)
        return 1
    if args.json:
        shown = [r.as_dict() if args.number else _revision_line(r) for r in chosen]
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return 1 if problems else 0
    if args.number is not None:
        print(_render_revision(chosen[0]))
        return 1 if problems else 0
    header = ("revision", "resource", "approved", "by", "proposed by", "changes", "why")
    rows = [
        (
            str(r.number),
            r.resource,
            r.approved_on,
            r.approved_by,
            r.proposed_by,
            ", ".join(c["path"] for c in r.changes) or "-",
            r.reason or "-",
        )
        for r in chosen
    ]
    print(_table(header, rows) if rows else f"no revisions in {settings.catalog_revisions_root}")
    return 1 if problems else 0


def _revision_line(revision: revisions.Revision) -> dict[str, Any]:
    shown = revision.as_dict()
    del shown["entry"]
    return shown


def _render_revision(revision: revisions.Revision) -> str:
    lines = [
        f"revision {revision.number}: {revision.resource}",
        f"  proposed by {revision.proposed_by} ({revision.proposed_department or '-'}) "
        f"on {revision.proposed_on or '-'}: {revision.reason or '-'}",
        f"  approved by {revision.approved_by} on {revision.approved_on}: "
        f"{revision.decision or '-'}",
        f"  request {revision.request or '-'}, file {revision.file}",
        "  changes:",
        *(
            f"    {c['path']}: {json.dumps(c['before'], ensure_ascii=False)} → "
            f"{json.dumps(c['after'], ensure_ascii=False)}"
            for c in revision.changes
        ),
    ]
    return "\n".join(lines)


# --- policy vocabulary -----------------------------------------------------------------------


def policy_vocabulary(settings: Settings) -> dict[str, dict[str, str]] | None:
    """Chinese names of share and open types in the profile ``settings`` name, if available.

    The vocabulary differs by jurisdiction (镇海 says 受限共享 for conditional sharing), so the
    catalog shows it next to its own English keys. The profile module is optional here: when it
    is missing or the profile does not load, the catalog commands still work, in English.

    Returns:
        ``{"share": {key: name}, "open": {key: name}}`` keyed by catalog type, or None.
    """
    try:
        from jobs.policy.profiles import configured_profile
    except ImportError:
        return None
    try:
        profile = configured_profile(settings)
        share = {key: profile.share_types.name(key) for key in profile.share_types.keys}
        opened = {key: profile.open_types.name(key) for key in profile.open_types.keys}
    except Exception:  # any failure only loses the Chinese labels; the catalog is the point
        return None
    for catalog_key, profile_key in _PROFILE_OPEN_KEYS.items():
        if profile_key in opened:
            opened[catalog_key] = opened[profile_key]
    return {"share": share, "open": opened}


def _labelled(value: str, group: str, vocabulary: dict[str, dict[str, str]] | None) -> str:
    name = (vocabulary or {}).get(group, {}).get(value)
    return f"{value} ({name})" if name else value


# --- rendering -------------------------------------------------------------------------------


def _summary(resource: Resource, vocabulary: dict[str, dict[str, str]] | None) -> dict[str, Any]:
    return {
        "id": resource.id,
        "title": resource.title,
        "key_kind": resource.key.kind,
        "format": resource.delivery.format,
        "update_frequency": resource.update_frequency,
        "share_type": resource.share.type,
        "share_type_name": _name(resource.share.type, "share", vocabulary),
        "open_type": resource.open.type,
        "open_type_name": _name(resource.open.type, "open", vocabulary),
        "security_level": resource.security_level,
        "feeds": list(resource.feeds),
    }


def _name(value: str, group: str, vocabulary: dict[str, dict[str, str]] | None) -> str | None:
    return (vocabulary or {}).get(group, {}).get(value)


def _details(
    catalog: Catalog, resource: Resource, vocabulary: dict[str, dict[str, str]] | None
) -> dict[str, Any]:
    department = catalog.department(resource.department)
    fields = []
    for f in resource.fields:
        element = f.data_element
        fields.append(
            {
                "name": f.name,
                "element": f.element,
                "element_name": element.name,
                "kind": element.kind,
                "type": element.type,
                "source_columns": list(f.source_columns),
                "required": f.required,
                "sensitivity": f.sensitivity,
                "is_key": f.name in resource.key.fields,
                "code_table": element.code_table,
                "code_map": dict(f.code_map),
                "code_map_by_name": f.code_map_by_name,
                "authority": list(element.authority),
                "is_authoritative": resource.id in element.authority,
                "description": f.description,
            }
        )
    return {
        "id": resource.id,
        "department": {"code": department.code, "name": department.name},
        "title": resource.title,
        "title_en": resource.title_en,
        "grain": resource.grain,
        "description": resource.description,
        "file": resource.path,
        "key": {"kind": resource.key.kind, "fields": list(resource.key.fields)},
        "delivery": {"format": resource.delivery.format, "encoding": resource.delivery.encoding},
        "update_frequency": resource.update_frequency,
        "security_level": resource.security_level,
        "security_level_name": SECURITY_LEVELS.get(resource.security_level, ""),
        "share": {
            "type": resource.share.type,
            "type_name": _name(resource.share.type, "share", vocabulary),
            "condition": resource.share.condition,
            "legal_basis": resource.share.legal_basis,
        },
        "open": {
            "type": resource.open.type,
            "type_name": _name(resource.open.type, "open", vocabulary),
            "domain": resource.open.domain,
            "summary": resource.open.summary,
            "condition": resource.open.condition,
            "legal_basis": resource.open.legal_basis,
        },
        "feeds": list(resource.feeds),
        "authoritative_for": [
            element.id for element in catalog.elements.values() if resource.id in element.authority
        ],
        "fields": fields,
    }


def _render_details(details: dict[str, Any]) -> str:
    share, opened = details["share"], details["open"]
    lines = [
        f"{details['id']}  {details['title']}"
        + (f" ({details['title_en']})" if details["title_en"] else ""),
        f"  department        {details['department']['code']} {details['department']['name']}",
        f"  file              {details['file']}",
        f"  grain             {details['grain']}",
    ]
    if details["description"]:
        lines.append(f"  description       {details['description']}")
    lines += [
        f"  key               {details['key']['kind']}: {', '.join(details['key']['fields'])}",
        f"  delivery          {details['delivery']['format']}, {details['delivery']['encoding']}",
        f"  update frequency  {details['update_frequency']}",
        f"  security level    {details['security_level']} {details['security_level_name']}",
        f"  share             {_with_name(share)}",
    ]
    for label, key in (("condition", "condition"), ("legal basis", "legal_basis")):
        if share[key]:
            lines.append(f"    {label:<16}{share[key]}")
    lines.append(f"  open              {_with_name(opened)}")
    for key in ("domain", "summary", "condition", "legal_basis"):
        if opened[key]:
            lines.append(f"    {key.replace('_', ' '):<16}{opened[key]}")
    lines.append(f"  feeds             {', '.join(details['feeds']) or '-'}")
    lines.append(f"  authoritative for {', '.join(details['authoritative_for']) or '-'}")
    lines.append("")
    header = ("field", "element", "type", "req", "sensitivity", "source columns", "authority")
    rows = []
    for f in details["fields"]:
        codes = ""
        if f["code_map"]:
            codes = " map " + ", ".join(f"{k}→{v}" for k, v in f["code_map"].items())
        elif f["code_map_by_name"]:
            codes = " by name"
        authority = ", ".join(f["authority"]) or "-"
        if f["is_authoritative"]:
            authority += " *"
        rows.append(
            (
                f["name"] + (" (key)" if f["is_key"] else ""),
                f"{f['element']} {f['element_name']}",
                f["type"] + (f" [{f['code_table']}]" if f["code_table"] else ""),
                "yes" if f["required"] else "no",
                f["sensitivity"],
                ", ".join(f["source_columns"]) + codes,
                authority,
            )
        )
    lines.append(_table(header, rows))
    lines.append("  * this resource is authoritative (一数一源) for the element")
    return "\n".join(lines)


def _with_name(spec: dict[str, Any]) -> str:
    return f"{spec['type']} ({spec['type_name']})" if spec["type_name"] else spec["type"]


def _width(text: str) -> int:
    # Chinese characters take two terminal columns; pad by display width, not len().
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([_width(h)] + [_width(row[i]) for row in rows]) for i, h in enumerate(header)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)
