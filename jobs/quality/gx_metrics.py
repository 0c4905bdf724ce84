"""Two of Great Expectations' pandas conditions, run by GX's own code once per distinct value.

GX's pandas engine computes most conditions as vectorised pandas, but two that govlake's suites
use run Python per row: ``column_values.between`` maps a Python comparison over every value of
a column that is not a NumPy number or datetime (dates and decimals: every ``not_in_future``
and ``from_1900`` check), and ``column_pair_values.in_set`` walks the rows with ``iterrows``.
At a million persons they were most of the quality stage (the real-estate pair check alone
about a minute per full batch).

A row's verdict under either condition depends only on its value (pair of values), so
:func:`use_distinct_conditions` registers, for GX's pandas engine, providers that call GX's own
condition function on the distinct values (pairs) of the column(s), in the column's own dtype,
and spread its verdicts back over the rows: the same function decides every row, so GX's
counts, unexpected lists, indexes and so the stored results and Data Docs are the same. Only
the pandas providers of the two condition metrics are replaced (GX's Spark ones are untouched);
the tests compare both conditions' results with GX's own on the values govlake's pools hold.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

_registered = False


def use_distinct_conditions() -> None:
    """Registers the distinct-value providers with GX's metric registry (once per process)."""
    global _registered
    if _registered:
        return
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.metrics.column_map_metrics.column_values_between import (
        ColumnValuesBetween,
    )
    from great_expectations.expectations.metrics.column_pair_map_metrics.column_pair_values_in_set import (
        ColumnPairValuesInSet,
    )
    from great_expectations.expectations.metrics.map_metric_provider import (
        column_condition_partial,
        column_pair_condition_partial,
    )

    between = inspect.unwrap(ColumnValuesBetween._pandas)
    pair_in_set = inspect.unwrap(ColumnPairValuesInSet._pandas)

    def distinct_between(cls: Any, column: pd.Series, **kwargs: Any) -> Any:
        return on_distinct([column], lambda values: between(cls, values, **kwargs))

    def distinct_pair_in_set(
        cls: Any, column_a: pd.Series, column_b: pd.Series, **kwargs: Any
    ) -> Any:
        return on_distinct([column_a, column_b], lambda a, b: pair_in_set(cls, a, b, **kwargs))

    _register(
        ColumnValuesBetween,
        column_condition_partial(engine=PandasExecutionEngine)(distinct_between),
        PandasExecutionEngine,
    )
    _register(
        ColumnPairValuesInSet,
        column_pair_condition_partial(engine=PandasExecutionEngine)(distinct_pair_in_set),
        PandasExecutionEngine,
    )
    _registered = True


def _register(metric_class: Any, provider: Callable, engine: Any) -> None:
    """Replaces the pandas provider of ``metric_class``'s condition metric, with the keys GX
    registered it under."""
    from great_expectations.expectations.registry import _registered_metrics, register_metric

    name = f"{metric_class.condition_metric_name}.condition"
    registered = _registered_metrics[name]
    with _quiet_registry():  # GX warns that a provider is replaced: here that is the point
        register_metric(
            metric_name=name,
            metric_domain_keys=registered["metric_domain_keys"],
            metric_value_keys=registered["metric_value_keys"],
            execution_engine=engine,
            metric_class=metric_class,
            metric_provider=provider,
            metric_fn_type=provider.metric_fn_type,
        )


@contextlib.contextmanager
def _quiet_registry() -> Iterator[None]:
    registry_log = logging.getLogger("great_expectations.expectations.registry")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        registry_log.setLevel(level)


def on_distinct(columns: list[pd.Series], condition: Callable[..., Any]) -> Any:
    """``condition(*columns)`` computed on the distinct rows of ``columns`` (each column
    factorised in its own dtype, missing values one value) and spread back over every row, with
    the columns' index; the columns as they are when there is nothing to gain."""
    import numpy as np
    import pandas as pd

    rows = len(columns[0])
    if rows < 2:
        return condition(*columns)
    codes = np.zeros(rows, dtype=np.int64)
    for column in columns:
        column_codes, distinct = pd.factorize(column, use_na_sentinel=False)
        codes = codes * max(len(distinct), 1) + column_codes
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    if len(first) == rows:
        return condition(*columns)
    verdicts = condition(*[column.iloc[first] for column in columns])
    spread = np.asarray(verdicts)[inverse.reshape(-1)]
    return pd.Series(spread, index=columns[0].index, dtype=getattr(verdicts, "dtype", None))
