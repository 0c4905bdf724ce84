"""Great Expectations' own validation of a pool batch, on the same cached Spark DataFrame.

govlake computes every count itself in one pass (:mod:`jobs.quality.metrics`); GX validates the
same DataFrame with the same suite so that (a) the quality team's reports are GX's Data Docs,
built from real GX validation results, and (b) every run cross-checks govlake's unexpected
counts and pass/fail decisions against GX's. A disagreement is recorded per expectation
(``gx_agrees = false`` in the results table) and logged as an error.

The GX project is a file context under ``<reports_root>/gx`` (suites, checkpoints, validation
results); its Data Docs site ``govlake`` is written to ``<reports_root>/data_docs``. Analytics and
progress bars are off. A file lock serialises GX runs of concurrent tasks, because GX rewrites
its project file on every data-source or checkpoint update.

The pipeline asks GX for the ``BASIC`` result format (counts and a sample of up to 20 unexpected
values per expectation, which is what Data Docs show): the complete list of failing rows is
govlake's failing-rows table, and asking GX for it too (``COMPLETE``) would collect every
failing value to the driver. Tests run ``COMPLETE`` to compare row by row.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame

from jobs.quality.metrics import Outcome
from jobs.quality.suites import Suite, to_gx_suite
from jobs.settings import Settings

log = logging.getLogger(__name__)

DATA_SOURCE = "govlake_pools"
SITE_NAME = "govlake"
BATCH_DEFINITION = "batch"


@dataclass
class GxResult:
    """GX's verdict on one expectation."""

    name: str
    success: bool
    unexpected_count: int | None
    observed: str | None
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class GxRun:
    """One GX validation: results by expectation name, and where the result is stored."""

    results: dict[str, GxResult]
    success: bool
    result_id: str
    seconds: float


def gx_project_root(settings: Settings) -> Path:
    return Path(settings.reports_root) / "gx"


def data_docs_dir(settings: Settings) -> Path:
    """Where the Data Docs site is written: ``<reports_root>/data_docs``."""
    return Path(settings.reports_root) / "data_docs"


@contextlib.contextmanager
def gx_lock(settings: Settings) -> Iterator[None]:
    """Serialises GX project access between processes (Airflow tasks of other resources)."""
    root = gx_project_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".govlake.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def site_config(settings: Settings) -> dict[str, Any]:
    """The Data Docs site: GX's SiteBuilder writing static files to the reports root."""
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(data_docs_dir(settings)),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def gx_context(settings: Settings) -> Any:
    """The GX file project under the reports root, configured for govlake (idempotent).

    Call inside :func:`gx_lock`.
    """
    # No usage statistics leave a government network.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = gx_project_root(settings)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    wanted_sites = {SITE_NAME: site_config(settings)}
    changed = False
    if context.variables.data_docs_sites != wanted_sites:
        context.variables.data_docs_sites = wanted_sites
        changed = True
    progress = context.variables.progress_bars
    if _progress_flag(progress, "globally") is not False or (
        _progress_flag(progress, "metric_calculations") is not False
    ):
        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        changed = True
    if context.variables.analytics_enabled is not False:
        context.variables.analytics_enabled = False
        changed = True
    if changed:
        context.variables.save()
        # The site list is read when the context is built: build it again from the saved file.
        context = gx.get_context(mode="file", project_root_dir=str(root))
    return context


def _progress_flag(progress: Any, name: str) -> bool | None:
    """A progress-bar setting, whether GX hands it back as its config object (a context it just
    configured) or as a plain dict (a context read again from great_expectations.yml)."""
    if progress is None:
        return None
    if isinstance(progress, dict):
        return progress.get(name)
    return getattr(progress, name, None)


def _batch_definition(context: Any, asset_name: str) -> Any:
    try:
        source = context.data_sources.get(DATA_SOURCE)
    except (KeyError, ValueError):
        source = context.data_sources.add_spark(name=DATA_SOURCE)
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(name=asset_name)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except (KeyError, ValueError, LookupError):
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


