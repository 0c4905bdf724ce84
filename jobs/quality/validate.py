"""Great Expectations' validation of a pool batch: the one place every expectation is computed.

GX validates each batch with the suite on one of its two engines: **pandas** for a batch on the
Arrow path (at most ``Settings.arrow_max_rows`` rows, read with delta-rs into a pandas DataFrame
of Arrow-backed columns, no Spark session), **Spark** for a larger one (or on a cluster). The
result format is ``COMPLETE`` with the row's lineage (:data:`ROW_ID`, source file and row number)
as GX's ``unexpected_index_column_names``: besides each expectation's counts and verdict, GX
hands back every unexpected row, which is what govlake's outcomes, scorecards, gate and the
failing-rows table are read from (:mod:`jobs.quality.metrics`) — nothing is computed twice.

Two things are engine-specific, and handled here so that both engines give the same results:
GX's pandas engine checks pandas dtypes, not the lake's column types, so the type expectations
run on Spark only (govlake judges them from the table's schema on both, see
:func:`jobs.quality.metrics.type_outcome`); and Spark hands timestamps to Python as naive local
times, so a timestamp bound of a table-level check is given to it the same way.

The stored result keeps what Data Docs show (counts and the first
:data:`PARTIAL_UNEXPECTED_COUNT` unexpected values and rows): the complete lists are govlake's
failing-rows table, and a result file listing every failing row would make the result pages as
large as the batch.

The GX project is a file context under ``<reports_root>/gx`` (suites, checkpoints, validation
results); its Data Docs site ``govlake`` is written to ``<reports_root>/data_docs``. Analytics and
progress bars are off. A file lock serialises GX runs of concurrent tasks, because GX rewrites
its project file on every data-source or checkpoint update.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.quality import docs
from jobs.quality.gx_configuration import configurations_built_once
from jobs.quality.gx_metrics import use_distinct_conditions
from jobs.quality.suites import Suite, to_gx_suite
from jobs.settings import Settings

if TYPE_CHECKING:
    from jobs.quality.metrics import Outcome

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
    #: The :data:`ROW_ID` (source file, row number) of every unexpected row (row checks).
    unexpected_rows: tuple[tuple[Any, ...], ...] = field(default=(), repr=False)


@dataclass
class GxRun:
    """One GX validation: results by expectation name, and where the result is stored."""

    results: dict[str, GxResult]
    success: bool
    result_id: str
    seconds: float
    engine: str = "spark"


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


#: GX's page and index views with their templates compiled once per process.
_VIEWS = "jobs.quality.docs_views"


def site_config(settings: Settings) -> dict[str, Any]:
    """The Data Docs site: GX's SiteBuilder writing static files to the reports root, with
    GX's own views whose Jinja templates are compiled once per process, and section and index
    builders that read only the results a build adds (:mod:`jobs.quality.docs_views`)."""

    def section() -> dict[str, Any]:  # one each: GX adds run-name filters to two of them
        return {
            "module_name": _VIEWS,
            "class_name": "SiteSectionBuilder",
            "view": {"module_name": _VIEWS, "class_name": "PageView"},
        }

    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(data_docs_dir(settings)),
        },
        "site_index_builder": {
            "module_name": _VIEWS,
            "class_name": "SiteIndexBuilder",
            "view": {"module_name": _VIEWS, "class_name": "IndexPageView"},
        },
        "site_section_builders": {
            "expectations": section(),
            "validations": section(),
            "profiling": section(),  # GX's default lists every result to find none
        },
    }


#: GX file contexts built in this process, by project root: (project file's stamp, context).
_contexts: dict[Path, tuple[tuple[int, int], Any]] = {}


def gx_context(settings: Settings) -> Any:
    """The GX file project under the reports root, configured for govlake (idempotent).

    Built once per process and reused while its project file (great_expectations.yml) is the
    one it was built from: building it reads and checks the whole project (about a tenth of a
    second per validation of a small batch), and the tasks of a run (``dag.test``, a bench)
    share a process. Another process that changed the project file (a task of another
    resource adding its data asset) makes the next call build it again. Call inside
    :func:`gx_lock`, and :func:`keep_gx_context` after using it.
    """
    root = gx_project_root(settings)
    cached = _contexts.get(root)
    if cached is not None and cached[0] == _project_file_stamp(root):
        return cached[1]
    context = _configured_context(settings)
    keep_gx_context(settings, context)
    return context


def keep_gx_context(settings: Settings, context: Any) -> None:
    """Remembers ``context`` as the project's, as its project file is now (call inside
    :func:`gx_lock`, after a change GX saved, such as a data asset added)."""
    root = gx_project_root(settings)
    _contexts[root] = (_project_file_stamp(root), context)


def forget_gx_contexts() -> None:
    """Drops the contexts this process built (the next :func:`gx_context` reads the file)."""
    _contexts.clear()


def _project_file_stamp(root: Path) -> tuple[int, int]:
    """Modification time and size of the project file: the pair changes when GX saves it."""
    try:
        stat = (root / "gx" / "great_expectations.yml").stat()
    except FileNotFoundError:
        return (-1, -1)
    return (stat.st_mtime_ns, stat.st_size)


def _configured_context(settings: Settings) -> Any:
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


def _batch_definition(context: Any, engine: str, asset_name: str) -> Any:
    source_name = DATA_SOURCES[engine]
    try:
        source = context.data_sources.get(source_name)
    except (KeyError, ValueError):
        add = (
            context.data_sources.add_spark if engine == "spark" else context.data_sources.add_pandas
        )
        source = add(name=source_name)
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(name=asset_name)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except (KeyError, ValueError, LookupError):
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


#: The columns that name a row of a batch in GX's results (and so in Data Docs).
ROW_ID: tuple[str, ...] = ("source_file", "row_number")
#: Unexpected values and rows a stored result keeps per expectation (what Data Docs show).
PARTIAL_UNEXPECTED_COUNT = 20
#: GX's engines, and the data source of each in the GX project.
DATA_SOURCES = {"spark": "govlake_pools", "pandas": "govlake_pools_pandas"}
#: The complete lists GX hands back and govlake reads; a stored result keeps partial ones.
_COMPLETE_ONLY = ("unexpected_list", "unexpected_index_list", "unexpected_index_query")
_TYPE_CHECK = "expect_column_values_to_be_of_type"
_TABLE_BOUNDS = ("expect_column_min_to_be_between", "expect_column_max_to_be_between")


def result_format() -> dict[str, Any]:
    """GX's result format for govlake: every unexpected row, named by :data:`ROW_ID`."""
    return {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": list(ROW_ID),
        "return_unexpected_index_query": False,
        "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT,
    }


