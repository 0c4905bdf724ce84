from __future__ import annotations

import pyarrow as pa
import pytest

from jobs import arrow_memory
from jobs.ingest.context import open_context
from jobs.settings import Settings


@pytest.fixture(autouse=True)
def pool_restored():
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_an_ingestion_step_allocates_from_jemalloc_by_default(tmp_path):
    pa.set_memory_pool(pa.mimalloc_memory_pool())  # Arrow's own default in these wheels

    open_context("gaj.hukou", Settings(lake_root=str(tmp_path / "lake")), None)

    assert pa.default_memory_pool().backend_name == "jemalloc"
    assert pa.array(["a", "b"]).buffers()[1] is not None  # and it allocates


@pytest.mark.parametrize("name", ["system", "mimalloc", "jemalloc"])
def test_each_named_pool_is_used(name):
    assert arrow_memory.use_pool(name) == name
    assert pa.default_memory_pool().backend_name == name


def test_default_leaves_the_pool_arrow_chose():
    pa.set_memory_pool(pa.system_memory_pool())

    assert arrow_memory.use_pool("default") == "system"


def test_an_unknown_pool_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match=r"unknown Arrow memory pool 'tcmalloc'.*jemalloc"):
        arrow_memory.use_pool("tcmalloc")


def test_a_pool_this_pyarrow_lacks_keeps_the_current_one(monkeypatch, caplog):
    pa.set_memory_pool(pa.system_memory_pool())

    def missing():
        raise NotImplementedError("built without jemalloc")

    monkeypatch.setitem(arrow_memory._POOLS, "jemalloc", missing)

    assert arrow_memory.use_pool("jemalloc") == "system"
    assert "no jemalloc allocator" in caplog.text


def test_the_variable_takes_only_a_known_pool(monkeypatch):
    from jobs.settings import SettingsError

    monkeypatch.setenv("GOVLAKE_ARROW_MEMORY_POOL", "tcmalloc")

    with pytest.raises(SettingsError, match=r"GOVLAKE_ARROW_MEMORY_POOL='tcmalloc'.*jemalloc"):
        Settings.from_env()


def test_every_value_of_the_setting_names_a_pool():
    from jobs.settings import ARROW_MEMORY_POOLS

    assert set(arrow_memory._POOLS) | {"default"} == set(ARROW_MEMORY_POOLS)
