from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from nbclient import NotebookClient

from jobs.lake.paths import table_uri
from jobs.settings import PROJECT_ROOT, Settings

NOTEBOOKS = PROJECT_ROOT / "notebooks"
CONSUME = NOTEBOOKS / "consume_base_databases.ipynb"

ALICE, BOB, CAROL = "110101199003070011", "110101198505050022", "110101200001010033"

POPULATION = pa.schema(
    [
        ("person_id", pa.string()),
        ("person_name", pa.string()),
        ("gender", pa.string()),
        ("birth_date", pa.date32()),
        ("disputed_elements", pa.list_(pa.string())),
    ]
)
LEGAL_ENTITY = pa.schema(
    [
        ("uscc", pa.string()),
        ("entity_name", pa.string()),
        ("legal_representative_id", pa.string()),
        ("legal_representative_name", pa.string()),
        ("disputed_elements", pa.list_(pa.string())),
    ]
)


def person(pid, name, gender, born, disputed=()):
    import datetime as dt

    return {
        "person_id": pid,
        "person_name": name,
        "gender": gender,
        "birth_date": dt.date.fromisoformat(born),
        "disputed_elements": list(disputed),
    }


def write(uri, rows, schema, mode="append"):
    write_deltalake(uri, pa.Table.from_pylist(rows, schema=schema), mode=mode)


def tiny_lake(root: Path, *, with_share: bool) -> Settings:
    """Version 0 of the population has two persons; version 1 adds Carol and corrects Bob's
    name (under verification). One enterprise's representative is not in the population."""
    settings = Settings(lake_root=str(root))
    population = table_uri(settings, "base", "population")
    write(
        population,
        [person(ALICE, "张三", "1", "1990-03-07"), person(BOB, "李四", "2", "1985-05-05")],
        POPULATION,
    )
    write(
        population,
        [
            person(ALICE, "张三", "1", "1990-03-07"),
            person(BOB, "李思", "2", "1985-05-05", ["person_name"]),
            person(CAROL, "王五", "1", "2000-01-01"),
        ],
        POPULATION,
        mode="overwrite",
    )
    write(
        table_uri(settings, "base", "legal_entity"),
        [
            {
                "uscc": "91110101MA00000001",
                "entity_name": "甲公司",
                "legal_representative_id": ALICE,
                "legal_representative_name": "张三",
                "disputed_elements": [],
            },
            {
                "uscc": "91110101MA00000002",
                "entity_name": "乙公司",
                "legal_representative_id": "110101197001010044",
                "legal_representative_name": "赵六",
                "disputed_elements": [],
            },
            {
                "uscc": "51110101MA00000003",
                "entity_name": "丙协会",
                "legal_representative_id": None,
                "legal_representative_name": None,
                "disputed_elements": [],
            },
        ],
        LEGAL_ENTITY,
    )
    if with_share:
        write(
            table_uri(settings, "share", "wjw", "population_masked"),
            [{"person_id": "1101**********0011", "person_name": "张*"}],
            pa.schema([("person_id", pa.string()), ("person_name", pa.string())]),
        )
    return settings


def run_notebook(path: Path, lake_root: str, monkeypatch) -> tuple[dict, nbformat.NotebookNode]:
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", lake_root)  # the kernel inherits the environment
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    printed = [
        line
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
        for line in output["text"].splitlines()
    ]
    summary = [line for line in printed if line.startswith("SUMMARY ")]
    assert len(summary) == 1, printed
    return json.loads(summary[0].removeprefix("SUMMARY ")), notebook


def test_notebook_is_committed_without_outputs():
    notebook = nbformat.read(CONSUME, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    markdown = " ".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "时间旅行" in markdown and "Time travel" in markdown


@pytest.mark.slow
def test_consumer_notebook_reads_bases_time_travels_joins_and_reads_a_share(tmp_path, monkeypatch):
    settings = tiny_lake(tmp_path / "lake", with_share=True)
    summary, _ = run_notebook(CONSUME, settings.lake_root, monkeypatch)
    assert summary == {
        "persons": 3,
        "persons_v0": 2,
        "added": [CAROL],
        "renamed": [BOB],
        "entities": 3,
        "representatives_in_population": 1,
        "share_tables": ["wjw/population_masked"],
        "share_rows": 1,
    }


@pytest.mark.slow
def test_consumer_notebook_says_when_nothing_is_shared_yet(tmp_path, monkeypatch):
    settings = tiny_lake(tmp_path / "lake", with_share=False)
    summary, notebook = run_notebook(CONSUME, settings.lake_root, monkeypatch)
    assert summary["share_tables"] == [] and summary["share_rows"] is None
    outputs = json.dumps([c.get("outputs", []) for c in notebook.cells], ensure_ascii=False)
    assert "no share tables yet / 暂无共享表" in outputs