def engine_of(batch: Any) -> str:
    """``pandas`` for a pandas DataFrame, ``spark`` for a Spark one."""
    import pandas as pd

    return "pandas" if isinstance(batch, pd.DataFrame) else "spark"


def engine_skips(suite: Suite) -> list[str]:
    """Expectations GX does not run, on either engine: the type checks. govlake judges types
    from the table's schema on both engines (pandas dtypes are not the lake's types), so each
    is computed once and a batch records the same results whichever engine validated it."""
    return [e.name for e in suite.expectations if e.type == _TYPE_CHECK]


def engine_params(suite: Suite, params: Mapping[str, Any], engine: str) -> dict[str, Any]:
    """The suite parameters as ``engine`` compares them: Spark returns a column's minimum or
    maximum timestamp to Python as a naive local time, so the bound it is compared with is
    given the same way (pandas keeps aware timestamps)."""
    out = dict(params)
    if engine != "spark":
        return out
    for exp in suite.expectations:
        if exp.type not in _TABLE_BOUNDS:
            continue
        for name in exp.parameters:
            value = out.get(name)
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                out[name] = value.astimezone().replace(tzinfo=None)
    return out


def columns_read(suite: Suite) -> list[str]:
    """The batch columns the suite's GX expectations read (with :data:`ROW_ID`, and the
    columns a row condition names): all GX's pandas engine is given, since it copies the
    frame's rows for every expectation's unexpected rows."""
    names = set(ROW_ID)
    for exp in suite.expectations:
        if exp.type == _TYPE_CHECK:
            continue
        names.update(exp.columns)
        names.update(_condition_columns(exp.kwargs.get("row_condition")))
    return sorted(names)


def _condition_columns(condition: Any) -> set[str]:
    if isinstance(condition, dict):
        found = {condition["name"]} if "name" in condition and len(condition) == 1 else set()
        for value in condition.values():
            found |= _condition_columns(value)
        return found
    if isinstance(condition, list):
        return set().union(*[_condition_columns(c) for c in condition]) if condition else set()
    return set()


