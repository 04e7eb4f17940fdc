"""Names of private persons in free text: found wherever they stand, places never masked.

The examples are invented; tests/data/names-dev.jsonl is the labelled development set,
names-train.jsonl the set the rules were improved from, names-test.jsonl the frozen
held-out set, written by other hands and never read for errors (`qiuzhu eval-masking`
measures any set in that format).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from classify.analyze import analyze_post
from classify.evaluate import read_jsonl
from classify.masking_eval import evaluate_masking, format_masking
from classify.names import find_names, mask_reference, split_reference
from classify.personal import mask_house_numbers, mask_text, person_names

DEV = Path(__file__).parent / "data" / "names-dev.jsonl"
TRAIN = Path(__file__).parent / "data" / "names-train.jsonl"
HELD_OUT = Path(__file__).parent / "data" / "names-test.jsonl"


def masked(text: str) -> str:
    return analyze_post({"id": "t", "text": text})["text_masked"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("我妈妈刘桂芝今年七十三岁，家里的药只够三天了。", "刘桂芝"),
        ("家父魏长林今年六十八，咳嗽胸闷一周。", "魏长林"),
        ("患者陈玉珍，61岁，住江夏区纸坊街道。", "陈玉珍"),
        ("居民胡德胜老人独居，一周没出门了。", "胡德胜"),
        ("联系人：王建军 138-0000-2002", "王建军"),
        ("我叫张晓明，是汉阳的志愿者。", "张晓明"),
        ("本人李娜，孕38周，已经见红了。", "李娜"),
        ("求助人欧阳明辉，男，45岁，糖尿病。", "欧阳明辉"),
        ("名单：赵德华、钱秀兰、孙建国。", "钱秀兰"),
        ("1. 周玉梅 82岁 2. 吴长发 79岁", "吴长发"),
        ("姓名,年龄,电话\n冯淑华,76,138-0000-2201", "冯淑华"),
        ("陆建平发烧第五天，家里人都很着急。", "陆建平"),
        # Surnames Faker's ranking lacks, from CC-CEDICT: 肖, 宓, compound ones.
        ("我妈妈肖桂英，72岁，发烧第六天。", "肖桂英"),
        ("联系人：宓建华，电话138-0000-2203", "宓建华"),
        ("我父亲轩辕德明今天确诊了。", "轩辕德明"),
        # A given name ending in a place ending, where the words around speak of a person.
        ("我叫刘长江，是武昌区的出租车司机。", "刘长江"),
        # Sheet cells.
        ("求助人|邵双喜|新乡市凤泉区|被困", "邵双喜"),
    ],
)
def test_names_in_free_text_are_masked_but_their_surname(text, name):
    out = masked(text)
    assert name not in out
    assert mask_reference(name) in out


@pytest.mark.parametrize(
    ("text", "reference", "shown"),
    [
        ("百步亭的程阿姨还在等床位。", "程阿姨", "*阿姨"),
        ("王先生一家三口都在隔离。", "王先生", "*先生"),
        ("张医生说要马上住院。", "张医生", "*医生"),
        ("志愿者小王和老李送来了菜。", "老李", "老*"),
        ("联系韩先生或者唐女士都可以。", "唐女士", "*女士"),
        # A surname that is also a verb, cut off before its title: 戴|阿姨, 解|老师.
        ("社区的戴阿姨让我们再等等。", "戴阿姨", "*阿姨"),
        # 老/小 glued to the next word by the segmentation, or a word of its own there.
        ("老万是我们楼的楼长。", "老万", "老*"),
        ("吗？老潘说建设大道那家已经卖完了。", "老潘", "老*"),
    ],
)
def test_titles_mask_the_surname(text, reference, shown):
    out = masked(text)
    assert reference not in out
    assert shown in out


@pytest.mark.parametrize(
    "text",
    [
        "王家湾附近的小区今天开始封闭管理。",
        "陈家墩菜市场今天没开门。",
        "李家墩社区需要志愿者帮忙测体温。",
        "协和医院发热门诊排队的人太多了。",
        "张公堤边上的几个小区都出现了确诊病例。",
        "徐家棚街道的物资点今天下午发放蔬菜。",
        "新乡、许昌、周口的志愿者车队已经出发。",
        "金银潭医院的医护人员需要防护服。",
        "方舱医院床位紧张，周围邻居都很着急。",
        "高烧不退三天了，马上就要转院了。",
        "我老公在方舱医院，我和阿姨在家。",
        # A function word before a common word, a title glued into a word, a township.
        "家里的亲戚和朋友还在外面继续寻找。",
        "氛围帅哥大赏",
        "上海市卫生健康委主任介绍了情况。",
        "获嘉孙杏村镇的老人需要转移。",
        "江汉区小蔡家巷39号需要消毒。",
        "鸡东县乾宏家园小区2号楼停水了。",
    ],
)
def test_places_institutions_and_words_with_surnames_are_kept(text):
    assert masked(text) == text
    assert find_names(text).all == []


def test_a_name_is_found_beside_a_place_that_holds_a_surname():
    out = masked("患者钱志华住在王家湾的龙阳村，需要住院。")
    assert "钱志华" not in out and "王家湾" in out and "龙阳村" in out


def test_every_occurrence_of_a_name_found_once_is_masked():
    out = masked("我妈妈刘桂芝发烧了。刘桂芝的药也吃完了。")
    assert "刘桂芝" not in out and out.count("刘**") == 2


def test_nicknames_after_kinship_and_introduction_words_are_masked():
    out = masked("我女儿小娟今年6岁，丈夫也发烧了。")
    assert "小娟" not in out
    out = masked("女儿乐乐发烧，三人都在家隔离。")
    assert "乐乐" not in out
    # 宝宝 and 刚刚 are words, not nicknames.
    assert find_names("我女儿宝宝发烧了。").all == []


def test_a_given_name_alone_after_the_full_name_is_masked_too():
    out = masked("贺瑞芳（大家叫她瑞芳）是我们楼的志愿者。")
    assert "瑞芳" not in out


def test_surnames_come_from_faker_and_cc_cedict_not_from_running_words():
    from classify.name_statistics import statistics

    surnames = statistics().surnames
    assert {"王", "肖", "宓", "端木", "轩辕", "上官"} <= surnames.keys()
    # CC-CEDICT lists them as surnames, but running text uses them as words first.
    assert not {"微", "新", "中", "后", "从", "也"} & surnames.keys()


def test_template_names_come_first_and_free_text_names_follow():
    text = "【姓名】程秀兰【年龄】68【病情描述】女儿周晓燕在外地"
    names = person_names(text, {"name": "程秀兰", "description": "女儿周晓燕在外地"})
    assert names == ["程秀兰", "周晓燕"]


def test_split_reference_reads_titles_and_prefixes():
    assert split_reference("王先生") == ("", "王", "先生")
    assert split_reference("老李") == ("老", "李", "")
    assert split_reference("欧阳阿姨") == ("", "欧阳", "阿姨")
    assert split_reference("陈玉珍") is None
    assert mask_reference("陈玉珍") == "陈**"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("住在7栋2单元302", "住在*栋*单元***"),
        ("3号楼1单元", "*号楼*单元"),
        ("2-1-502室", "*-*-***室"),
        ("七栋二单元", "*栋*单元"),
        ("2020年1月27日发病，第5天", "2020年1月27日发病，第5天"),
        ("5号楼有住户需要制氧机", "5号楼有住户需要制氧机"),
    ],
)
def test_house_numbers_below_the_community_are_masked(text, expected):
    assert mask_house_numbers(text) == expected


def test_mask_text_masks_phones_house_numbers_and_references_together():
    out = mask_text("王先生住7栋2单元302，电话138-0000-1234", ["王先生"])
    assert out == "*先生住*栋*单元***，电话138-****-****"


def test_the_development_set_meets_the_targets():
    result = evaluate_masking(read_jsonl(DEV))
    assert result["counts"]["names"] >= 140 and result["counts"]["keep"] >= 140
    assert result["names_masked"] >= 0.95, format_masking(result, misses=True)
    assert result["titles_masked"] >= 0.95, format_masking(result, misses=True)
    assert result["places_kept"] >= 0.98, format_masking(result, misses=True)
    assert result["precision"] >= 0.95, format_masking(result, misses=True)


def test_the_training_set_holds_its_figures():
    # The set the rules were improved from (from 72.7 % names, 50.0 % titles before).
    result = evaluate_masking(read_jsonl(TRAIN))
    assert result["counts"]["names"] == 410 and result["counts"]["titles"] == 76
    assert result["names_masked"] >= 0.85, format_masking(result)
    assert result["titles_masked"] >= 0.86, format_masking(result)
    assert result["places_kept"] >= 0.99, format_masking(result)
    assert result["precision"] >= 0.99, format_masking(result)


def test_the_held_out_set_holds_its_measured_floor():
    # Measured once, after the rules were frozen (85.0 % names, 82.7 % titles, 99.8 %
    # places kept); this guards against a regression and is not a target to tune on:
    # its misses are never listed.
    result = evaluate_masking(read_jsonl(HELD_OUT))
    assert result["counts"]["names"] == 247 and result["counts"]["keep"] == 492
    assert result["names_masked"] >= 0.84
    assert result["titles_masked"] >= 0.80
    assert result["places_kept"] >= 0.99
    assert result["precision"] >= 0.98


def test_the_report_names_misses_by_id_without_the_post_text():
    # A wrong label, so that there is a miss to report: 高烧 is no name.
    rows = [{"id": "x1", "text": "高烧不退，求帮忙。", "names": ["高烧"], "keep": []}]
    result = evaluate_masking(rows)
    report = format_masking(result, misses=True)
    assert result["names_masked"] == 0.0
    assert "x1: 高烧" in report and "不退" not in report
