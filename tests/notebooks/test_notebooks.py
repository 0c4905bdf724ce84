from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from jobs.store.roles import SYSTEM_CLIENT
from jobs.settings import PROJECT_ROOT
from tests.service.conftest import StoreAccounts
from tests.service.lake import service_lake  # noqa: F401  (a lake with refreshed shares)
from tests.service.server import running_server

NOTEBOOKS = PROJECT_ROOT / "notebooks"
CONSUME = NOTEBOOKS / "consume_base_databases.ipynb"


def run_notebook(path: Path, monkeypatch, **env: str) -> tuple[dict, nbformat.NotebookNode]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the kernel inherits the environment
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


def test_notebook_is_committed_without_outputs_and_never_opens_the_lake():
    notebook = nbformat.read(CONSUME, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    source = " ".join(c.source for c in code)
    assert "Bearer" in source and "GOVLAKE_API_TOKEN" in source
    assert "LAKE_ROOT" not in source and "deltalake" not in source


@pytest.mark.slow
@pytest.mark.spark
def test_consumer_notebook_reads_and_verifies_through_the_service_with_a_token(
    service_lake,  # noqa: F811
    monkeypatch,
):
    from jobs.service.app import create_app

    identity = StoreAccounts(service_lake)  # a real account and token in the workflow store
    identity.add("mzj_app", "mzj", SYSTEM_CLIENT)
    token = identity.token_for("mzj_app")
    with running_server(create_app(service_lake, identity=identity)) as url:
        summary, notebook = run_notebook(
            CONSUME,
            monkeypatch,
            GOVLAKE_SERVICE_URL=url,
            GOVLAKE_API_TOKEN=token,
            GOVLAKE_LAKE_ROOT="/nonexistent/the-notebook-must-not-read-the-lake",
        )

    assert summary == {
        "department": "mzj",
        "datasets": ["legal_entity", "population", "rsj.insured"],
        "persons": 3,
        "person_columns": sorted(
            ["person_id", "person_name", "gender", "birth_date", "phone_number"]
        ),
        "bulk_rows": 3,
        "verified": [
            {"person_name": "match", "birth_date": "match"},
            {"person_name": "no_match"},
        ],
    }
    outputs = json.dumps([c.get("outputs", []) for c in notebook.cells], ensure_ascii=False)
    assert token not in outputs and "张三" not in outputs  # names come masked (张*)


def test_consumer_notebook_stops_without_a_token(monkeypatch):
    monkeypatch.delenv("GOVLAKE_API_TOKEN", raising=False)
    notebook = nbformat.read(CONSUME, as_version=4)

    with pytest.raises(Exception, match="GOVLAKE_API_TOKEN"):
        NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