class GxSession:
    """Validates batches of one suite with one GX context, on either engine; Data Docs are
    built once, at :meth:`close`, for every result it stored.

    Opening GX's file project and rebuilding the site's index cost about as much as validating
    a small batch, so a run that validates several batches of a resource pays them once. Every
    batch is still validated by GX's own engine and stored as its own validation result (one
    Data Docs page each). A batch is validated by GX's validator on the asset's batch
    definition and its result stored by govlake (with partial lists), not through a
    checkpoint: a checkpoint stores the complete result first, and serialising every failing
    row of a large batch cost more than validating it. Use it through :func:`gx_session`,
    which holds :func:`gx_lock`.
    """

    def __init__(self, settings: Settings, suite: Suite, *, build_docs: bool = True) -> None:
        self.settings = settings
        self.suite = suite
        self.build_docs = build_docs
        self.context = gx_context(settings)
        self._result_ids: list[Any] = []
        #: Seconds spent building Data Docs at close.
        self.docs_seconds = 0.0

    def validate(
        self,
        batch: Any,
        params: Mapping[str, Any],
        *,
        run_name: str,
        skip: Sequence[str] = (),
    ) -> GxRun:
        """Validates ``batch`` (a pandas or Spark DataFrame) with GX's own engine for it and
        stores the result (with partial lists) in the project.

        Args:
            batch: the batch's rows; a pandas DataFrame runs on GX's pandas engine.
            params: the suite parameters (aware datetimes; adapted per engine here).
            run_name: GX run name (the batch id), shown in Data Docs.
            skip: expectations left out (missing parameters); the engine's own are added.

        Returns:
            every expectation's result, with the :data:`ROW_ID` of every unexpected row.
        """
        import time

        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )
        from great_expectations.validator.v1_validator import Validator

        started = time.perf_counter()
        engine = engine_of(batch)
        if engine == "pandas":
            use_distinct_conditions()
        left_out = {*skip, *engine_skips(self.suite)}
        chosen = [e for e in self.suite.expectations if e.name not in left_out]
        validator = Validator(
            batch_definition=_batch_definition(self.context, engine, self.suite.name),
            result_format=result_format(),
            batch_parameters={"dataframe": batch},
        )
        with configurations_built_once():
            validation = validator.validate_expectation_suite(
                to_gx_suite(self.suite, chosen), engine_params(self.suite, params, engine)
            )
        run_id = RunIdentifier(run_name=run_name, run_time=self.settings.now())
        validation.meta.update(
            run_id=run_id,
            validation_time=run_id.run_time,
            batch_parameters={"dataframe": "<DATAFRAME>"},
            govlake={"engine": engine, "suite_version": self.suite.version},
        )
        results = _results_of(validation)
        for expectation_result in validation.results:
            for name in _COMPLETE_ONLY:
                (expectation_result.result or {}).pop(name, None)
        result_id = ValidationResultIdentifier(
            batch_identifier=validator.active_batch_id,
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=self.suite.name),
            run_id=run_id,
        )
        self.context.validation_results_store.set(result_id, validation)
        self._result_ids.append(result_id)
        return GxRun(
            results,
            bool(validation.success),
            str(result_id.to_fixed_length_tuple()),
            time.perf_counter() - started,
            engine,
        )

    def close(self) -> None:
        """Stores the whole suite and builds its Data Docs page, the pages of the results
        stored, and the index, once (:func:`jobs.quality.docs.update_data_docs`)."""
        import time

        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
        )

        started = time.perf_counter()
        store_suite(self.context, self.suite)
        if self.build_docs and self._result_ids:
            docs.update_data_docs(
                self.settings,
                self.context,
                [*self._result_ids, ExpectationSuiteIdentifier(name=self.suite.name)],
            )
        keep_gx_context(self.settings, self.context)
        self.docs_seconds = time.perf_counter() - started


def store_suite(context: Any, suite: Suite) -> None:
    """Stores ``suite`` in the GX project (its Data Docs page shows it) unless the project holds
    this version of it already.

    GX's ``add_or_update`` compares every stored expectation with every new one to keep their
    ids: 0.08-0.11 s for the hukou suite's 36, on every gate of every batch, for a suite that
    changes only with the catalog (``suite_version`` is a hash of its content).
    """
    from great_expectations.exceptions import DataContextError

    try:
        stored = context.suites.get(name=suite.name)
    except DataContextError:
        stored = None
    if (
        stored is not None
        and (stored.meta.get("govlake") or {}).get("suite_version") == suite.version
        and len(stored.expectations) == len(suite.expectations)
    ):
        return
    context.suites.add_or_update(to_gx_suite(suite))


@contextlib.contextmanager
def gx_session(settings: Settings, suite: Suite, *, build_docs: bool = True) -> Iterator[GxSession]:
    """A :class:`GxSession` under :func:`gx_lock`, closed (docs built) on normal exit."""
    with gx_lock(settings):
        session = GxSession(settings, suite, build_docs=build_docs)
        try:
            yield session
        except BaseException:
            # Still give the results already stored their pages; the error is what matters.
            with contextlib.suppress(Exception):
                session.close()
            raise
        session.close()


def run_gx_validation(
    batch: Any,
    suite: Suite,
    params: Mapping[str, Any],
    settings: Settings,
    *,
    run_name: str,
    skip: Sequence[str] = (),
    build_docs: bool = True,
) -> GxRun:
    """Validates one batch (pandas or Spark DataFrame) with GX (a :class:`GxSession` of one
    batch); see :meth:`GxSession.validate`."""
    with gx_session(settings, suite, build_docs=build_docs) as session:
        return session.validate(batch, params, run_name=run_name, skip=skip)


def _results_of(validation: Any) -> dict[str, GxResult]:
    results: dict[str, GxResult] = {}
    for er in validation.results:
        name = (er.expectation_config.meta or {}).get("name", er.expectation_config.type)
        result = dict(er.result or {})
        error = None
        if er.exception_info and er.exception_info.get("raised_exception"):
            error = er.exception_info.get("exception_message")
        observed = result.get("observed_value")
        rows = tuple(
            tuple(item[c] for c in ROW_ID) for item in result.get("unexpected_index_list") or ()
        )
        results[name] = GxResult(
            name,
            bool(er.success),
            result.get("unexpected_count"),
            None if observed is None else str(observed),
            error,
            result,
            rows,
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
