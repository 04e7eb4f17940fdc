"""Local Elasticsearch nodes: Java choice, clear errors when a start cannot work."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from index import distribution, node
from qiuzhu.errors import ConfigError


def _fake_jdk(root: Path, name: str, major: int) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'JAVA_VERSION="{major}.0.1"\n')
    return home


def test_java_home_picks_the_newest_jdk_new_enough(tmp_path, monkeypatch):
    monkeypatch.delenv("QIUZHU_ES_JAVA_HOME", raising=False)
    monkeypatch.delenv("ES_JAVA_HOME", raising=False)
    monkeypatch.setattr(distribution, "JVM_ROOT", tmp_path)
    _fake_jdk(tmp_path, "jdk-17", 17)
    newest = _fake_jdk(tmp_path, "jdk-25", 25)
    _fake_jdk(tmp_path, "jdk-21", 21)
    assert distribution.java_home("9.5.4") == newest


def test_java_home_refuses_a_jdk_too_old_with_what_to_set(tmp_path, monkeypatch):
    old = _fake_jdk(tmp_path, "jdk-17", 17)
    monkeypatch.setenv("QIUZHU_ES_JAVA_HOME", str(old))
    with pytest.raises(ConfigError, match=r"Java 17.*needs Java 21.*QIUZHU_ES_JAVA_HOME"):
        distribution.java_home("9.5.4")


def test_java_home_says_when_no_jdk_fits(tmp_path, monkeypatch):
    monkeypatch.delenv("QIUZHU_ES_JAVA_HOME", raising=False)
    monkeypatch.delenv("ES_JAVA_HOME", raising=False)
    monkeypatch.setattr(distribution, "JVM_ROOT", tmp_path)
    _fake_jdk(tmp_path, "jdk-17", 17)
    with pytest.raises(ConfigError, match="needs Java 21 or newer and none was found"):
        distribution.java_home("9.5.4")


def test_start_before_fetch_says_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("QIUZHU_VAR_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="qiuzhu es fetch"):
        node.start(1)


def test_start_on_a_taken_port_names_the_port_and_the_setting(es_urls, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        monkeypatch.setenv("QIUZHU_ES_HTTP_PORT", str(port))
        monkeypatch.setenv("QIUZHU_ES_TRANSPORT_PORT", str(port + 1))
        with pytest.raises(ConfigError, match=rf"Port {port} .*QIUZHU_ES_HTTP_PORT"):
            node.start(1)


def test_node_config_is_loopback_only_with_explicit_heap(tmp_path):
    spec = node.NodeSpec("node-1", 9999, 9998, tmp_path / "n")
    conf = node._write_config(spec, [spec], "c", distribution.dist_dir())
    yml = (conf / "elasticsearch.yml").read_text()
    assert 'network.host: "127.0.0.1"' in yml
    assert "xpack.security.enabled: false" in yml
    assert 'discovery.type: "single-node"' in yml
    assert "-Xmx" in (conf / "jvm.options.d" / "qiuzhu-heap.options").read_text()


def test_cluster_config_seeds_every_node(tmp_path):
    specs = [node.NodeSpec(f"n{i}", 9990 + i, 9980 + i, tmp_path / f"n{i}") for i in range(3)]
    yml = node._write_config(specs[1], specs, "c", distribution.dist_dir()) / "elasticsearch.yml"
    text = yml.read_text()
    assert '"127.0.0.1:9980", "127.0.0.1:9981", "127.0.0.1:9982"' in text
    assert 'cluster.initial_master_nodes: ["n0", "n1", "n2"]' in text


def test_session_node_is_healthy_and_reports_its_version(es_client):
    health = es_client.cluster.health()
    assert health["status"] in ("green", "yellow")
    version = es_client.nodes.info()["nodes"].popitem()[1]["version"]
    from qiuzhu import settings

    assert version == settings.get("ES_VERSION")
