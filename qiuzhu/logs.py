"""One logging set-up for every qiuzhu process: the CLI, crawl workers, the API's workers.

The level comes from the LOG_LEVEL setting, moved by the CLI's `-v` and `-q`, and governs
every logger, Scrapy's and the spiders' included: it sits on the one root handler, so a
library that sets its own logger to DEBUG (Scrapy does) still logs nothing below it.
The chosen level is put back into the environment, so the processes a command starts
(crawl workers, API workers) log at the same level.

Every line passes `personal.mask_numbers` as it is written: logs name sources, URLs and
counts, never a post's text, and a phone or ID-card number that reached a message anyway
(an exception quoting a value) is masked before it reaches a file.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from classify.personal import mask_numbers
from qiuzhu import settings

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Libraries that log each request, retry or load: heard only at DEBUG (errors always).
NOISY = ("elastic_transport", "urllib3", "jieba", "asyncio", "filelock", "apscheduler.executors")
#: Loggers that set their own level on import or set-up (Scrapy's dictConfig): reset.
OWN_LEVELS = ("scrapy", "twisted", "py.warnings", "uvicorn", "uvicorn.error", "uvicorn.access")


class MaskingFormatter(logging.Formatter):
    """A formatter whose every line, traceback included, has its numbers masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_numbers(super().format(record))


def parse_level(value: str | int) -> int:
    """Return the logging level VALUE names (DEBUG ... CRITICAL, or a number).

    Raises:
        ValueError: VALUE names no level.
    """
    if isinstance(value, int):
        return value
    name = value.strip().upper()
    if name.isdigit():
        return int(name)
    if name == "WARN":
        name = "WARNING"
    if name not in LEVELS:
        raise ValueError(f"expected one of {', '.join(LEVELS)}")
    return int(getattr(logging, name))


def level_name(level: int) -> str:
    """Return the name of LEVEL (INFO), or its number for a level between the names."""
    name = logging.getLevelName(level)
    return name if name in LEVELS else str(level)


def chosen_level(verbose: int = 0, quiet: int = 0) -> int:
    """Return LOG_LEVEL moved VERBOSE steps down and QUIET steps up (DEBUG to CRITICAL)."""
    base = parse_level(settings.get("LOG_LEVEL"))
    return min(max(base + 10 * (quiet - verbose), logging.DEBUG), logging.CRITICAL)


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever `sys.stderr` is when a line is written."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_HANDLER: logging.Handler | None = None


def configure(level: int | None = None, stream: TextIO | None = None) -> int:
    """Install the masking root handler at LEVEL (default: LOG_LEVEL); return the level.

    Called again, it replaces its own handler and keeps any other (pytest's, for one).
    """
    global _HANDLER
    if level is None:
        level = chosen_level()
    root = logging.getLogger()
    if _HANDLER is not None:
        root.removeHandler(_HANDLER)
    handler: logging.Handler = logging.StreamHandler(stream) if stream else _Stderr()
    handler.setFormatter(MaskingFormatter(FORMAT))
    root.addHandler(handler)
    _HANDLER = handler
    set_level(level)
    return level


def set_level(level: int) -> None:
    """Make LEVEL govern every logger and the processes started from now on."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        if handler is _HANDLER or isinstance(handler.formatter, MaskingFormatter):
            handler.setLevel(level)
    for name in OWN_LEVELS:
        logging.getLogger(name).setLevel(level)
    for name in NOISY:
        # elastic_transport warns, with a traceback, of every retry; qiuzhu's own error
        # says what failed and how to fix it.
        logging.getLogger(name).setLevel(level if level <= logging.DEBUG else logging.ERROR)
    os.environ[settings.setting("LOG_LEVEL").env] = level_name(level)


def ensure_configured() -> None:
    """Configure logging from LOG_LEVEL unless this process has a root handler already."""
    if _HANDLER is None and not logging.getLogger().handlers:
        configure()
