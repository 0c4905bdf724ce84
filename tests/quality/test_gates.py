from __future__ import annotations

from jobs.quality.gates import decide
from jobs.quality.metrics import Outcome, mostly_success


def outcome(name, severity, status, considered=100, unexpected=0, threshold=0.01):
    return Outcome(
        name, "t", severity, threshold, "validity", "row", status, considered, unexpected
    )


def test_critical_failure_beyond_threshold_holds_the_batch():
    decision = decide(
        "gaj.hukou",
        "b1",
        [
            outcome("person_id.unique_in_batch", "critical", "failed", 100, 5),
            outcome("gender.in_code_table", "warning", "failed", 100, 1),
            outcome("full_name.not_null", "critical", "passed"),
        ],
    )
    assert decision.status == "held"
    assert decision.failed_critical == ("person_id.unique_in_batch",)
    assert decision.failed_warning == ("gender.in_code_table",)
    assert "5/100 rows = 5.00% > threshold 1.00%" in decision.message
    assert "held" in decision.message


def test_warnings_alone_pass_as_warned():
    decision = decide(
        "gaj.hukou", "b1", [outcome("gender.in_code_table", "warning", "failed", 100, 3)]
    )
    assert (decision.status, decision.failed_critical) == ("warned", ())


def test_clean_batch_passes():
    assert decide("gaj.hukou", "b1", [outcome("a", "critical", "passed")]).status == "passed"


def test_threshold_is_the_largest_unexpected_fraction_that_still_passes():
    assert mostly_success(100, 1, 0.99) is True
    assert mostly_success(100, 2, 0.99) is False
    assert mostly_success(0, 0, 1.0) is True
    assert mostly_success(3, 0, 1.0) is True
    assert mostly_success(3, 1, 1.0) is False
