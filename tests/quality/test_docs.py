from __future__ import annotations

import copy
import datetime as dt
import urllib.parse

import pytest

from jobs.quality import docs, metrics
from jobs.quality.suites import load_suite
from jobs.quality.validate import gx_lock, gx_session

from .conftest import ALICE, BOB, CAROL, hukou_row, pool_arrow

FIRST_RUN_AT = dt.datetime(2025, 1, 1, 2, tzinfo=dt.UTC)


def validated_once(settings):
    """A GX project with one real validation (pandas engine) and its site."""
    import pandas as pd

    suite = load_suite("gaj.hukou")
    rows = [hukou_row("b1", i, pid) for i, pid in enumerate([ALICE, BOB, CAROL])]
    frame = pool_arrow("gaj.hukou", rows).to_pandas(types_mapper=pd.ArrowDtype)
    with gx_session(settings, suite) as gx:
        gx.validate(frame, {}, run_name="b1", skip=list(metrics.skipped_outcomes(suite, {})))
    return gx.context, gx._result_ids[0]


def stored_copy(context, result_id, day: int):
    """The stored result again under another run (a later day's batch), as GX would store it."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ValidationResultIdentifier,
    )

    result = copy.deepcopy(context.validation_results_store.get(result_id))
    run_id = RunIdentifier(run_name=f"d{day}", run_time=FIRST_RUN_AT + dt.timedelta(days=day))
    result.meta.update(run_id=run_id, validation_time=run_id.run_time)
    result.success = day % 2 == 0
    key = ValidationResultIdentifier(
        batch_identifier=result_id.batch_identifier,
        expectation_suite_identifier=result_id.expectation_suite_identifier,
        run_id=run_id,
    )
    context.validation_results_store.set(key, result)
    return key


def task_build(settings, context, result_id):
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    with gx_lock(settings):
        docs.update_data_docs(
            settings, context, [result_id, ExpectationSuiteIdentifier("gaj.hukou")]
        )


def site_pages(settings) -> dict[str, str]:
    root = docs.site_dir(settings)
    return {
        page.relative_to(root).as_posix(): page.read_text(encoding="utf-8")
        for page in root.rglob("*.html")
    }


@pytest.fixture
def site(lake_settings):
    context, first = validated_once(lake_settings)
    return lake_settings, context, first


def test_a_task_build_reads_only_the_result_it_adds(site, monkeypatch):
    settings, context, first = site
    for day in range(1, 4):
        stored_copy(context, first, day)
    docs.build_data_docs(settings)
    new = stored_copy(context, first, 4)
    store = context.validation_results_store
    read = []

    def get(key):
        read.append(key)
        return type(store).get(store, key)

    monkeypatch.setattr(store, "get", get)

    task_build(settings, context, new)

    assert read and set(read) == {new}
    assert len(site_pages(settings)) == 1 + 1 + 5  # index, suite, five results


def test_task_builds_leave_the_site_a_full_build_makes(site):
    settings, context, first = site
    results = [first]
    for day in range(1, 4):
        results.append(stored_copy(context, first, day))
        task_build(settings, context, results[-1])
    after_tasks = site_pages(settings)

    docs.build_data_docs(settings)

    assert site_pages(settings) == after_tasks
    index = after_tasks["index.html"]
    for result in results:
        page = docs.page_path(docs.site_dir(settings), result)
        link = page.relative_to(docs.site_dir(settings)).as_posix()
        assert urllib.parse.quote(link) in index
    assert all(docs.external_loads(html) == [] for html in after_tasks.values())
