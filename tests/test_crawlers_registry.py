import textwrap

import pytest
from fixtures_crawl import MINIMAL_HTML

from crawlers.registry import load_sources, select_sources
from qiuzhu.errors import ConfigError

GOOD_FEED = """
  - id: feed-one
    kind: feed
    start_urls: ["http://127.0.0.1:1/feed.xml"]
"""


def write(tmp_path, body):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + textwrap.dedent(body), encoding="utf-8")
    return path


def test_bundled_registry_loads_every_kind_from_the_demo_site_setting(monkeypatch):
    monkeypatch.setenv("QIUZHU_DEMO_SITE_URL", "http://127.0.0.1:4321")
    sources = load_sources()
    assert {s.kind for s in sources.values()} == {
        "weibo",
        "feed",
        "html",
        "message_board",
        "spreadsheet",
    }
    web = [u for s in sources.values() for u in s.start_urls if u.startswith("http")]
    assert web and all(u.startswith("http://127.0.0.1:4321/") for u in web)
    local = sources["sheet-building-group-demo"].start_urls[0]
    assert local.startswith("file://") and local.endswith("demo/site/sheets/building-group.csv")


def test_registry_entry_of_an_existing_kind_needs_no_code(tmp_path):
    path = write(
        tmp_path,
        GOOD_FEED
        + """
  - id: feed-two
    kind: feed
    enabled: false
    start_urls: "http://127.0.0.1:1/other.xml"
    rate_limit: {delay: 2, concurrency: 1}
    timeout: 5
""",
    )
    sources = load_sources(path)
    assert list(sources) == ["feed-one", "feed-two"]
    two = sources["feed-two"]
    assert (two.download_delay, two.concurrency, two.timeout) == (2.0, 1, 5.0)
    assert [s.id for s in select_sources(sources, None)] == ["feed-one"]
    assert [s.id for s in select_sources(sources, ["feed-two"])] == ["feed-two"]


def test_defaults_apply_to_every_source(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("defaults: {timeout: 7}\nsources:\n" + textwrap.dedent(GOOD_FEED))
    assert load_sources(path)["feed-one"].timeout == 7.0


def test_environment_variables_are_substituted(tmp_path, monkeypatch):
    monkeypatch.setenv("FEED_HOST", "http://127.0.0.1:5555")
    path = write(
        tmp_path,
        """
  - id: feed-env
    kind: feed
    start_urls: ["${FEED_HOST}/feed.xml"]
""",
    )
    assert load_sources(path)["feed-env"].start_urls == ("http://127.0.0.1:5555/feed.xml",)


HTML = MINIMAL_HTML


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ('  - id: a\n    kind: blog\n    start_urls: ["http://x/"]\n', "kind", "expected one of"),
        ('  - id: Bad Id\n    kind: feed\n    start_urls: ["http://x/"]\n', "id", "lower-case"),
        ("  - id: a\n    kind: feed\n", "start_urls", "expected one URL"),
        ('  - id: a\n    kind: feed\n    start_urls: ["ftp://x/"]\n', "start_urls[0]", "http"),
        (
            '  - id: a\n    kind: feed\n    start_urls: ["${NOPE_NOT_SET}/x"]\n',
            "start_urls[0]",
            "neither",
        ),
        (
            '  - id: a\n    kind: feed\n    start_urls: ["http://x/"]\n    encoding: klingon\n',
            "encoding",
            "not an encoding",
        ),
        (
            '  - id: a\n    kind: feed\n    start_urls: ["http://x/"]\n    timeout: soon\n',
            "timeout",
            "number",
        ),
        (
            '  - id: a\n    kind: feed\n    start_urls: ["http://x/"]\n    selector: x\n',
            "selector",
            "unknown field",
        ),
        (
            HTML.replace('fields: {text: "div.post"}', "fields: {title: h1}"),
            "fields.text",
            "is required",
        ),
        (HTML.replace('"tr.thread"', '"tr..thread["'), "list.rows", "not a valid css selector"),
        (HTML.replace('"a::attr(href)"', '"xpath://a[@"'), "list.link", "xpath"),
        (HTML.replace('"tid=(\\\\d+)"', '"tid=\\\\d+"'), "id_pattern", "exactly one group"),
        (
            '  - id: b\n    kind: message_board\n    start_urls: ["http://x/"]\n'
            '    detail_url: "http://x/d"\n    form: {page_field: p, size_field: s, page_size: 5}\n'
            "    items_path: data\n    fields: {id: tid, text: content}\n",
            "detail_url",
            "{id}",
        ),
        (
            '  - id: c\n    kind: spreadsheet\n    start_urls: ["http://x/a.csv"]\n'
            "    columns: {author: 登记人}\n",
            "columns.text",
            "is required",
        ),
        (
            '  - id: w\n    kind: weibo\n    start_urls: ["http://x/"]\n',
            "long_text_url",
            "is required",
        ),
    ],
)
def test_wrong_entries_name_the_source_and_the_field(tmp_path, body, field, words):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_sources(path)
    message = caught.value.message
    assert "source '" in message
    assert f"field {field!r}" in message
    assert words in message


