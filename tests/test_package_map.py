from __future__ import annotations

import jobs
from jobs.settings import PROJECT_ROOT


def test_package_map_names_every_subpackage_and_top_level_module():
    listed = {
        name.strip(",")
        for line in (jobs.__doc__ or "").splitlines()
        if line.startswith("  ")
        for name in line.split("  ")[1].split()
    }
    folder = PROJECT_ROOT / "jobs"
    present = {p.parent.name for p in folder.glob("*/*.py")} | {
        p.stem for p in folder.glob("*.py") if p.stem != "__init__"
    }
    assert sorted(present - listed) == []
    assert sorted(listed - present) == []
