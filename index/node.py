"""Configure, start and stop local Elasticsearch nodes.

The server is Elastic's own runnable distribution (see `index.distribution`). Each node
gets its own folder VAR_DIR/es/node-<http port> with config, data, logs and a pid file, so
a test node on another port never touches the demo's data. Nodes bind to 127.0.0.1 only;
security is off because nothing outside this machine can reach them.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from index.distribution import dist_dir, java_home
from qiuzhu import settings
from qiuzhu.errors import ConfigError, Unavailable

log = logging.getLogger(__name__)

#: Nodes this process started, by pid: kept so they can be reaped (no zombies, no warnings).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class NodeSpec:
    """Where one local node listens and keeps its files."""

    name: str
    http_port: int
    transport_port: int
    home: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "es.pid"

    @property
    def console_log(self) -> Path:
        return self.home / "logs" / "console.log"


def node_specs(count: int = 1) -> list[NodeSpec]:
    """Return the specs of COUNT local nodes on consecutive ports from the settings."""
    http: int = settings.get("ES_HTTP_PORT")
    transport: int = settings.get("ES_TRANSPORT_PORT")
    return [
        NodeSpec(
            name=f"node-{http + i}",
            http_port=http + i,
            transport_port=transport + i,
            home=settings.var_dir("es", f"node-{http + i}"),
        )
        for i in range(count)
    ]


# -- configuration --------------------------------------------------------------------


def _write_config(spec: NodeSpec, all_specs: list[NodeSpec], cluster_name: str, dist: Path) -> Path:
    conf = spec.home / "config"
    (conf / "jvm.options.d").mkdir(parents=True, exist_ok=True)
    for name in (
        "jvm.options",
        "log4j2.properties",
        "roles.yml",
        "role_mapping.yml",
        "users",
        "users_roles",
    ):
        src = dist / "config" / name
        if src.exists():
            shutil.copyfile(src, conf / name)
    lines = {
        "cluster.name": cluster_name,
        "node.name": spec.name,
        "path.data": str(spec.home / "data"),
        "path.logs": str(spec.home / "logs"),
        "network.host": "127.0.0.1",
        "http.port": spec.http_port,
        "transport.port": spec.transport_port,
        # Loopback only, so nothing outside this machine can reach the unsecured node.
        "xpack.security.enabled": False,
        "xpack.ml.enabled": False,
        "action.destructive_requires_name": True,
        # Small machines run with little free disk; keep allocating until it is really full.
        "cluster.routing.allocation.disk.watermark.low": "97%",
        "cluster.routing.allocation.disk.watermark.high": "98%",
        "cluster.routing.allocation.disk.watermark.flood_stage": "99%",
    }
    yml = [f"{key}: {json.dumps(value)}" for key, value in lines.items()]
    if len(all_specs) == 1:
        yml.append('discovery.type: "single-node"')
    else:
        seeds = [f"127.0.0.1:{s.transport_port}" for s in all_specs]
        yml.append(f"discovery.seed_hosts: {json.dumps(seeds)}")
        if not (spec.home / "data" / "_state").exists():
            masters = [s.name for s in all_specs]
            yml.append(f"cluster.initial_master_nodes: {json.dumps(masters)}")
    (conf / "elasticsearch.yml").write_text("\n".join(yml) + "\n")
    heap = settings.get("ES_HEAP")
    (conf / "jvm.options.d" / "qiuzhu-heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
    return conf


def _es_user() -> pwd.struct_passwd | None:
    """Return the unprivileged user to run nodes as when we are root, creating it once."""
    if os.geteuid() != 0:
        return None
    name = settings.get("ES_USER")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ConfigError(
            f"Could not create the system user {name!r} that runs Elasticsearch: "
            f"{result.stderr.strip()}"
        )
    log.info("Created system user %s to run Elasticsearch (it refuses to run as root)", name)
    return pwd.getpwnam(name)


def _grant_traverse(path: Path) -> None:
    """Let other users pass through (not list) every folder above PATH."""
    for parent in [*reversed(path.parents)]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            log.warning(
                "Granting others search (x) permission on %s so the node can reach %s", parent, path
            )
            parent.chmod(mode | stat.S_IXOTH)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid)


# -- processes ------------------------------------------------------------------------


def _read_pid(spec: NodeSpec) -> int | None:
    try:
        pid = int(spec.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    child = _CHILDREN.get(pid)
    if child is not None:
        return pid if child.poll() is None else None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def health(url: str, timeout: float = 2.0, wait_for: str | None = None) -> dict | None:
    """Return the cluster health at URL, or None when nothing answers."""
    query = f"?wait_for_status={wait_for}&timeout=1s" if wait_for else ""
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health{query}", timeout=timeout) as resp:
            body: dict = json.load(resp)
            return body
    except (urllib.error.URLError, OSError, ValueError):
        return None


def start(count: int = 1, timeout: float | None = None) -> list[NodeSpec]:
    """Start COUNT local nodes (a cluster when more than one) and wait for green or yellow.

    Nodes already running are left as they are.

    Raises:
        ConfigError: not fetched yet, no suitable Java, a port taken by something else.
        Unavailable: a node exited or the cluster did not turn healthy in time.
    """
    version = settings.get("ES_VERSION")
    dist = dist_dir(version)
    if not (dist / "bin" / "elasticsearch").exists():
        raise ConfigError(f"Elasticsearch {version} is not downloaded yet: run `qiuzhu es fetch`.")
    jdk = java_home(version)
    specs = node_specs(count)
    user = _es_user()
    cluster_name = f"qiuzhu-{specs[0].http_port}"
    started: list[tuple[NodeSpec, subprocess.Popen[bytes]]] = []
    for spec in specs:
        if _read_pid(spec) is not None:
            log.info("%s is already running at %s", spec.name, spec.url)
            continue
        for port in (spec.http_port, spec.transport_port):
            if _port_open(port):
                raise ConfigError(
                    f"Port {port} on 127.0.0.1 is taken by another program, so {spec.name} cannot "
                    "start: stop it, or set QIUZHU_ES_HTTP_PORT / QIUZHU_ES_TRANSPORT_PORT."
                )
        for sub in ("data", "logs", "tmp"):
            (spec.home / sub).mkdir(parents=True, exist_ok=True)
        conf = _write_config(spec, specs, cluster_name, dist)
        if user is not None:
            _grant_traverse(spec.home)
            _grant_traverse(dist)
            _chown_tree(spec.home, user.pw_uid, user.pw_gid)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_JAVA_HOME": str(jdk),
            "ES_PATH_CONF": str(conf),
            "ES_TMPDIR": str(spec.home / "tmp"),
            "HOME": str(spec.home),
            "LANG": "C.UTF-8",
        }
        console = spec.console_log.open("ab")
        proc = subprocess.Popen(
            [str(dist / "bin" / "elasticsearch")],
            env=env,
            stdout=console,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
        console.close()
        spec.pid_file.write_text(f"{proc.pid}\n")
        _CHILDREN[proc.pid] = proc
        started.append((spec, proc))
        log.info("Starting %s (pid %d) at %s with Java %s", spec.name, proc.pid, spec.url, jdk)
    _wait_healthy(specs, started, timeout or settings.get("ES_START_TIMEOUT"))
    return specs


def _wait_healthy(
    specs: list[NodeSpec], started: list[tuple[NodeSpec, subprocess.Popen[bytes]]], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    want = len(specs)
    while time.monotonic() < deadline:
        for spec, proc in started:
            if proc.poll() is not None:
                raise Unavailable(
                    f"{spec.name} exited with code {proc.returncode} while starting: "
                    f"{_diagnose(spec)}"
                )
        body = health(specs[0].url, wait_for="yellow")
        if (
            body
            and body.get("status") in ("green", "yellow")
            and body.get("number_of_nodes", 0) >= want
        ):
            return
        time.sleep(0.5)
    raise Unavailable(
        f"Elasticsearch at {specs[0].url} was not green or yellow after {timeout:.0f} s: "
        f"{_diagnose(specs[0])}"
    )


def _diagnose(spec: NodeSpec) -> str:
    """Name the likely cause of a failed start from the node's console output."""
    try:
        text = spec.console_log.read_text(errors="replace")[-20000:]
    except OSError:
        text = ""
    causes = [
        ("BindException", "a port is already in use"),
        ("Address already in use", "a port is already in use"),
        ("UnsupportedClassVersionError", "the JDK is too old (set QIUZHU_ES_JAVA_HOME)"),
        ("requires Java", "the JDK is too old (set QIUZHU_ES_JAVA_HOME)"),
        ("can not run elasticsearch as root", "it was started as root"),
        ("AccessDeniedException", "the node's user cannot read or write its folders"),
        ("java.lang.OutOfMemoryError", "the heap is too small (QIUZHU_ES_HEAP)"),
        ("unknown setting", "the generated elasticsearch.yml has a setting this version lacks"),
        ("failed to obtain node locks", "another node is using the same data folder"),
    ]
    # Only error lines: the JVM arguments line names -XX:+ExitOnOutOfMemoryError and the like.
    errors = "\n".join(line for line in text.splitlines() if "ERROR" in line or "Exception" in line)
    for needle, cause in causes:
        if needle in errors:
            return f"{cause}; see {spec.console_log}"
    last = [line for line in text.strip().splitlines() if line.strip()][-1:] or ["no output"]
    return f"see {spec.console_log} (last line: {last[0][:200]})"


