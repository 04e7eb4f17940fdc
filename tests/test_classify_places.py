"""Tests of place resolution against the real division data, on invented addresses."""

import pytest

from classify import gazetteer
from classify.places import resolve


@pytest.fixture(scope="module")
def gaz():
    return gazetteer.load()


def test_gazetteer_holds_every_level(gaz):
    levels = {gaz.levels[i] for i, _ in gaz.lookup("后湖街道")}
    assert gazetteer.STREET in levels
    assert any(gaz.names[i] == "武汉市" for i, _ in gaz.lookup("武汉"))


def test_gazetteer_cache_is_reused(gaz):
    assert gazetteer.load() is gaz


@pytest.mark.parametrize(
    ("address", "district", "street"),
    [
        ("江岸区后湖街道某某小区", "江岸区", "后湖街道"),
        ("后湖街道", "江岸区", "后湖街道"),
        ("武汉市江岸", "江岸区", ""),
        ("百步亭某某园", "江岸区", "百步亭花园"),
        ("光谷某某小区", "洪山区", ""),
        ("桥口区某路", "硚口区", ""),
        ("武汉市中南街道", "武昌区", "中南路街道"),
    ],
)
def test_resolve_district_and_street(address, district, street):
    place = resolve(address, address, "武汉")
    assert place["district"] == district
    assert place["street"] == street
    assert place["city"] == "武汉市"
    assert place["province"] == "湖北省"


def test_resolve_keeps_the_hierarchy_consistent():
    place = resolve("后湖街道", "后湖街道", "")
    assert place["district_code"] == "420102"
    assert place["street_code"].startswith(place["district_code"])
    assert place["city_code"] == "4201"
    assert place["province_code"] == "42"


def test_resolve_ignores_hospital_names():
    text = "住在江汉区某某小区，昨天去了汉阳医院和武昌医院看病"
    assert resolve("", text, "")["district"] == "江汉区"


def test_resolve_hospital_alone_leaves_district_empty():
    assert resolve("", "在协和医院排队，汉阳医院也去过", "")["district"] == ""


def test_resolve_ambiguous_area_keeps_candidates():
    place = resolve("汉口某某小区", "汉口某某小区", "武汉")
    assert place["district"] == ""
    names = {c["name"] for c in place["place_candidates"]}
    assert {"江岸区", "江汉区", "硚口区"} <= names


@pytest.mark.parametrize("text", ["", "今天天气不错", "我们在家"])
def test_resolve_without_place_is_empty(text):
    place = resolve("", text, "")
    assert place["district"] == ""
    assert place["city"] == ""


@pytest.mark.parametrize(
    "text",
    [
        "住在江汉区某某小区，昨天去了汉阳医院和武昌医院看病。后湖街道幸福花园3栋！",
        "武昌区中南路街道 汉口 百步亭花园;江岸区后湖街道\n洪山区关山街道关山村",
        "在协和医院排队,汉阳医院也去过?梅苑小区、青山区冶金街道",
    ],
)
def test_find_mentions_clause_by_clause_as_over_the_whole_text(text):
    from classify.places import _clause_mentions, find_mentions

    for weight in (1.0, 2.0):
        whole = _clause_mentions(text, weight)
        assert whole
        assert find_mentions(text, weight) == whole
        assert find_mentions(text, weight) == whole  # from the remembered clauses


def test_resolve_remembered_places_are_copies():
    first = resolve("汉口某某小区", "汉口某某小区", "武汉")
    first["place_candidates"].clear()
    first["district"] = "changed"
    again = resolve("汉口某某小区", "汉口某某小区", "武汉")
    assert again["district"] == ""
    assert len(again["place_candidates"]) >= 3


@pytest.mark.parametrize(
    ("text", "province", "city", "district"),
    [
        ("新乡卫辉市某村被困", "河南省", "新乡市", "卫辉市"),
        ("河南郑州二七区某小区", "河南省", "郑州市", "二七区"),
        ("浦东新区某小区断粮", "上海市", "上海市", "浦东新区"),
        ("仙桃市某村", "湖北省", "仙桃市", "仙桃市"),
        ("武汉江岸区某小区", "湖北省", "武汉市", "江岸区"),
        ("人在上海，封控第二十天", "上海市", "上海市", ""),
    ],
)
def test_resolve_places_anywhere_in_china(text, province, city, district):
    place = resolve(text, text, "")
    assert (place["province"], place["city"], place["district"]) == (province, city, district)


@pytest.mark.parametrize("text", ["卫辉水位上涨", "新乡暴雨", "鼓楼区某小区"])
def test_resolve_never_guesses_hubei_for_a_place_elsewhere_or_ambiguous(text):
    assert resolve(text, text, "")["province"] != "湖北省"
