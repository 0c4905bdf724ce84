from __future__ import annotations

import datetime

import numpy as np
from stdnum.cn import ric, uscc

from jobs.synth import keys


def test_generated_citizen_id_passes_stdnum():
    value = keys.citizen_id("410622", datetime.date(1990, 1, 2), 13)
    assert ric.is_valid(value)
    assert keys.is_clean_citizen_id(value)


def test_vectorised_citizen_ids_match_one_at_a_time():
    rng = np.random.default_rng(1)
    births = rng.integers(
        datetime.date(1930, 1, 1).toordinal(), datetime.date(2024, 1, 1).toordinal(), 300
    )
    sequences = rng.integers(1, 999, 300)
    regions = ["410622", "110105", "412125"] * 100
    many = keys.citizen_ids(regions, births, sequences)
    one_by_one = [
        keys.citizen_id(r, datetime.date.fromordinal(int(b)), int(s))
        for r, b, s in zip(regions, births, sequences, strict=True)
    ]
    assert many == one_by_one
    assert any(v.endswith("X") for v in many)


def test_known_uscc_passes_both_checks():
    assert keys.is_clean_uscc("91110000600037341L")


def test_generated_uscc_passes_mod31_and_organisation_code_check():
    code = keys.uscc_code("9", "1", "410622", "MA3X1234")
    assert uscc.is_valid(code)
    assert keys.org_code_check(code[8:16]) == code[16]
    assert keys.is_clean_uscc(code)


def test_wrong_organisation_code_check_passes_stdnum_but_not_the_strict_check():
    code = keys.with_wrong_org_code_check(keys.uscc_code("9", "1", "410622", "12345678"), 0.3)
    assert uscc.is_valid(code)
    assert not keys.is_clean_uscc(code)


def test_wrong_check_character_is_invalid():
    value = keys.citizen_id("410622", datetime.date(1990, 1, 2), 13)
    for pick in (0.0, 0.5, 0.99):
        damaged = keys.with_wrong_check_char(value, "0123456789X", pick)
        assert damaged[:17] == value[:17]
        assert not ric.is_valid(damaged)


def test_15_digit_id_upgrades_back_to_the_original():
    value = keys.citizen_id("410622", datetime.date(1975, 6, 30), 21)
    short = keys.id_15_digit(value)
    assert len(short) == 15
    body = short[:6] + "19" + short[6:]
    assert body + keys.id_check_char(body) == value


def test_normalisable_forms_are_not_clean_but_normalise_to_the_key():
    value = keys.citizen_id("110105", datetime.date(1955, 12, 31), 5)
    assert value == "11010519551231005X"
    for damaged in (
        keys.lowercase_x(value),
        keys.fullwidth(value),
        keys.with_whitespace(value, 0.0),
        keys.with_whitespace(value, 0.6),
    ):
        assert not keys.is_clean_citizen_id(damaged)
        normalised = (
            "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in damaged)
            .strip()
            .upper()
        )
        assert normalised == value


def test_excel_damage_loses_digits():
    value = keys.citizen_id("410105", datetime.date(1990, 1, 1), 123)
    assert keys.excel_scientific(value) == "4.10105E+17"
    truncated = keys.excel_truncated(value)
    assert truncated.endswith("000") and truncated[:15] == value[:15]


def test_parcel_code_and_unit_number_have_the_standard_lengths():
    parcel = keys.parcel_code("410622", 2, 14, "JC", 123)
    unit = keys.unit_number(parcel, "F", 3, 12)
    assert len(parcel) == 19 and keys.is_clean_parcel_code(parcel)
    assert len(unit) == 28 and keys.is_clean_unit_number(unit)