def stop(
    count: int | None = None, timeout: float = 60.0, specs: list[NodeSpec] | None = None
) -> list[str]:
    """Stop the local nodes (SPECS, or the first COUNT, or all found); return their names."""
    specs = specs or node_specs(count or _known_node_count())
    stopped = []
    for spec in specs:
        pid = _read_pid(spec)
        if pid is None:
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _read_pid(spec) is not None:
            time.sleep(0.2)
        if _read_pid(spec) is not None:
            log.warning("%s did not stop in %.0f s; killing it", spec.name, timeout)
            os.kill(pid, signal.SIGKILL)
        spec.pid_file.unlink(missing_ok=True)
        stopped.append(spec.name)
    return stopped


def kill(spec: NodeSpec) -> None:
    """Kill one node at once, as a crash would (for failure tests)."""
    pid = _read_pid(spec)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _read_pid(spec) is not None:
            time.sleep(0.1)
        spec.pid_file.unlink(missing_ok=True)


def _known_node_count() -> int:
    http = settings.get("ES_HTTP_PORT")
    count = 0
    while settings.var_dir("es", f"node-{http + count}").exists():
        count += 1
    return max(count, 1)


@dataclass(frozen=True)
class NodeStatus:
    name: str
    url: str
    pid: int | None
    answers: bool


def status() -> tuple[list[NodeStatus], dict | None]:
    """Return each local node's state and the cluster health at ES_URLS (None if down)."""
    nodes = [
        NodeStatus(s.name, s.url, _read_pid(s), health(s.url, timeout=1.0) is not None)
        for s in node_specs(_known_node_count())
    ]
    body = None
    for url in settings.get("ES_URLS"):
        body = health(url, timeout=2.0)
        if body is not None:
            break
    return nodes, body
