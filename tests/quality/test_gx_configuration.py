from __future__ import annotations

import threading

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
import pytest
from great_expectations.validator.v1_validator import Validator

from jobs.quality.gx_configuration import configurations_built_once

#: A batch with bad rows for every expectation of :func:`_suite`.
_ROWS = pd.DataFrame(
    {
        "person_id": ["110101199003070011", None, "11010119900307001X", "110101199003070011"],
        "gender": ["1", "2", "9", None],
        "height_cm": [172.5, 40.0, 181.0, 250.0],
        "region": ["110101", "110102", "999999", "110101"],
        "district": ["110100", "110100", "110100", "120100"],
    }
)


def _suite(name: str) -> gx.ExpectationSuite:
    return gx.ExpectationSuite(
        name=name,
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="person_id", meta={"name": "id_present"}),
            gxe.ExpectColumnValuesToBeUnique(column="person_id"),
            gxe.ExpectColumnValuesToMatchRegex(column="person_id", regex=r"^\d{17}[\dX]$"),
            gxe.ExpectColumnValuesToBeInSet(column="gender", value_set=["1", "2"], mostly=0.5),
            gxe.ExpectColumnValuesToBeBetween(column="height_cm", min_value=50, max_value=230),
            gxe.ExpectColumnPairValuesToBeInSet(
                column_A="region",
                column_B="district",
                value_pairs_set=[("110101", "110100"), ("110102", "110100")],
            ),
            gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value=3),
        ],
    )


def _validation(*, cached: bool) -> dict:
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("pools").add_dataframe_asset("hukou")
    validator = Validator(
        batch_definition=asset.add_batch_definition_whole_dataframe("batch"),
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["gender"]},
        batch_parameters={"dataframe": _ROWS},
    )
    suite = _suite("hukou")
    if cached:
        with configurations_built_once():
            result = validator.validate_expectation_suite(suite)
    else:
        result = validator.validate_expectation_suite(suite)
    return result.to_json_dict()


def test_a_validation_gives_the_same_results_with_configurations_built_once():
    built_every_time = _validation(cached=False)
    built_once = _validation(cached=True)

    assert built_once["results"] == built_every_time["results"]
    assert built_once["statistics"] == built_every_time["statistics"]
    # the batch's bad rows were found, so the comparison compared verdicts on failures
    assert built_once["statistics"]["unsuccessful_expectations"] == 6 - 1  # gender: mostly


def test_a_configuration_is_built_once_inside_the_block_only():
    expectation = gxe.ExpectColumnValuesToBeInSet(column="gender", value_set=["1", "2"])
    assert expectation.configuration is not expectation.configuration
    with configurations_built_once():
        first = expectation.configuration
        assert expectation.configuration is first
        with configurations_built_once():  # nested: the outer block's configurations
            assert expectation.configuration is first
        assert expectation.configuration is first
    assert expectation.configuration is not first
    assert expectation.configuration.to_json_dict() == first.to_json_dict()


def test_another_thread_builds_its_own_configurations():
    expectation = gxe.ExpectColumnValuesToNotBeNull(column="person_id")
    seen = []
    with configurations_built_once():
        mine = expectation.configuration
        worker = threading.Thread(target=lambda: seen.append(expectation.configuration))
        worker.start()
        worker.join()
    assert seen[0] is not mine


def test_an_error_inside_the_block_still_ends_it():
    expectation = gxe.ExpectColumnValuesToNotBeNull(column="person_id")
    with pytest.raises(RuntimeError), configurations_built_once():
        raise RuntimeError("validation failed")
    assert expectation.configuration is not expectation.configuration
