"""Scrapy settings of every qiuzhu crawl; per-source values come from the registry.

Order of the item pipelines lives here only. `qiuzhu crawl -s KEY=VALUE` overrides any.
"""

from __future__ import annotations

from qiuzhu import __version__
from qiuzhu import settings as qiuzhu_settings

BOT_NAME = "qiuzhu"
SPIDER_MODULES: list[str] = []
USER_AGENT = f"qiuzhu/{__version__} (+help-request aggregator)"

# Politeness: robots.txt, AutoThrottle on top of each source's delay and concurrency.
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
DOWNLOAD_TIMEOUT = 30
REDIRECT_MAX_TIMES = 5

# Retries with backoff; the spider's errback logs the final failure once.
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"
QIUZHU_RETRY_BACKOFF = 0.5
QIUZHU_RETRY_BACKOFF_MAX = 30.0
DOWNLOADER_MIDDLEWARES = {"crawlers.middlewares.RetryBackoffMiddleware": 560}

ITEM_PIPELINES = {
    "pipeline.cleaning.CleaningPipeline": 100,
    "pipeline.incremental.IncrementalPipeline": 200,
    # Tagging and indexing run only with QIUZHU_CRAWL_INDEX on, the export only with an
    # output file: `crawlers.run.item_pipelines` switches off what a crawl cannot use.
    "pipeline.tagging.TaggingPipeline": 300,
    "pipeline.export.JsonLinesExportPipeline": 900,
    "pipeline.indexing.IndexingPipeline": 950,
}
EXTENSIONS = {"crawlers.report.SourceReport": 500}

# `crawlers.run.crawl` sets these for each crawl (--state-dir, --dry-run, --full-read, -o).
QIUZHU_CRAWL_STATE_DIR = ""
QIUZHU_DRY_RUN = False
QIUZHU_FULL_READ = False
QIUZHU_OUTPUT = ""

TELNETCONSOLE_ENABLED = False
# The per-source report (crawlers.report) replaces the full stats dump.
STATS_DUMP = False
# The level is the LOG_LEVEL setting (qiuzhu.logs), applied by crawlers.run to every logger;
# `-s LOG_LEVEL=...` overrides it for one crawl.
LOG_LEVEL = str(qiuzhu_settings.get("LOG_LEVEL"))
# qiuzhu.logs installs the one root handler, which masks numbers in every line.
LOG_INSTALL_ROOT_HANDLER = False
# Items are never logged: their text, phones and names stay out of every log.
LOG_FORMATTER = "crawlers.logformat.PrivateLogFormatter"
# Dropped items are counted per reason in the report; one log line each is noise.
DEFAULT_DROPITEM_LOG_LEVEL = "DEBUG"
