"""Property tests: the Spark key checks agree with python-stdnum on random and adversarial input.

Agreement means: a key is valid per govlake exactly when python-stdnum's ``validate()`` accepts
govlake's normalised value, except for these deliberate differences, each tested on its own:

citizen ID (``stdnum.cn.ric``)
    * govlake rejects birth dates before 1900 or after the reference date; stdnum accepts them.
    * stdnum also requires the region code to have existed in the birth year; govlake only
      requires that it was not abolished before the birth year, because an ID carries the code
      of the place and year it was first issued, which can be years after birth (born 1990, ID
      issued 2006 under 110112 通州区, created 1997) but never before it.
    * stdnum 2.2 raises ``KeyError`` (not a ValidationError) for an unknown county code inside
      a known province (119999…); govlake says ``bad_region``.
USCC (``stdnum.cn.uscc``)
    * govlake accepts letters in positions 1-2 (registering authorities A, N, Y of GB 32100);
      stdnum requires 8 leading digits.
    * govlake also checks the authority/entity-type table, the region code and the GB 11714
      organisation code's own check character; stdnum checks none of them.

The hypothesis examples of a property are drawn first and evaluated in one DataFrame, so each
property is one Spark job, not one per string. Every property runs twice: against the Spark
Column rules and against their Arrow twins (:mod:`jobs.standardize.arrow_keys`).
"""

from __future__ import annotations

import datetime
import re

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from jobs.standardize import arrow_keys
from jobs.standardize.keys import (
    REGISTERING_AUTHORITIES,
    USCC_EXTRA_REGION_CODES,
    citizen_id_problem,
    normalized_citizen_id,
    normalized_uscc,
    uscc_problem,
)
from jobs.standardize.regions import known_region_codes

pytestmark = pytest.mark.spark

REFERENCE_DATE = datetime.date(2024, 6, 30)
REGION_CODES = sorted(known_region_codes())
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u200a\u2028\u2029\u202f\u205f\u3000\u200b\ufeff"
EXAMPLES = 400  # per property; all of them go through Spark in one DataFrame


def _examples(strategy: st.SearchStrategy, count: int = EXAMPLES) -> list:
    """Draws ``count`` hypothesis examples without running anything on them.

    The Spark check then runs once over the whole list instead of once per example; a failure
    lists every disagreeing input (hypothesis does not shrink them, the inputs are short).
    """
    drawn = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(example):
        drawn.append(example)

    draw()
    return drawn


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- strategies -------------------------------------------------------------------------------
@st.composite
def valid_citizen_ids(draw, first: datetime.date = datetime.date(1900, 1, 1)) -> str:
    code = draw(st.sampled_from(REGION_CODES))
    born = draw(st.dates(min_value=first, max_value=datetime.date(2030, 12, 31)))
    body = f"{code}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return body + ric.calc_check_digit(body + "0")


@st.composite
def fifteen_digit_ids(draw) -> str:
    code = draw(st.sampled_from(REGION_CODES))
    born = draw(
        st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(1999, 12, 31))
    )
    return f"{code}{born:%y%m%d}{draw(st.integers(0, 999)):03d}"


@st.composite
def mutated(draw, base: st.SearchStrategy[str], alphabet: str) -> str:
    key = draw(base)
    position = draw(st.integers(0, len(key) - 1))
    return key[:position] + draw(st.sampled_from(alphabet)) + key[position + 1 :]


@st.composite
def whitespace_laden(draw, base: st.SearchStrategy[str]) -> str:
    key = list(draw(base))
    for _ in range(draw(st.integers(1, 4))):
        key.insert(draw(st.integers(0, len(key))), draw(st.sampled_from(WHITESPACE)))
    return "".join(key)


@st.composite
def excel_mangled(draw) -> str:
    key = draw(valid_citizen_ids())
    digits = key[:-1] + ("0" if key[-1] == "X" else key[-1])
    form = draw(st.sampled_from(["E+", "e", "float", "truncated", "decimal"]))
    if form == "E+":
        return f"{int(digits):.5E}"  # 4.10105E+17
    if form == "e":
        return f"{int(digits):.5e}".replace("+", "")  # 4.10105e17
    if form == "float":
        return str(float(digits))  # 4.101051990010110e+17
    if form == "decimal":
        return f"{float(digits):.1f}"  # 410105199001011008.0
    return digits[:15] + "000"  # Excel's 15 significant digits


