from __future__ import annotations

import datetime as dt
import decimal
import inspect

import pandas as pd
import pyarrow as pa
import pytest
from great_expectations.expectations.metrics.column_map_metrics.column_values_between import (
    ColumnValuesBetween,
)
from great_expectations.expectations.metrics.column_pair_map_metrics.column_pair_values_in_set import (
    ColumnPairValuesInSet,
)
from great_expectations.expectations.registry import _registered_metrics

from jobs.quality.gx_metrics import on_distinct, use_distinct_conditions

_BETWEEN = inspect.unwrap(ColumnValuesBetween._pandas)
_PAIR_IN_SET = inspect.unwrap(ColumnPairValuesInSet._pandas)


def _arrow(values, kind) -> pd.Series:
    return pd.Series(
        pa.array(values, kind), dtype=pd.ArrowDtype(kind), index=range(3, 3 + len(values))
    )


def _same(ours: pd.Series, theirs: pd.Series) -> None:
    pd.testing.assert_series_equal(ours, theirs)


@pytest.mark.parametrize(
    ("column", "bounds"),
    [
        (
            _arrow(
                [
                    dt.date(2030, 1, 1),
                    dt.date(1999, 5, 6),
                    dt.date(2030, 1, 1),
                    dt.date(1850, 1, 1),
                ],
                pa.date32(),
            ),
            {"max_value": dt.date(2026, 12, 6)},
        ),
        (
            _arrow(
                [dt.date(1899, 12, 31), dt.date(1900, 1, 1), dt.date(1899, 12, 31)], pa.date32()
            ),
            {"min_value": dt.date(1900, 1, 1)},
        ),
        (
            _arrow(
                [decimal.Decimal("0.00"), decimal.Decimal("-1.50"), decimal.Decimal("0.00")],
                pa.decimal128(12, 2),
            ),
            {"min_value": 0, "strict_min": True},
        ),
        (_arrow([-1, 5, 5, 0], pa.int64()), {"min_value": 0}),
        (pd.Series([73.5, 140.0, 73.5, 10.0]), {"min_value": 73.0, "max_value": 136.0}),
        (_arrow(["b", "a", "b"], pa.string()), {"min_value": "a", "max_value": "a"}),
    ],
)
def test_between_on_distinct_values_is_gxs_verdict_on_every_row(column, bounds):
    kwargs = {
        "min_value": None,
        "max_value": None,
        "strict_min": None,
        "strict_max": None,
        **bounds,
    }
    theirs = _BETWEEN(ColumnValuesBetween, column, **kwargs)
    ours = on_distinct([column], lambda values: _BETWEEN(ColumnValuesBetween, values, **kwargs))
    _same(ours, theirs)


def test_between_on_distinct_values_raises_as_gx_on_mixed_types():
    column = _arrow(["2020-01-01", "2020-01-01"], pa.string())
    with pytest.raises(TypeError):
        _BETWEEN(ColumnValuesBetween, column, min_value=0, max_value=None)
    with pytest.raises(TypeError):
        on_distinct(
            [column], lambda v: _BETWEEN(ColumnValuesBetween, v, min_value=0, max_value=None)
        )


def test_pair_in_set_on_distinct_pairs_is_gxs_verdict_on_every_row():
    owner_type = _arrow(["person", "entity", "person", None, "person", "entity"], pa.string())
    owner_kind = _arrow(
        ["citizen_id", "citizen_id", "citizen_id", "uscc", None, "uscc"], pa.string()
    )
    pairs = [["person", "citizen_id"], ["entity", "uscc"]]
    theirs = _PAIR_IN_SET(ColumnPairValuesInSet, owner_type, owner_kind, value_pairs_set=pairs)
    ours = on_distinct(
        [owner_type, owner_kind],
        lambda a, b: _PAIR_IN_SET(ColumnPairValuesInSet, a, b, value_pairs_set=pairs),
    )
    _same(ours, theirs)
    assert ours.tolist() == [True, False, True, False, False, True]


def test_distinct_providers_replace_only_gxs_pandas_conditions():
    spark_before = {
        name: _registered_metrics[name]["providers"].get("SparkDFExecutionEngine")
        for name in ("column_values.between.condition", "column_pair_values.in_set.condition")
    }
    use_distinct_conditions()
    for name, spark in spark_before.items():
        providers = _registered_metrics[name]["providers"]
        assert providers["PandasExecutionEngine"][1].__name__.startswith("distinct_")
        assert providers.get("SparkDFExecutionEngine") == spark
