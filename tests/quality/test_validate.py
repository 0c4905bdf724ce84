"""The GX project under the reports root: created once, read back on every later validation."""

from __future__ import annotations


def test_gx_project_is_configured_once_and_read_back_by_later_runs(lake_settings):
    from jobs.quality.validate import (
        SITE_NAME,
        forget_gx_contexts,
        gx_context,
        gx_lock,
        gx_project_root,
    )

    with gx_lock(lake_settings):
        first = gx_context(lake_settings)
    yml = gx_project_root(lake_settings) / "gx" / "great_expectations.yml"
    saved = yml.read_text()
    # A later task (another process in Airflow) reads the project from great_expectations.yml,
    # where GX hands the progress-bar settings back as a dict, not as its config object.
    forget_gx_contexts()
    with gx_lock(lake_settings):
        again = gx_context(lake_settings)

    assert yml.read_text() == saved  # nothing to change: not written again
    assert SITE_NAME in again.variables.data_docs_sites
    progress = again.variables.progress_bars
    flags = progress if isinstance(progress, dict) else vars(progress)
    assert flags.get("globally") is False
    assert flags.get("metric_calculations") is False
    assert again.variables.analytics_enabled is False
    assert first.root_directory == again.root_directory


def test_a_process_reuses_its_context_until_another_one_changes_the_project_file(lake_settings):
    from jobs.quality.validate import gx_context, gx_lock, gx_project_root

    with gx_lock(lake_settings):
        first = gx_context(lake_settings)
        assert gx_context(lake_settings) is first
    yml = gx_project_root(lake_settings) / "gx" / "great_expectations.yml"
    yml.write_text(yml.read_text() + "\n# saved by another task\n")
    with gx_lock(lake_settings):
        assert gx_context(lake_settings) is not first


def test_a_suite_is_stored_again_only_when_its_version_changed(lake_settings, monkeypatch):
    import dataclasses

    from great_expectations.core.factory.suite_factory import SuiteFactory

    from jobs.catalog.loader import load_catalog
    from jobs.quality.suites import suite_for
    from jobs.quality.validate import gx_session

    stores = []
    add_or_update = SuiteFactory.add_or_update

    def counted(factory, suite):
        stores.append((suite.meta["govlake"]["suite_version"], len(suite.expectations)))
        return add_or_update(factory, suite)

    monkeypatch.setattr(SuiteFactory, "add_or_update", counted)
    catalog = load_catalog(lake_settings.schemas_root)
    suite = suite_for(catalog.resources["gaj.hukou"], catalog)
    # the catalog changed: one expectation fewer, another content hash
    revised = dataclasses.replace(suite, expectations=suite.expectations[:-1], version="revised")

    for delivered in (suite, suite, revised, revised, suite):
        with gx_session(lake_settings, delivered, build_docs=False) as session:
            stored_in = session.context

    full = len(suite.expectations)
    assert stores == [(suite.version, full), ("revised", full - 1), (suite.version, full)]
    stored = stored_in.suites.get(name=suite.name)
    assert (stored.meta["govlake"]["suite_version"], len(stored.expectations)) == (
        suite.version,
        full,
    )
