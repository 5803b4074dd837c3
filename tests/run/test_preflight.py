"""Which Ray `star run` joins, and the checks a multi-node cluster must pass."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from star.run.preflight import (
    PROBE_CONNECT_TIMEOUT_S,
    ClusterError,
    Node,
    check_store_for_cluster,
    probe_ray_address,
    resolve_ray_address,
    storage_problems,
)

REPO = Path(__file__).resolve().parents[2]
TWO_NODES = Path(__file__).with_name("two_node_cluster.py")


def _dead_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_tmp(monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private Ray temp dir (short: Ray's socket paths must fit in 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    monkeypatch.setenv("RAY_TMPDIR", str(path))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    return path


def test_no_address_is_a_private_local_instance_even_with_a_stale_cluster_file(ray_tmp: Path) -> None:
    (ray_tmp / "ray").mkdir()
    (ray_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{_dead_port()}")
    assert resolve_ray_address(None)[0] == "local"


def test_auto_resolves_like_ray(ray_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ClusterError, match=r"ray_address is 'auto' but no Ray cluster is recorded .*"
                                           r"ray_current_cluster is missing\); start one with `ray start --head`"):
        resolve_ray_address("auto")
    (ray_tmp / "ray").mkdir()
    (ray_tmp / "ray" / "ray_current_cluster").write_text("10.1.2.3:6380\n")
    assert resolve_ray_address("auto") == ("10.1.2.3:6380", f"ray_address 'auto' via {ray_tmp}/ray/ray_current_cluster")
    monkeypatch.setenv("RAY_ADDRESS", "10.9.9.9:6379")  # the job supervisor sets it for drivers
    assert resolve_ray_address("auto")[0] == "10.9.9.9:6379"
    assert resolve_ray_address("10.0.0.1:1234")[0] == "10.0.0.1:1234"  # explicit beats the variable


def test_a_dead_address_fails_in_seconds_with_one_line(ray_tmp: Path) -> None:
    port = _dead_port()
    (ray_tmp / "ray").mkdir()
    (ray_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}")
    connects = []
    real_connect = socket.create_connection

    def counted(address, timeout=None, *args, **kwargs):
        connects.append((address, timeout))
        return real_connect(address, timeout, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(ClusterError) as err:
        patch.setattr(socket, "create_connection", counted)
        probe_ray_address(*resolve_ray_address("auto"))
    # in seconds, by construction: one connection attempt with a bounded timeout, never Ray's minutes of retries
    assert connects == [(("127.0.0.1", port), PROBE_CONNECT_TIMEOUT_S)] and PROBE_CONNECT_TIMEOUT_S <= 5
    message = str(err.value)
    assert "\n" not in message
    assert f"no Ray cluster answers at 127.0.0.1:{port} (ray_address 'auto' via {ray_tmp}/ray/ray_current_cluster)" in message
    assert "a stale" in message and "leave ray_address unset to start Ray locally" in message
    with pytest.raises(ClusterError, match="is not HOST:PORT"):
        probe_ray_address("just-a-host", "ray_address 'just-a-host'")


NODES = [Node("a" * 56, "head", "10.0.0.1"), Node("b" * 56, "gpu-1", "10.0.0.2")]


def test_sqlite_is_refused_on_more_than_one_node() -> None:
    check_store_for_cluster("sqlite", NODES[:1])
    check_store_for_cluster("postgresql", NODES)
    with pytest.raises(ClusterError, match="the store is SQLite but the Ray cluster has 2 alive nodes.*use PostgreSQL"):
        check_store_for_cluster("sqlite", NODES)


def test_storage_decision_names_the_node_that_cannot_see_the_probe() -> None:
    reads = {NODES[0].label(): ("tok", ""), NODES[1].label(): (None, "cannot read /shared/x (No such file or directory)")}
    assert storage_problems("tok", reads) == {NODES[1].label(): "cannot read /shared/x (No such file or directory)"}
    other_disk = {NODES[0].label(): ("tok", ""), NODES[1].label(): ("another", "")}
    assert "not the same shared folder" in storage_problems("tok", other_disk)[NODES[1].label()]
    assert storage_problems("tok", {NODES[0].label(): ("tok", "")}) == {}


def _in_private_ray(script: list[str], ray_tmp: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_TMPDIR": str(ray_tmp),
           "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run([sys.executable, *script], env=env, capture_output=True, text=True, timeout=timeout)


INIT = """
import sys, time
import ray
from star.run.ray_start import init_ray
from star.config import load_config
start = time.monotonic()
init_ray(load_config(None, {"ray_address": sys.argv[1]} if sys.argv[1] != "none" else {}))
print("joined", ray.get_runtime_context().gcs_address, round(time.monotonic() - start, 1))
ray.shutdown()
"""


@pytest.mark.slow
def test_init_ray_ignores_a_stale_cluster_file_and_auto_fails_fast(ray_tmp: Path) -> None:
    (ray_tmp / "ray").mkdir()
    stale = f"127.0.0.1:{_dead_port()}"
    (ray_tmp / "ray" / "ray_current_cluster").write_text(stale)
    auto = _in_private_ray(["-c", INIT, "auto"], ray_tmp, timeout=60)
    assert auto.returncode != 0
    assert f"ClusterError: no Ray cluster answers at {stale}" in auto.stderr
    local = _in_private_ray(["-c", INIT, "none"], ray_tmp)
    assert local.returncode == 0, local.stderr[-3000:]
    assert "joined" in local.stdout and stale not in local.stdout


@pytest.mark.slow
def test_two_node_cluster_sees_shared_storage_and_refuses_sqlite(ray_tmp: Path, tmp_path: Path) -> None:
    done = _in_private_ray([str(TWO_NODES), str(tmp_path / "checkpoints")], ray_tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    assert lines["nodes"] == "2"
    assert lines["storage"] == "visible from every node"
    # A file no node can read: each node is named, so the tasks really ran one per node.
    named = [part for part in lines["missing"].split("; ") if "cannot read" in part and "no-such-probe" in part]
    assert len(named) == 2 and len({part.split(": ")[0] for part in named}) == 2
    assert "the store is SQLite but the Ray cluster has 2 alive nodes" in lines["sqlite"]
    assert not list((tmp_path / "checkpoints").glob(".star-probe-*"))  # the probe cleans up
