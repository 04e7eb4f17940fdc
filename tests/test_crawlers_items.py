import json
from datetime import datetime

from crawlers.dates import SHANGHAI
from crawlers.items import HelpRequest


def make(**kwargs):
    fields = {
        "source": "forum-gbk-demo",
        "source_id": "3001",
        "url": "http://127.0.0.1/forum/thread?tid=3001",
        "text": "求助：需要床位",
        "posted_at": datetime(2020, 2, 5, 14, 32, tzinfo=SHANGHAI),
    }
    return HelpRequest(**{**fields, **kwargs})


def test_help_request_id_is_source_and_source_id():
    assert make().id == "forum-gbk-demo:3001"


def test_to_dict_is_json_with_iso_dates():
    data = make(raw={"k": 1}).to_dict()
    assert data["id"] == "forum-gbk-demo:3001"
    assert data["posted_at"] == "2020-02-05T14:32:00+08:00"
    assert data["crawled_at"] is None
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


def test_from_dict_round_trips():
    item = make(images=["http://x/a.jpg"], deleted=True, reply_state="已回复")
    assert HelpRequest.from_dict(item.to_dict()) == item


def test_content_hash_changes_with_what_a_reader_sees():
    base = make()
    assert base.content_hash() == make(crawled_at=datetime.now(SHANGHAI)).content_hash()
    assert base.content_hash() != make(deleted=True).content_hash()
    assert base.content_hash() != make(reply_state="已回复").content_hash()
    assert base.content_hash() != make(text="已住院，谢谢大家").content_hash()


def test_items_module_does_not_import_scrapy():
    import subprocess
    import sys

    code = "import sys, crawlers.items; print('scrapy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
