from __future__ import annotations

import datetime

from stdnum.cn import ric

from jobs.synth import keys
from jobs.synth.regions import codes_valid_in, jurisdiction


def test_jurisdiction_names_come_from_the_gbt2260_table():
    qixian = jurisdiction("410622")
    assert (qixian.province, qixian.prefecture, qixian.county) == ("河南省", "鹤壁市", "淇县")
    assert qixian.address_prefix == "河南省鹤壁市淇县"
    assert qixian.province_abbreviation == "豫"


def test_historical_codes_follow_the_county_through_its_reorganisations():
    qixian = jurisdiction("410622")
    assert qixian.code_at(1970) == "412125"
    assert qixian.code_at(1984) == "410524"
    assert qixian.code_at(1990) == "410622"


def test_ids_with_the_code_of_the_birth_year_pass_stdnum():
    qixian = jurisdiction("410622")
    for year in (1940, 1983, 1985, 1986, 2000, 2024):
        value = keys.citizen_id(qixian.code_at(year), datetime.date(year, 3, 1), 101)
        assert ric.is_valid(value), (year, value)


def test_codes_valid_in_a_year_exclude_prefecture_totals():
    codes = codes_valid_in(2020, "41")
    assert "410622" in codes
    assert not any(code.endswith("00") for code in codes)
    assert "410622" not in codes_valid_in(1980)
