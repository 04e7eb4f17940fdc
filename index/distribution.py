"""Elastic's runnable distribution: fetch it with Maven, verify it, unpack it; pick a JDK.

The server is published to Maven Central as
`org.elasticsearch.distribution.integ-test-zip:elasticsearch` (a zip without a bundled
JDK). `fetch` downloads it with Maven, checks the pinned SHA-512 and the zip's CRCs, and
unpacks it under VAR_DIR/es/dist, readable by the unprivileged user that runs the nodes.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from qiuzhu import settings
from qiuzhu.errors import ConfigError

log = logging.getLogger(__name__)

ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch"
JVM_ROOT = Path("/usr/lib/jvm")
MIN_JAVA = {8: 17, 9: 21}  # Elasticsearch major -> lowest Java it runs on
# SHA-512 of the archives this project has verified; Maven Central publishes no checksum for
# this artifact's descriptor, so Maven cannot check it strictly and we pin the digest here.
KNOWN_SHA512 = {
    "9.5.4": "a75df614854ace52dd0bce977662b3792873ac077ec0af9026cd0b2a0eb119e4"
    "49910f8eb8ed577d1a83c51c6ee6af71bf5004c3cf5b418c979186de8b5dd9e6",
}


def dist_dir(version: str | None = None) -> Path:
    """Return the folder the distribution of VERSION is unpacked into."""
    version = version or settings.get("ES_VERSION")
    return settings.var_dir("es", "dist", f"elasticsearch-{version}")


# -- fetching -------------------------------------------------------------------------


def fetch(version: str | None = None) -> Path:
    """Download, verify and unpack the distribution once; return its folder.

    Raises:
        ConfigError: Maven is missing, the version is not served, or the archive is broken.
    """
    version = version or settings.get("ES_VERSION")
    target = dist_dir(version)
    if (target / "bin" / "elasticsearch").exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ConfigError(
            "Maven (mvn) is needed to fetch Elasticsearch: install it (apt-get install maven)."
        )
    download = settings.var_dir("es", "download")
    download.mkdir(parents=True, exist_ok=True)
    log.info("Fetching Elasticsearch %s with Maven", version)
    result = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
            f"-Dartifact={ARTIFACT}:{version}:zip",
            f"-DoutputDirectory={download}",
        ],
        capture_output=True,
        text=True,
        cwd=download,
        check=False,
    )
    archive = download / f"elasticsearch-{version}.zip"
    if result.returncode != 0 or not archive.exists():
        tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise ConfigError(
            f"Maven could not fetch {ARTIFACT}:{version}:zip "
            f"({' '.join(tail) or 'no output'}). Check the version (QIUZHU_ES_VERSION)."
        )
    _verify(archive, version)
    _unpack(archive, target)
    archive.unlink()
    log.info("Elasticsearch %s unpacked in %s", version, target)
    return target


def _verify(archive: Path, version: str) -> None:
    import hashlib

    digest = hashlib.sha512()
    with archive.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    expected = KNOWN_SHA512.get(version)
    if expected is None:
        log.warning(
            "No pinned SHA-512 for Elasticsearch %s; checked the zip's CRCs only "
            "(its SHA-512 is %s)",
            version,
            digest.hexdigest(),
        )
    elif digest.hexdigest() != expected:
        archive.unlink()
        raise ConfigError(
            f"{archive.name}: SHA-512 does not match the pinned digest; the "
            "download was removed, fetch again."
        )
    with zipfile.ZipFile(archive) as zf:
        broken = zf.testzip()
        if broken is not None:
            archive.unlink()
            raise ConfigError(f"{archive.name} is corrupt at {broken}: fetch again.")


def _unpack(archive: Path, target: Path) -> None:
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            # The zip holds one top folder (elasticsearch-<version>/); strip it.
            parts = Path(info.filename).parts[1:]
            if not parts or ".." in parts:
                continue
            dest = staging.joinpath(*parts)
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out)
            mode = (info.external_attr >> 16) & 0o777
            # zipfile drops permission bits; keep them so bin/ scripts stay executable, and
            # let every user read the distribution (the node runs as an unprivileged user).
            dest.chmod((mode or 0o644) | 0o444 | (0o111 if mode & 0o100 else 0))
    for folder in [staging, *[p for p in staging.rglob("*") if p.is_dir()]]:
        folder.chmod(0o755)
    staging.rename(target)


# -- Java -----------------------------------------------------------------------------


def _java_major(home: Path) -> int | None:
    release = home / "release"
    if not release.exists() or not (home / "bin" / "java").exists():
        return None
    match = re.search(r'JAVA_VERSION="(\d+)', release.read_text(errors="replace"))
    return int(match.group(1)) if match else None


def java_home(version: str | None = None) -> Path:
    """Return the JDK to run VERSION on: the setting, ES_JAVA_HOME, or the newest fit JDK.

    Raises:
        ConfigError: no JDK new enough is installed.
    """
    version = version or settings.get("ES_VERSION")
    need = MIN_JAVA.get(int(version.split(".")[0]), 21)
    configured = str(settings.get("ES_JAVA_HOME")) if os.environ.get("QIUZHU_ES_JAVA_HOME") else ""
    configured = configured or os.environ.get("ES_JAVA_HOME", "")
    if configured:
        home = Path(configured)
        major = _java_major(home)
        if major is None or major < need:
            raise ConfigError(
                f"The JDK at {home} is Java {major or 'unknown'}; Elasticsearch {version} needs "
                f"Java {need} or newer. Point QIUZHU_ES_JAVA_HOME at a newer JDK."
            )
        return home
    found = sorted(
        ((major, home) for home in JVM_ROOT.glob("*") if (major := _java_major(home))),
        reverse=True,
    )
    for major, home in found:
        if major >= need:
            return home
    raise ConfigError(
        f"Elasticsearch {version} needs Java {need} or newer and none was found under {JVM_ROOT} "
        f"(found: {', '.join(str(m) for m, _ in found) or 'none'}). Install one or set "
        "QIUZHU_ES_JAVA_HOME."
    )