def citizen_id_inputs() -> st.SearchStrategy[str | None]:
    valid = valid_citizen_ids()
    return st.one_of(
        valid,
        valid.map(str.lower),
        valid.map(_full_width),
        whitespace_laden(valid),
        valid.map(lambda key: key + "\n"),
        mutated(valid, "0123456789Xx"),
        mutated(valid, "0123456789"),
        fifteen_digit_ids(),
        whitespace_laden(fifteen_digit_ids()),
        mutated(fifteen_digit_ids(), "0123456789"),
        valid_citizen_ids(first=datetime.date(1800, 1, 1)),
        excel_mangled(),
        st.none(),
        st.just(""),
        st.sampled_from(WHITESPACE).map(lambda c: c * 3),
        st.text(max_size=20),
        st.text(alphabet="0123456789Xx. +eE", min_size=14, max_size=20),
    )


@st.composite
def valid_usccs(draw) -> str:
    authority = draw(st.sampled_from(sorted(REGISTERING_AUTHORITIES)))
    entity_type = draw(st.sampled_from(sorted(REGISTERING_AUTHORITIES[authority][1])))
    region = draw(st.sampled_from([*REGION_CODES, *USCC_EXTRA_REGION_CODES]))
    body = "".join(draw(st.lists(st.sampled_from(USCC_ALPHABET), min_size=8, max_size=8)))
    first_17 = authority + entity_type + region + body + _org_check(body)
    return first_17 + uscc.calc_check_digit(first_17)


@st.composite
def any_authority_usccs(draw) -> str:
    """A USCC with any two characters in positions 1-2 and a correct MOD 31 check."""
    key = draw(valid_usccs())
    prefix = "".join(draw(st.lists(st.sampled_from(USCC_ALPHABET), min_size=2, max_size=2)))
    first_17 = prefix + key[2:17]
    return first_17 + uscc.calc_check_digit(first_17)


def uscc_inputs() -> st.SearchStrategy[str | None]:
    valid = valid_usccs()
    # Only digit authorities, so stdnum's own checks apply throughout.
    digit_authority = valid.filter(lambda k: k[:2].isdigit())
    return st.one_of(
        valid,
        digit_authority,
        digit_authority.map(str.lower),
        digit_authority.map(_full_width),
        whitespace_laden(digit_authority),
        digit_authority.map(lambda key: key + "\r\n"),
        mutated(valid, USCC_ALPHABET + "IOZSV"),
        any_authority_usccs(),
        mutated(digit_authority, USCC_ALPHABET),
        st.none(),
        st.just(""),
        st.text(max_size=20),
        st.text(alphabet=USCC_ALPHABET + "ioszv -", min_size=16, max_size=20),
    )


# --- oracles built from python-stdnum's own pieces ----------------------------------------------
def _stdnum_ric_verdict(number: str | None) -> str:
    if number is None:
        return "none"
    try:
        ric.validate(number)
    except ValidationError as error:
        return type(error).__name__
    except KeyError:
        return "KeyError"
    return "valid"


def _ric_valid_ignoring_issue_year(number: str) -> bool:
    """stdnum's checks without "the region existed in the birth year"."""
    try:
        compact = ric.compact(number)
        if len(compact) != 18 or not compact[:-1].isdigit() or not compact[:-1].isascii():
            return False
        if compact[-1] != ric.calc_check_digit(compact):
            return False
        ric.get_birth_date(compact)
    except ValidationError:
        return False
    parts = numdb.get("cn/loc").info(compact[:6])
    return any("county" in props for _part, props in parts)


def _region_not_abolished_before_birth(number: str) -> bool:
    """From stdnum's own table: the code's name periods (``[1983-2014]新市区,[2015-]竞秀区``)."""
    ends = [
        end
        for _part, props in numdb.get("cn/loc").info(number[:6])
        for _start, end in re.findall(r"\[(\d*)-(\d*)\]", props.get("county", ""))
    ]
    return not ends or "" in ends or max(map(int, ends)) >= ric.get_birth_date(number).year


