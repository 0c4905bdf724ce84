"""The ground-truth manifest (``<out>/_manifest/``): every injected defect, every delivered file,
and a snapshot of the world, so that the pipeline's detection can be measured.

Files:

* ``defects.jsonl`` and ``defects.parquet``: one row per injected defect, columns
  :data:`DEFECT_COLUMNS`. ``outcome`` is one of :data:`jobs.synth.kinds.OUTCOMES`; ``reason``
  (quarantine / normalisation / file / batch reason code), ``element`` (conflicts) and ``rule``
  (anomalies) say what the outcome is about; ``ticket_department`` is the department a
  verification ticket should go to. ``row`` is the 1-based data row in ``file`` (header not
  counted; GeoJSON: the feature number), empty for file-level defects. ``key`` is the record's
  true key (normalised), ``value_written`` what the file holds and ``value_true`` the truth.
* ``files.jsonl``: one row per delivered file: department, resource, batch, path, format,
  declared and actual encoding, data rows written, bytes, SHA-256, and whether it is a
  re-delivery (``redelivery_of``) or a duplicate (``duplicate_of``) of another batch.
* ``truth/*.parquet``: the world at the end of the last window (grain stated per table in
  ``truth/README.md``); ``truth/jurisdiction.geojson``: the jurisdiction boundary.
* ``config.json``: the effective generation settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: Columns of ``defects.jsonl`` / ``defects.parquet``, in order.
DEFECT_COLUMNS: tuple[str, ...] = (
    "defect_id",
    "kind",
    "level",
    "department",
    "resource",
    "batch",
    "file",
    "row",
    "key",
    "field",
    "column",
    "value_written",
    "value_true",
    "outcome",
    "reason",
    "element",
    "rule",
    "ticket_department",
    "detail",
)
#: Columns of ``files.jsonl``, in order.
FILE_COLUMNS: tuple[str, ...] = (
    "department",
    "resource",
    "batch",
    "file",
    "format",
    "declared_encoding",
    "actual_encoding",
    "rows",
    "bytes",
    "sha256",
    "redelivery_of",
    "duplicate_of",
)
_DEFECT_SCHEMA = pa.schema(
    [(name, pa.int64() if name == "row" else pa.string()) for name in DEFECT_COLUMNS]
)


class Manifest:
    """Collects defect and file records while the city is written; :meth:`close` writes them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.defects: list[dict[str, Any]] = []
        self.files: list[dict[str, Any]] = []
        self._stream = open(root / "defects.jsonl", "w", encoding="utf-8", newline="\n")  # noqa: SIM115

    def defect(self, **values: Any) -> dict[str, Any]:
        """Records one defect; unknown columns are an error, missing ones are empty."""
        unknown = set(values) - set(DEFECT_COLUMNS)
        if unknown:
            raise KeyError(f"unknown manifest columns {sorted(unknown)}")
        record = {name: values.get(name) for name in DEFECT_COLUMNS}
        record["defect_id"] = f"D{len(self.defects) + 1:07d}"
        for name in DEFECT_COLUMNS:
            if name != "row" and record[name] is not None:
                record[name] = str(record[name])
        self.defects.append(record)
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        return record

    def file(self, **values: Any) -> None:
        self.files.append({name: values.get(name) for name in FILE_COLUMNS})

    def close(self, config: dict[str, Any]) -> None:
        self._stream.close()
        arrays = [
            pa.array([record[name] for record in self.defects], _DEFECT_SCHEMA.field(name).type)
            for name in DEFECT_COLUMNS
        ]
        table = pa.Table.from_arrays(arrays, schema=_DEFECT_SCHEMA)
        pq.write_table(table, self.root / "defects.parquet")
        with open(self.root / "files.jsonl", "w", encoding="utf-8", newline="\n") as out:
            for record in self.files:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        (self.root / "config.json").write_text(
            json.dumps(config, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        (self.root / "README.md").write_text(readme(), encoding="utf-8")


def readme() -> str:
    """The manifest's own documentation: files, columns, outcomes and every defect kind."""
    from jobs.synth.kinds import KINDS, OUTCOMES

    files = (__doc__ or "").split("Files:", 1)[-1].strip()
    lines = [
        "# Ground-truth manifest",
        "",
        files,
        "",
        "## Columns of defects.jsonl / defects.parquet",
        "",
        ", ".join(f"`{c}`" for c in DEFECT_COLUMNS),
        "",
        "## Outcomes",
        "",
        ", ".join(f"`{o}`" for o in OUTCOMES),
        "",
        "## Defect kinds",
        "",
        "| kind | level | outcome | reason / element / rule | what |",
        "|---|---|---|---|---|",
    ]
    for kind in KINDS.values():
        about = kind.reason or kind.element or kind.rule
        lines.append(
            f"| `{kind.name}` | {kind.level} | `{kind.outcome}` | `{about}` | {kind.description} |"
        )
    return "\n".join(lines) + "\n"


def read_defects(root: str | Path) -> list[dict[str, Any]]:
    """The defect records of a generated city (``root`` is the output folder)."""
    path = Path(root) / "_manifest" / "defects.jsonl"
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def read_files(root: str | Path) -> list[dict[str, Any]]:
    """The delivered-file records of a generated city."""
    path = Path(root) / "_manifest" / "files.jsonl"
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]