def test_duplicate_ids_are_an_error(tmp_path):
    with pytest.raises(ConfigError, match="field 'id': is used by an earlier source"):
        load_sources(write(tmp_path, GOOD_FEED + GOOD_FEED))


@pytest.mark.parametrize(
    ("text", "words"),
    [("sources: [", "not valid YAML"), ("nothing: here\n", "`sources:` list")],
)
def test_unreadable_registry_files(tmp_path, text, words):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_sources(path)


def test_missing_registry_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the source registry"):
        load_sources(tmp_path / "missing.yaml")


def test_selecting_an_unknown_source_lists_the_known_ones(tmp_path):
    sources = load_sources(write(tmp_path, GOOD_FEED))
    with pytest.raises(ConfigError, match=r"unknown source 'nope'.*feed-one"):
        select_sources(sources, ["nope"])


BOARD = """
  - id: board-x
    kind: message_board
    start_urls: ["http://127.0.0.1:1/list"]
    detail_url: "http://127.0.0.1:1/detail?id={id}"
    form: {page_field: pageNo}
    items_path: data.list
    fields: {id: tid, text: content}
"""


def test_paging_fields_order_full_reads_and_max_pages(tmp_path, monkeypatch):
    monkeypatch.setenv("QIUZHU_CRAWL_FULL_READ_HOURS", "12")
    body = (
        BOARD
        + HTML.replace("forum-x", "forum-old")
        + "    order: oldest_first\n    max_pages: 40\n"
        + HTML.replace("forum-x", "forum-any")
        + "    order: unordered\n"
        + HTML.replace("forum-x", "forum-nightly")
        + "    full_read_hours: 24\n"
        + GOOD_FEED
    )
    sources = load_sources(write(tmp_path, body))
    board = sources["board-x"]
    assert (board.order, board.full_read_hours, board.max_pages) == ("newest_first", None, None)
    assert "size_field" not in board.options["form"]
    old = sources["forum-old"]
    assert (old.order, old.max_pages, old.full_read_hours) == ("oldest_first", 40, None)
    assert sources["forum-any"].full_read_hours == 12.0  # CRAWL_FULL_READ_HOURS
    assert sources["forum-nightly"].full_read_hours == 24.0
    assert sources["feed-one"].order == "" and sources["feed-one"].full_read_hours is None


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (HTML + "    order: sideways\n", "order", "expected one of newest_first"),
        (HTML + "    full_read_hours: -1\n", "full_read_hours", "0 or more"),
        (HTML + "    max_pages: 0\n", "max_pages", "1 or more"),
        (GOOD_FEED + "    order: oldest_first\n", "order", "a feed source is read whole"),
        (
            BOARD.replace("{page_field: pageNo}", "{page_field: pageNo, size_field: n}"),
            "form.page_size",
            "go together",
        ),
        (
            BOARD.replace("{page_field: pageNo}", "{page_field: pageNo, page_size: 9}"),
            "form.size_field",
            "go together",
        ),
    ],
)
def test_wrong_paging_fields_name_the_field(tmp_path, body, field, words):
    with pytest.raises(ConfigError) as caught:
        load_sources(write(tmp_path, body))
    assert f"field {field!r}" in caught.value.message
    assert words in caught.value.message