def _birth_date_in_range(number: str) -> bool:
    born = ric.get_birth_date(number)
    return datetime.date(1900, 1, 1) <= born <= REFERENCE_DATE


def _org_check(body: str) -> str:
    values = [int(c, 36) for c in body]
    remainder = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def _stdnum_uscc_core_valid(number: str) -> bool:
    """stdnum's checks, with positions 1-2 allowed to be letters as GB 32100 allows."""
    if number[:2].isdigit():
        return uscc.is_valid(number)
    compact = uscc.compact(number)
    return (
        len(compact) == 18
        and all(c in USCC_ALPHABET for c in compact)
        and compact[2:8].isdigit()
        and compact[-1] == uscc.calc_check_digit(compact)
    )


def _uscc_extra_checks_pass(number: str) -> bool:
    types = REGISTERING_AUTHORITIES.get(number[0], ("", {}))[1]
    return (
        number[1] in types
        and (
            number[2:8] in known_region_codes() | USCC_EXTRA_REGION_CODES
            or number[2:6] + "00" in known_region_codes()
        )
        and number[16] == _org_check(number[8:16])
    )


# --- evaluation in one DataFrame (or one Arrow array) per property ----------------------------
@pytest.fixture(params=["spark", "arrow"])
def runner(request):
    """The Spark session for the Column rules, or None for their Arrow twins."""
    return request.getfixturevalue("spark") if request.param == "spark" else None


def _arrow_id_problem(raws: pa.Array) -> pa.Array:
    reference = (REFERENCE_DATE - datetime.date(1970, 1, 1)).days
    normalized = arrow_keys.normalized_citizen_id(raws)
    return arrow_keys.citizen_id_problem(normalized, [reference] * len(raws))


def _arrow_twin(rule):
    return {
        normalized_citizen_id: arrow_keys.normalized_citizen_id,
        normalized_uscc: arrow_keys.normalized_uscc,
        _id_problem: _arrow_id_problem,
        uscc_problem: lambda raws: arrow_keys.uscc_problem(arrow_keys.normalized_uscc(raws)),
    }[rule]


def _evaluate(runner, raws, normalize, problem):
    if runner is None:
        raw_array = pa.array(raws, pa.string())
        normalized = _arrow_twin(normalize)(raw_array)
        columns = (normalized, _arrow_twin(normalize)(normalized), _arrow_twin(problem)(raw_array))
        return list(zip(raws, *(c.to_pylist() for c in columns), strict=True))
    keyed_df = runner.createDataFrame(list(enumerate(raws)), "row_number int, raw string")
    rows = (
        keyed_df.select(
            "row_number",
            normalize(keyed_df.raw).alias("normalized"),
            normalize(normalize(keyed_df.raw)).alias("normalized_twice"),
            problem(keyed_df.raw).alias("problem"),
        )
        .orderBy("row_number")
        .collect()
    )
    return [
        (raw, row.normalized, row.normalized_twice, row.problem)
        for raw, row in zip(raws, rows, strict=True)
    ]


def _id_problem(raw):
    return citizen_id_problem(raw, REFERENCE_DATE)


def _failures(found: list) -> str:
    return f"{len(found)} disagreements, first ones: {found[:10]}"


def test_citizen_id_validity_agrees_with_stdnum(runner):
    found = []
    for raw, normalized, normalized_twice, problem in _evaluate(
        runner, _examples(citizen_id_inputs()), normalized_citizen_id, _id_problem
    ):
        expected_valid = (
            normalized is not None
            and _ric_valid_ignoring_issue_year(normalized)
            and _birth_date_in_range(normalized)
            and _region_not_abolished_before_birth(normalized)
        )
        verdict = _stdnum_ric_verdict(normalized)
        if (
            normalized != normalized_twice
            or (problem is None) != expected_valid
            # The one way stdnum rejects what govlake accepts: the issue-year rule.
            or (problem is None and verdict not in ("valid", "InvalidComponent"))
            # The one way govlake rejects what stdnum accepts: the birth-date range.
            or (verdict == "valid" and problem not in (None, "bad_birth_date"))
        ):
            found.append((raw, normalized, problem, verdict))
    assert not found, _failures(found)