class GxSession:
    """Validates batches of one suite with one GX context; Data Docs are built once, at
    :meth:`close`, for every result it stored.

    Opening GX's file project, registering the suite, validation definition and checkpoint,
    and rebuilding the site's index cost about as much as validating a small batch, so a run
    that validates several batches of a resource pays them once. Every batch is still
    validated by GX's own engine and stored as its own validation result (one Data Docs page
    each). Use it through :func:`gx_session`, which holds :func:`gx_lock`.
    """

    def __init__(
        self,
        settings: Settings,
        suite: Suite,
        *,
        result_format: str | dict[str, Any] = "BASIC",
        build_docs: bool = True,
    ) -> None:
        self.settings = settings
        self.suite = suite
        self.result_format = result_format
        self.build_docs = build_docs
        self.context = gx_context(settings)
        self._batch_definition = _batch_definition(self.context, suite.name)
        self._checkpoint: Any = None
        self._skipped: tuple[str, ...] | None = None
        self._result_ids: list[Any] = []
        #: Seconds spent building Data Docs at close.
        self.docs_seconds = 0.0

    def _checkpoint_for(self, skip: Sequence[str]) -> Any:
        """The checkpoint validating the suite without ``skip`` (registered again only when the
        skipped expectations change: a first batch has no row-count bounds yet)."""
        import great_expectations as gx

        skipped = tuple(sorted(set(skip)))
        if self._checkpoint is not None and skipped == self._skipped:
            return self._checkpoint
        chosen = [e for e in self.suite.expectations if e.name not in set(skipped)]
        run_suite = self.context.suites.add_or_update(to_gx_suite(self.suite, chosen))
        definition = self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(
                name=self.suite.name, data=self._batch_definition, suite=run_suite
            )
        )
        # No UpdateDataDocsAction: the site is built once for all results (close()).
        self._checkpoint = self.context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=self.suite.name,
                validation_definitions=[definition],
                actions=[],
                result_format=self.result_format,
            )
        )
        self._skipped = skipped
        return self._checkpoint

    def validate(
        self,
        batch_df: DataFrame,
        params: Mapping[str, Any],
        *,
        run_name: str,
        skip: Sequence[str] = (),
    ) -> GxRun:
        """Validates ``batch_df`` with GX's own engine and stores the result in the project.

        Args:
            batch_df: the (cached) DataFrame govlake's pass ran on.
            params: the same suite parameters govlake used.
            run_name: GX run name (the batch id), shown in Data Docs.
            skip: expectation names skipped by govlake (missing parameters); GX skips them too.
        """
        import time

        from great_expectations.core.run_identifier import RunIdentifier

        started = time.perf_counter()
        checkpoint = self._checkpoint_for(skip)
        run_id = RunIdentifier(run_name=run_name, run_time=self.settings.now())
        checkpoint_result = checkpoint.run(
            batch_parameters={"dataframe": batch_df},
            expectation_parameters=dict(params),
            run_id=run_id,
        )
        (result_id, validation), *_ = checkpoint_result.run_results.items()
        self._result_ids.append(result_id)
        return GxRun(
            _results_of(validation),
            bool(validation.success),
            str(
                result_id.to_fixed_length_tuple()
                if hasattr(result_id, "to_fixed_length_tuple")
                else result_id
            ),
            time.perf_counter() - started,
        )

    def close(self) -> None:
        """Puts the whole suite back (a first batch ran without some expectations) and builds
        the Data Docs pages of the suite and of every result stored, and the index, once."""
        import time

        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
        )

        started = time.perf_counter()
        if self._skipped:
            # Keep the suite page of Data Docs complete; each result lists what ran.
            self.context.suites.add_or_update(to_gx_suite(self.suite))
        if self.build_docs and self._result_ids:
            self.context.build_data_docs(
                site_names=[SITE_NAME],
                resource_identifiers=[
                    *self._result_ids,
                    ExpectationSuiteIdentifier(name=self.suite.name),
                ],
            )
        self.docs_seconds = time.perf_counter() - started


@contextlib.contextmanager
def gx_session(
    settings: Settings,
    suite: Suite,
    *,
    result_format: str | dict[str, Any] = "BASIC",
    build_docs: bool = True,
) -> Iterator[GxSession]:
    """A :class:`GxSession` under :func:`gx_lock`, closed (docs built) on normal exit."""
    with gx_lock(settings):
        session = GxSession(settings, suite, result_format=result_format, build_docs=build_docs)
        try:
            yield session
        except BaseException:
            # Still give the results already stored their pages; the error is what matters.
            with contextlib.suppress(Exception):
                session.close()
            raise
        session.close()


def run_gx_validation(
    batch_df: DataFrame,
    suite: Suite,
    params: Mapping[str, Any],
    settings: Settings,
    *,
    run_name: str,
    skip: Sequence[str] = (),
    result_format: str | dict[str, Any] = "BASIC",
    build_docs: bool = True,
) -> GxRun:
    """Validates one ``batch_df`` with GX's own engine (a :class:`GxSession` of one batch).

    Args:
        batch_df: the (cached) DataFrame govlake's pass ran on.
        suite: the suite; govlake's accuracy checks are not GX expectations and are not run.
        params: the same suite parameters govlake used.
        run_name: GX run name (the batch id), shown in Data Docs.
        skip: expectation names skipped by govlake (missing parameters); GX skips them too.
        result_format: GX result format; ``COMPLETE`` with ``unexpected_index_column_names`` to
            get every failing row from GX (tests).
        build_docs: update the Data Docs site with this result.
    """
    with gx_session(settings, suite, result_format=result_format, build_docs=build_docs) as session:
        return session.validate(batch_df, params, run_name=run_name, skip=skip)


def _results_of(validation: Any) -> dict[str, GxResult]:
    results: dict[str, GxResult] = {}
    for er in validation.results:
        name = (er.expectation_config.meta or {}).get("name", er.expectation_config.type)
        result = dict(er.result or {})
        error = None
        if er.exception_info and er.exception_info.get("raised_exception"):
            error = er.exception_info.get("exception_message")
        observed = result.get("observed_value")
        results[name] = GxResult(
            name,
            bool(er.success),
            result.get("unexpected_count"),
            None if observed is None else str(observed),
            error,
            result,
        )
    return results


def agreement(outcome: Outcome, gx_result: GxResult | None) -> bool | None:
    """Whether GX reached govlake's verdict: same pass/fail and, for row checks, the same
    unexpected count. None when GX did not run the check (accuracy, skipped)."""
    if gx_result is None or outcome.status == "skipped":
        return None
    if gx_result.error:
        return False
    same_verdict = gx_result.success == (outcome.status == "passed")
    if outcome.level == "row":
        return same_verdict and gx_result.unexpected_count == outcome.unexpected
    return same_verdict
