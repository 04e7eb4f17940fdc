"""Tests of personal-data detection and masking, on invented numbers and names."""

import pytest

from classify.personal import (
    clean_name,
    find_id_numbers,
    find_phones,
    id_checksum_ok,
    mask_text,
    masked_phones,
    names_from_template,
)

# An invented ID-card number with a valid check digit (computed, not anyone's).
VALID_ID = "11010519491231002X"


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("电话13812345678", "13812345678"),
        ("电话 138 1234 5678", "13812345678"),
        ("电话138-1234-5678", "13812345678"),
        ("电话＋86 １３８１２３４５６７８", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("座机027-87654321", "02787654321"),
        ("座机(027)87654321", "02787654321"),
        ("座机0710 8765 4321", "071087654321"),
    ],
)
def test_find_phones_formats(text, digits):
    assert find_phones(text) == [digits]


@pytest.mark.parametrize(
    "text", ["2020年2月3日", "体温38.5度", "●●●", "编号123456", "1234567890123"]
)
def test_find_phones_ignores_other_numbers(text):
    assert find_phones(text) == []


def test_masked_phones_display_forms():
    assert masked_phones("13812345678 或 027-87654321") == ["138****5678", "027-****4321"]


def test_id_numbers_need_a_valid_checksum():
    assert id_checksum_ok(VALID_ID)
    assert find_id_numbers(f"身份证{VALID_ID}") == [VALID_ID]
    assert find_id_numbers("身份证110105194912310021") == []


def test_id_number_is_not_taken_for_a_phone():
    assert find_phones(f"身份证{VALID_ID}") == []


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("张小梅", "张小梅"),
        ("张小梅（母亲）", "张小梅"),
        ("张小梅 女士", "张小梅"),
        ("不详的很长的一句话啊", ""),
        ("", ""),
    ],
)
def test_clean_name(value, name):
    assert clean_name(value) == name


def test_names_from_template_reads_name_and_contact_person():
    fields = {"name": "张小梅", "contact_person": "李大山", "age": "60"}
    assert names_from_template(fields) == ["张小梅", "李大山"]


def test_mask_text_masks_numbers_and_names():
    text = f"张小梅，电话13812345678，身份证{VALID_ID}"
    masked = mask_text(text, ["张小梅"])
    assert "13812345678" not in masked and "5678" not in masked
    assert "138********" in masked
    assert VALID_ID not in masked
    assert "张**" in masked


def test_mask_text_keeps_full_width_offsets():
    masked = mask_text("电话：１３８１２３４５６７８。谢谢")
    assert masked == "电话：１３８********。谢谢"


def test_id_number_needs_no_digit_before_it():
    assert find_id_numbers(VALID_ID + "，求助") == [VALID_ID]
    assert find_id_numbers("9" + VALID_ID) == []
    assert find_id_numbers("编号9 " + VALID_ID) == [VALID_ID]
