"""`qiuzhu demo`: the whole system on the bundled demo sources, from nothing to a console.

It starts a local Elasticsearch (fetched if needed), serves the crisis profile's demo site
on 127.0.0.1 (`make demo`: Wuhan 2020), runs one ingestion of every demo source (crawl →
classify → dedup → index), prints the backlog as a dispatcher sees it, and serves the
console with demo logins. The demo posts are invented; the demo backlog lives under the
default index prefix (another crisis's under `qiuzhu-<profile>`), never touched by the
tests (which use their own prefixes).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from urllib.parse import urlsplit

from qiuzhu import profiles, settings

log = logging.getLogger(__name__)

Echo = Callable[[str], None]


def start_elasticsearch(echo: Echo) -> None:
    """Use the cluster at ES_URLS when it answers; else fetch and start a local node."""
    from index import distribution, node

    urls = settings.get("ES_URLS")
    if node.health(urls[0]) is not None:
        echo(f"Elasticsearch answers at {urls[0]}.")
        return
    distribution.fetch()
    echo("Starting Elasticsearch (about 20 s the first time)...")
    specs = node.start(1)
    echo(f"Elasticsearch is up at {specs[0].url}.")


def prepare_backlog(echo: Echo) -> None:
    """Create the demo backlog, or bring it to the current mapping (it is the demo's own)."""
    from index import admin
    from index.client import make_client
    from index.mapping import names

    client = make_client()
    admin.ensure(client, names())
    if not admin.is_current(client, names()):
        result = admin.migrate(client, names())
        echo(f"Moved the demo backlog to the current mapping ({result.new}).")


def use_profile(profile_id: str | None, echo: Echo) -> profiles.Profile:
    """Switch this process (and the workers it starts) to PROFILE_ID's crisis.

    Another crisis's demo gets its own backlog (`qiuzhu-<profile>` prefix) unless
    QIUZHU_INDEX_PREFIX is set, so the demos of two crises never mix.
    """
    if profile_id:
        os.environ["QIUZHU_PROFILE"] = profile_id
    profile = profiles.current()
    default = settings.setting("PROFILE").default
    if profile.id != default and "QIUZHU_INDEX_PREFIX" not in os.environ:
        os.environ["QIUZHU_INDEX_PREFIX"] = f"qiuzhu-{profile.id}"
    echo(f"Crisis profile {profile.id}: {profile.title}; backlog {settings.get('INDEX_PREFIX')}.")
    return profile


def ingest_demo(echo: Echo) -> int:
    """Serve the profile's demo site and ingest its demo sources once; return failed ones."""
    from crawlers.demo_site import DemoSite, start_demo_site
    from ingest.run import ingest_demo

    profile = profiles.current()
    parts = urlsplit(settings.get("DEMO_SITE_URL"))
    host, port = parts.hostname or "127.0.0.1", parts.port or 8390
    with start_demo_site(host, port, DemoSite(profile.demo_site)) as (url, _):
        echo(f"Demo site (invented posts) at {url}; crawling it...")
        result = ingest_demo(settings.get("ES_URLS"), url, echo=echo, registry=profile.demo_sources)
    return len(result.record["failed_sources"])


def show_backlog(echo: Echo, rows: int = 15) -> None:
    """Print the top of the backlog as a dispatcher sees it, with counts by district."""
    from index.client import make_client
    from index.mapping import names
    from index.search import Filters, run_search
    from qiuzhu.commands.backlog import format_table

    client = make_client()
    backlog = names()
    client.indices.refresh(index=backlog.requests)
    result = run_search(
        client,
        backlog,
        Filters(kind=["request"], status=["new", "triaged", "assigned"]),
        size=rows,
        personal=True,  # only to mask the names it holds; the table never shows them
    )
    echo("")
    echo(
        f"Open requests: {result.total} posts in {result.clusters} clusters "
        "(duplicates merged), most urgent and longest waiting first:"
    )
    echo(format_table(result.hits))
    districts = ", ".join(f"{name} {count}" for name, count in result.facets["district"][:8])
    needs = ", ".join(f"{name} {count}" for name, count in result.facets["needs"][:8])
    echo(f"By district: {districts}")
    echo(f"By need: {needs}")


def run(
    echo: Echo,
    serve: bool = True,
    host: str | None = None,
    port: int | None = None,
    profile: str | None = None,
) -> int:
    """Run the demo of PROFILE (default QIUZHU_PROFILE); with SERVE, serve the console."""
    use_profile(profile, echo)
    start_elasticsearch(echo)
    prepare_backlog(echo)
    failed = ingest_demo(echo)
    show_backlog(echo)
    if failed:
        echo(f"{failed} demo source(s) failed: see `qiuzhu runs`.")
    if serve:
        serve_console(echo, host, port)
    return 1 if failed else 0


def serve_console(echo: Echo, host: str | None, port: int | None) -> None:
    """Create the demo logins and serve the console until interrupted."""
    from api import serve

    logins = serve.demo_users()
    echo("")
    echo(f"Console: {serve.url(host, port)}  (Ctrl-C stops it)")
    for name, role in logins.items():
        echo(f"  {role:<10} login {name} / {serve.DEMO_PASSWORD}")
    serve.serve(host, port)
