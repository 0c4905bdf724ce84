from __future__ import annotations

import pytest

from jobs.service.errors import refusals
from jobs.service.ports import Refusal


class Refused(ValueError):
    pass


class Throttled(Refused):
    retry_after_seconds = 90


def _table():
    return refusals(
        (Throttled, 429, "too_many_requests", "wait"),
        (Refused, 409, "refused", "look again"),
    )


def test_answers_the_first_row_the_exception_is_an_instance_of():
    with pytest.raises(Refusal) as throttled, _table():
        raise Throttled("slow down")
    with pytest.raises(Refusal) as refused, _table():
        raise Refused("not now")
    assert (throttled.value.status, throttled.value.error, throttled.value.message) == (
        429,
        "too_many_requests",
        "slow down",
    )
    assert throttled.value.retry_after_seconds == 90
    assert (refused.value.status, refused.value.error, refused.value.what_to_do) == (
        409,
        "refused",
        "look again",
    )
    assert refused.value.retry_after_seconds == 0
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_lets_other_exceptions_through():
    with pytest.raises(KeyError), _table():
        raise KeyError("x")
    with _table():
        pass
