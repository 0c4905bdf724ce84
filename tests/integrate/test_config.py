from __future__ import annotations

import shutil

import pytest

from jobs.integrate.config import IntegrationConfigError, load_integration_config
from jobs.settings import PROJECT_ROOT, Settings


@pytest.fixture
def schemas(tmp_path):
    root = tmp_path / "schemas"
    shutil.copytree(PROJECT_ROOT / "schemas", root)
    return root


def edit(path, old: str, new: str) -> int:
    """Replaces ``old`` by ``new`` in the file; returns the line ``new`` starts on."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return text[: text.index(new)].count("\n") + 1


def test_the_shipped_base_configuration_loads():
    config = load_integration_config(Settings())
    assert config.bases["population"].key_kind == "citizen_id"


@pytest.mark.parametrize(
    ("file", "old", "new", "reason"),
    [
        (
            "bases/population.yaml",
            "  - {element: gender, conflict: true}",
            "  - {element: gender, conflict: yes please}",
            "attributes[gender].conflict: must be true or false, got str 'yes please'",
        ),
        (
            "bases/parcel.yaml",
            "  - {element: land_use}",
            "  - {element: land_use, colum: use}",
            "attributes[land_use]: unknown key 'colum'",
        ),
        (
            "bases/subjects.yaml",
            "    - {key: mother_id, fields: [mother_name]}",
            "    - {key: mother_id, fields: mother_name}",
            "subjects.wjw.birth_cert[mother_id].fields: must be a list, got str 'mother_name'",
        ),
        (
            "bases/e_licence.yaml",
            "    holder_must_be_alive: true",
            "    holder_must_be_alive: true\n    holder_must_be_dead: false",
            "licence_types.driving_licence: unknown key 'holder_must_be_dead'",
        ),
        (
            "jurisdiction.yaml",
            "overlap_tolerance_m2: 0.5",
            "overlap_tolerance_m2: half a metre",
            "overlap_tolerance_m2: must be a number, got str 'half a metre'",
        ),
    ],
)
def test_a_malformed_base_file_names_file_and_line(schemas, file, old, new, reason):
    path = schemas / file
    line = edit(path, old, new)
    if "holder_must_be_dead" in new:
        line += 1

    with pytest.raises(IntegrationConfigError) as error:
        load_integration_config(Settings(schemas_root=str(schemas)))

    assert f"{path}:{line}: {reason}" in str(error.value)
