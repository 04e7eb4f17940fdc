"""Volunteers' spreadsheets: CSV or XLSX at a URL or a local path, columns from the registry."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from crawlers.spiders.base import SourceSpider

#: Template labels, so a row's mapped columns read like a templated post downstream.
TEMPLATE_LABELS = {
    "name": "姓名",
    "age": "年龄",
    "city": "所在城市",
    "address": "所在小区、社区",
    "onset": "患病时间",
    "contact": "联系方式",
    "emergency_contact": "其他紧急联系人",
}


class SpreadsheetSpider(SourceSpider):
    """Read every row of a sheet; a row that does not fit the header is `bad_row`."""

    kind = "spreadsheet"

    def _details(self) -> list[str]:
        return list(self.source.options.get("details") or [])

    def parse(self, response: Response) -> Iterator[Any]:
        page = self.page(response, binary=True)
        if page is None:
            self.list_unread(response)
            return
        fmt = self.source.options.get("format") or (
            "xlsx" if response.url.lower().endswith(".xlsx") else "csv"
        )
        rows = self._xlsx(page) if fmt == "xlsx" else self._csv(page)
        if not rows:
            self.list_unread(response)
        header: list[str] | None = None
        for number, row in enumerate(rows, start=1):
            if header is None:
                header = [str(cell or "").strip() for cell in row]
                wanted = [*self.source.options["columns"].values(), *self._details()]
                missing = [c for c in wanted if c not in header]
                if missing:
                    self.bad_input("missing_column", response.url, f"no column {missing[0]!r}")
                    self.list_unread(response)
                    return
                continue
            if not any(str(cell or "").strip() for cell in row):
                continue
            if len(row) != len(header):
                self.bad_input(
                    "bad_row",
                    f"{response.url}#line={number}",
                    f"{len(row)} cells, header has {len(header)}",
                )
                continue
            yield from self.from_row(
                dict(zip(header, row, strict=True)),
                response.url,
                number,
                self.list_key(response),
            )

    def _csv(self, response: Response) -> list[list[str]]:
        encoding = self.source.encoding or "utf-8-sig"
        try:
            text = response.body.decode(encoding)
        except UnicodeDecodeError:
            # Excel in a Chinese locale saves CSV as GBK whatever the sheet says.
            self.bad_input("wrong_encoding", response.url, "read as gb18030")
            text = response.body.decode("gb18030", errors="replace")
        try:
            return list(csv.reader(io.StringIO(text)))
        except csv.Error:
            self.bad_input("bad_csv", response.url)
            return []

    def _xlsx(self, response: Response) -> list[tuple[Any, ...]]:
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(response.body), read_only=True, data_only=True)
            name = self.source.options.get("sheet")
            sheet = book[name] if name else book.active
            return [tuple(r) for r in sheet.iter_rows(values_only=True)] if sheet else []
        except Exception as exc:  # openpyxl raises many types for a file that is not XLSX
            self.bad_input("bad_xlsx", response.url, type(exc).__name__)
            return []

    def from_row(
        self, record: dict[str, Any], url: str, number: int, list_key: str = ""
    ) -> Iterator[Any]:
        """Yield the item of one row; mapped template columns are written as template fields."""
        columns = self.source.options["columns"]

        def cell(key: str) -> Any:
            value = record.get(columns[key]) if key in columns else None
            return value.strip() if isinstance(value, str) else value

        row_id = cell("source_id")
        if not row_id:
            blob = "\x1f".join(str(v) for v in record.values())
            row_id = hashlib.sha1(blob.encode("utf-8")).hexdigest()[:16]
        posted_at = self.when(cell("posted_at"), f"{url}#line={number}")
        if not self.admit(row_id, posted_at, list_key=list_key):
            return
        text = str(cell("text") or "")
        for header in self._details():
            value = record.get(header)
            value = value.strip() if isinstance(value, str) else value
            if value not in (None, "") and text:
                text += f"【{header}】{value}"
        labelled = "".join(
            f"【{label}】{cell(key)}" for key, label in TEMPLATE_LABELS.items() if cell(key)
        )
        yield self.item(
            row_id,
            f"{url}#row={row_id}",
            title=str(cell("title") or ""),
            author=str(cell("author") or ""),
            posted_at=posted_at,
            text=f"{labelled}【病情描述】{text}" if labelled and text else text,
            raw={
                k: v if isinstance(v, str | int | float) or v is None else str(v)
                for k, v in record.items()
            },
        )