def test_uscc_validity_agrees_with_stdnum(runner):
    extra_reasons = {
        "bad_registering_authority",
        "bad_entity_type",
        "bad_region",
        "bad_organization_code",
    }
    found = []
    for raw, normalized, normalized_twice, problem in _evaluate(
        runner, _examples(uscc_inputs()), normalized_uscc, uscc_problem
    ):
        core_valid = bool(normalized) and _stdnum_uscc_core_valid(normalized)
        expected_valid = core_valid and _uscc_extra_checks_pass(normalized)
        if (
            normalized != normalized_twice
            or (problem is None) != expected_valid
            or (core_valid and problem is not None and problem not in extra_reasons)
            # stdnum rejects a valid USCC only for a letter in positions 1-2.
            or (problem is None and not uscc.is_valid(normalized) and normalized[:2].isdigit())
        ):
            found.append((raw, normalized, problem))
    assert not found, _failures(found)


def test_valid_citizen_ids_keep_their_digits(runner):
    found = []
    for raw, normalized, _twice, problem in _evaluate(
        runner, _examples(valid_citizen_ids(), 200), normalized_citizen_id, _id_problem
    ):
        if normalized != raw or (problem is None and ric.get_birth_date(raw) > REFERENCE_DATE):
            found.append((raw, normalized, problem))
    assert not found, _failures(found)


def test_15_digit_upgrade_matches_the_standard_rule(runner):
    found = []
    for raw, normalized, _twice, _problem in _evaluate(
        runner, _examples(fifteen_digit_ids(), 200), normalized_citizen_id, _id_problem
    ):
        body = raw[:6] + "19" + raw[6:]
        if normalized != body + ric.calc_check_digit(body + "0"):
            found.append((raw, normalized))
    assert not found, _failures(found)


# --- deliberate differences, one by one ---------------------------------------------------------
def _single(runner, raw, normalize, problem):
    return _evaluate(runner, [raw], normalize, problem)[0]


def _with_check(body_17: str) -> str:
    return body_17 + ric.calc_check_digit(body_17 + "0")


def test_future_birth_date_rejected_though_stdnum_accepts(runner):
    key = _with_check("11010520300101001")
    assert ric.is_valid(key)
    assert _single(runner, key, normalized_citizen_id, _id_problem)[3] == "bad_birth_date"


def test_birth_before_1900_rejected_though_stdnum_accepts(runner):
    key = _with_check("11010518991231001")
    assert ric.is_valid(key)
    assert _single(runner, key, normalized_citizen_id, _id_problem)[3] == "bad_birth_date"


def test_region_created_after_birth_accepted_though_stdnum_rejects(runner):
    key = _with_check("11011219900101001")  # 110112 通州区 since 1997, person born 1990
    assert _stdnum_ric_verdict(key) == "InvalidComponent"
    assert _single(runner, key, normalized_citizen_id, _id_problem)[3] is None


def test_unknown_county_in_known_province_is_bad_region_where_stdnum_crashes(runner):
    key = _with_check("11999919900101001")
    assert _stdnum_ric_verdict(key) == "KeyError"
    assert _single(runner, key, normalized_citizen_id, _id_problem)[3] == "bad_region"


def test_letter_registering_authority_accepted_though_stdnum_rejects(runner):
    first_17 = "N2110105" + "MA01B2C3" + _org_check("MA01B2C3")
    key = first_17 + uscc.calc_check_digit(first_17)
    assert not uscc.is_valid(key)
    assert _single(runner, key, normalized_uscc, uscc_problem)[3] is None


def test_bad_organization_code_rejected_though_stdnum_accepts(runner):
    first_17 = "91110000600037342"  # organisation code 60003734-2, its check is 1
    key = first_17 + uscc.calc_check_digit(first_17)
    assert uscc.is_valid(key)
    assert _single(runner, key, normalized_uscc, uscc_problem)[3] == "bad_organization_code"


def test_unknown_uscc_region_rejected_though_stdnum_accepts(runner):
    first_17 = "91999999600037341"
    key = first_17 + uscc.calc_check_digit(first_17)
    assert uscc.is_valid(key)
    assert _single(runner, key, normalized_uscc, uscc_problem)[3] == "bad_region"
