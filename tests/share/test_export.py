from __future__ import annotations

import csv
import datetime as dt

import pytest

from jobs.share.export import ExportError, export_share, neutralise, write_csv, write_xlsx
from tests.actors import MZJ_OFFICER

COLUMNS = ["name", "note", "n"]
ROWS = [
    ['=HYPERLINK("http://x","y")', "+1+1", 1],
    ["-2+3", "@SUM(A1)", None],
    ["\tcmd", "\r=1", 2],
    ["plain", None, -5],
    [None, "a=b", 0],
]
NEUTRALISED = [
    ['\'=HYPERLINK("http://x","y")', "'+1+1", 1],
    ["'-2+3", "'@SUM(A1)", None],
    ["'\tcmd", "'\r=1", 2],
    ["plain", None, -5],
    [None, "a=b", 0],
]


def test_neutralise_prefixes_formula_starters_only():
    assert [neutralise(v) for v in ["=1", "+1", "-1", "@x", "\tx", "\rx", "x=1", "", None, -1]] == [
        "'=1",
        "'+1",
        "'-1",
        "'@x",
        "'\tx",
        "'\rx",
        "x=1",
        "",
        None,
        -1,
    ]


def test_csv_cells_cannot_start_a_formula(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(path, COLUMNS, ROWS)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == COLUMNS
    expected = [["" if v is None else str(v) for v in row] for row in NEUTRALISED]
    assert rows[1:] == expected


def test_xlsx_holds_text_not_formulas(tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "out.xlsx"
    write_xlsx(path, COLUMNS, ROWS)
    sheet = load_workbook(path).active
    cells = list(sheet.iter_rows(values_only=True))
    # XML keeps no bare carriage return: it reads back as a line feed, still behind the '
    xml_text = [
        [v.replace("\r", "\n") if isinstance(v, str) else v for v in r] for r in NEUTRALISED
    ]
    assert [list(r) for r in cells[1:]] == xml_text
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_export_needs_an_active_grant(lake_settings, tmp_path):
    with pytest.raises(ExportError, match="no active grant"):
        export_share(
            lake_settings,
            "mzj",
            "population",
            tmp_path / "x.csv",
            fmt="csv",
            by="mzj.li",
            today=dt.date(2025, 3, 3),
        )


@pytest.mark.spark
def test_export_of_a_refreshed_share_is_audited(spark, shared_lake, tmp_path):
    import json

    from jobs.audit import log
    from jobs.share import grants
    from jobs.share.keys import ShareKey
    from jobs.share.refresh import refresh_shares

    today = dt.date(2025, 3, 3)
    grants.request_share(
        shared_lake,
        consumer="mzj",
        dataset_id="population",
        fields=["person_name", "gender"],
        purpose="核验",
        by=MZJ_OFFICER,
        today=today,
    )
    refresh_shares(spark, shared_lake, today=today, key=ShareKey(b"k", "test"))
    result = export_share(
        shared_lake, "mzj", "population", tmp_path / "p.csv", fmt="csv", by="mzj.li", today=today
    )
    assert result["rows"] == 3
    text = (tmp_path / "p.csv").read_text(encoding="utf-8-sig")
    assert "张*" in text and "张三" not in text
    entry = log.read_entries(shared_lake)[-1]
    assert (entry["action"], entry["actor"]) == ("export", "mzj.li")
    assert json.loads(entry["detail"])["sha256"] == result["sha256"]
