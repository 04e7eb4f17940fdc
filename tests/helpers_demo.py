"""The environment of a `qiuzhu demo` process run by a test: its own backlog and folders."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from qiuzhu.settings import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_env(es_urls: str, var: Path, **extra: str) -> tuple[dict[str, str], str]:
    """Return the environment of a demo run into a private backlog, and its index prefix."""
    prefix = f"qiuzhu-test-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "QIUZHU_ES_URLS": es_urls,
        "QIUZHU_INDEX_PREFIX": prefix,
        "QIUZHU_VAR_DIR": str(var),
        "QIUZHU_SPOOL_DIR": str(var / "spool"),
        "QIUZHU_DEMO_SITE_URL": f"http://127.0.0.1:{free_port()}",
        **extra,
    }
    return env, prefix


def run_demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `qiuzhu ARGS` (a demo command line) with ENV from the checkout; it must succeed."""
    proc = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
