"""A real multi-process Ray cluster for the session: a head and a worker node, token auth on.

`ray start --head` and `ray start --address` run as child processes of the
test session (`--block`, each in its own process group), on free ports for
everything they open (Redis holds 6379 on this machine and another Ray may
hold defaults such as the dashboard agent's 52365, which would silently
disable job submission), with their own temp dir and a private HOME, so the
real ~/.ray is never read or written. Every process of the cluster inherits
a mark in its environment (STAR_TEST_CLUSTER=<temp dir>, STAR_TEST_NODE=head
or worker), which is how exactly these processes are found and stopped at the
end, including the workers Ray starts in sessions of their own. `ray stop` is
never used: it stops every Ray on the machine.

Fixture API, for every test under tests/cluster/ (`ray_cluster` is the session's; `own_cluster`
is a test's own, for a test that breaks it):

    ray_cluster -> RayTestCluster
        .gcs_address        "127.0.0.1:PORT"        (ray.init(address=...) / --set ray_address=...)
        .dashboard_url      "http://127.0.0.1:PORT" (the job server: star submit --address ...)
        .token              the cluster's auth token
        .env                environment for subprocesses talking to the cluster: a private HOME,
                            RAY_AUTH_MODE=token, RAY_AUTH_TOKEN, RAY_ADDRESS=dashboard_url,
                            PATH and PYTHONPATH reaching this checkout's `star`
        .temp_dir           the cluster's --temp-dir
        .worker_resource    "worker_node": the custom resource only the second node has
        .kill_worker_node() SIGKILL the second node's processes (a lost node)
        .lose_head()        SIGKILL every process of the cluster, as when its head node is lost
        .start_head()       start a (new) head on new ports; .gcs_address, .dashboard_url and .env follow
        .start_head(same_address=True)  start it again on the lost head's ports, as a head that comes back
                            at the same address (a DNS name, a Kubernetes service) does
        .start_worker_node() start a (new) second node; waits until it is alive
        .alive_nodes()      how many nodes the GCS reports alive
        .job_status(id)     a job's Ray status, straight from the job server
        .job_ids(prefix)    the submission ids the job server knows, running or ended
        .job_logs(id)       a job's driver log so far
        .driver_pid(id)     the pid of a running job's driver (the `star run` process), or None
        .actor_pids(name)   pids of the live actors of one class (GeneratorActor, CheckerActor, ...)
        .stop_job(id)       stop a job through the job server at once (no CLI start-up on a busy machine)
        .star(*args, env=None, timeout=...) -> CompletedProcess: run the `star` CLI against it
        .start_star(*args, env=None) -> Popen: the same, not waited for, in a process group of its own
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 120
START_TRIES = 3  # `ray start` runs per node before a start-up failure is the test's
WORKER_RESOURCE = "worker_node"
CLUSTER_MARK = "STAR_TEST_CLUSTER"  # in every cluster process's environment: this cluster's temp dir
NODE_MARK = "STAR_TEST_NODE"  # head or worker


def free_ports(count: int) -> list[int]:
    """Ports the OS hands out as free right now (all held open together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def node_ports(head: bool) -> list[str]:
    """`ray start` flags giving every port the node opens a free one."""
    names = ["--node-manager-port", "--object-manager-port", "--metrics-export-port",
             "--runtime-env-agent-port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port"]
    if head:
        names += ["--port", "--dashboard-port", "--ray-client-server-port"]
    ports = free_ports(len(names) + 16)
    flags = [f"{name}={port}" for name, port in zip(names, ports)]
    flags.append("--worker-port-list=" + ",".join(str(p) for p in ports[len(names):]))
    return flags


@dataclass
class RayTestCluster:
    temp_dir: Path
    home: Path
    token: str
    gcs_address: str = ""
    dashboard_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    worker_resource: str = WORKER_RESOURCE
    _nodes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _tries: dict[str, int] = field(default_factory=dict)  # starts of each node since it last came up
    _head_flags: list[str] = field(default_factory=list)  # the last head's port flags
    _worker_starts: int = 0  # worker node starts so far: each gets a temp dir of its own

    # -- starting and stopping ---------------------------------------------------

    def start_head(self, same_address: bool = False) -> None:
        flags = self._head_flags if same_address and self._head_flags else node_ports(head=True)
        self._head_flags = flags
        port = next(f for f in flags if f.startswith("--port=")).split("=")[1]
        dash = next(f for f in flags if f.startswith("--dashboard-port=")).split("=")[1]
        self.gcs_address = f"127.0.0.1:{port}"
        self.dashboard_url = f"http://127.0.0.1:{dash}"
        self.env["RAY_ADDRESS"] = self.dashboard_url
        self._start("head", ["--head", "--node-ip-address=127.0.0.1", "--include-dashboard=true",
                             "--dashboard-host=127.0.0.1", "--num-cpus=2", "--num-gpus=0", *flags])
        if not self._wait("head", lambda: self._jobs_api_ready(), "the head's job server"):
            self._discard("head")  # half-started
            if same_address:  # the ports may still be held for a moment by the lost head's sockets
                time.sleep(5)
            self.start_head(same_address)  # otherwise on new ports: the exited head's may not be free yet

    def start_worker_node(self) -> None:
        self._start("worker", [f"--address={self.gcs_address}", "--node-ip-address=127.0.0.1",
                               "--num-cpus=1", "--num-gpus=0",
                               f"--resources={json.dumps({WORKER_RESOURCE: 1})}", *node_ports(head=False)])
        if not self._wait("worker", lambda: self.alive_nodes() == 2, "the worker node"):
            self._discard("worker")
            self.start_worker_node()

    def kill_worker_node(self) -> None:
        """SIGKILL every process of the worker node (raylet, agents, its workers): the node is lost."""
        if "worker" in self._nodes:
            self._discard("worker")

    def lose_head(self) -> None:
        """SIGKILL the head node's processes, the job drivers on it included: Ray's GCS is gone, and the
        worker nodes with it (they would exit once they cannot reach it; here they go at once)."""
        for name in ("head", "worker"):
            process = self._nodes.pop(name, None)
            _kill_marked({f"{CLUSTER_MARK}={self.temp_dir}"}, signal.SIGKILL)
            if process is not None:
                process.wait(timeout=30)

    def stop(self) -> None:
        """Stop exactly this cluster: each node gracefully, then anything left that carries its mark."""
        for name in ("worker", "head"):
            process = self._nodes.pop(name, None)
            if process is None:
                continue
            _signal_group(process.pid, signal.SIGTERM)  # `ray start --block` stops what it started
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        # Ray starts workers (and vLLM its engine processes) in sessions of their own.
        _kill_marked({f"{CLUSTER_MARK}={self.temp_dir}"}, signal.SIGKILL)

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.temp_dir / f"{name}-start.log", "ab")
        command = [str(BIN / "ray"), "start", "--block", f"--temp-dir={self._node_temp_dir(name)}",
                   "--object-store-memory=200000000", "--disable-usage-stats", *args]
        # Every process of the node inherits these marks: they are how it is found and stopped.
        env = {**self.env, CLUSTER_MARK: str(self.temp_dir), NODE_MARK: name}
        self._nodes[name] = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)

    def _node_temp_dir(self, name: str) -> Path:
        """The head's temp dir is the cluster's; each worker node start gets one of its own, as a machine of
        its own would. Nodes sharing one would share the unpacked job packages (working_dir) there, and a
        node that joins re-unpacks them in place: it deletes the folder that the other nodes' workers run
        in, and their relative paths (a job's model, `model/`) stop resolving."""
        if name == "head":
            return self.temp_dir
        self._worker_starts += 1
        return self.temp_dir / f"n{self._worker_starts}"  # short: unix socket paths are bounded

    def _wait(self, name: str, ready, what: str) -> bool:  # type: ignore[no-untyped-def]
        """True once `ready()`; False when node `name`'s start failed and it may be started again.

        On a busy machine `ray start` can exit at once when the GCS answers its first call too late
        ("Failed to get node info: Deadline Exceeded"), or hang in start-up past START_TIMEOUT_S;
        Ray does not retry either, so the test does, up to START_TRIES times, as an operator would."""
        self._tries[name] = self._tries.get(name, 0) + 1
        deadline = time.monotonic() + START_TIMEOUT_S
        up = False
        while time.monotonic() < deadline:
            exited = [n for n, p in self._nodes.items() if p.poll() is not None]
            up = not exited and ready()
            if exited or up:  # another node dying meanwhile is not this start's to retry
                break
            time.sleep(0.5)
        else:
            exited = [name]  # hung in start-up: as good as exited
        if up:
            self._tries[name] = 0
            return True
        if exited == [name] and self._tries[name] < START_TRIES:
            return False
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in self.temp_dir.glob("*-start.log"))
        raise RuntimeError(f"{what} did not come up in {self._tries[name]} starts of up to "
                           f"{START_TIMEOUT_S}s:\n{logs}")

    def _discard(self, name: str) -> None:
        """SIGKILL a node and everything it started (a lost node, or one whose start failed or hung)."""
        process = self._nodes.pop(name)
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        _kill_marked({f"{NODE_MARK}={name}", f"{CLUSTER_MARK}={self.temp_dir}"}, signal.SIGKILL)

    # -- looking at it ---------------------------------------------------------------

    def _get(self, path: str) -> object | None:
        import requests

        try:
            response = requests.get(self.dashboard_url + path, timeout=5,
                                    headers={"Authorization": f"Bearer {self.token}"})
        except requests.RequestException:
            return None
        return response.json() if response.status_code == 200 else None

    def _jobs_api_ready(self) -> bool:
        return isinstance(self._get("/api/jobs/"), list)

    def job_status(self, submission_id: str) -> str | None:
        """The Ray status of a job (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED); None if unknown."""
        body = self._get(f"/api/jobs/{submission_id}")
        return body.get("status") if isinstance(body, dict) else None

    def job_ids(self, prefix: str = "") -> list[str]:
        """Submission ids of every job the job server knows (running or ended) that start with `prefix`."""
        jobs = self._get("/api/jobs/")
        ids = [job.get("submission_id") or "" for job in jobs] if isinstance(jobs, list) else []
        return sorted(i for i in ids if i.startswith(prefix))

    def stop_job(self, submission_id: str) -> bool:
        """Ask the job server to stop a job now (what `star jobs stop` does, without a CLI start-up)."""
        import requests

        response = requests.post(f"{self.dashboard_url}/api/jobs/{submission_id}/stop", timeout=10,
                                 headers={"Authorization": f"Bearer {self.token}"})
        return response.status_code == 200 and bool(response.json().get("stopped"))

    def job_logs(self, submission_id: str) -> str:
        """A job's driver log so far ("" when the job server does not know the job)."""
        body = self._get(f"/api/jobs/{submission_id}/logs")
        return str(body.get("logs", "")) if isinstance(body, dict) else ""

    def driver_pid(self, submission_id: str) -> int | None:
        """The pid of a job's driver, the process that connected to Ray (None before it has)."""
        body = self._get(f"/api/jobs/{submission_id}")
        driver = body.get("driver_info") if isinstance(body, dict) else None
        return int(driver["pid"]) if isinstance(driver, dict) and driver.get("pid") else None

    def actor_pids(self, class_name: str) -> list[int]:
        """Pids of the live actors of `class_name`, from the cluster's state API."""
        body = self._get(f"/api/v0/actors?limit=1000&filter_keys=class_name&filter_predicates=%3D"
                         f"&filter_values={class_name}")
        actors = body.get("data", {}).get("result", {}).get("result", []) if isinstance(body, dict) else []
        return sorted(int(a["pid"]) for a in actors if a.get("state") == "ALIVE" and a.get("pid"))

    def alive_nodes(self) -> int:
        body = self._get("/api/v0/nodes?limit=100")
        if not isinstance(body, dict):
            return 0
        nodes = body.get("data", {}).get("result", {}).get("result", [])
        return sum(node.get("state") == "ALIVE" for node in nodes)

    def star(self, *args: str, env: dict[str, str] | None = None,
             timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run the `star` CLI of this checkout with the cluster's environment (or `env`)."""
        return subprocess.run([str(BIN / "star"), *args], env=self.env if env is None else env,
                              capture_output=True, text=True, timeout=timeout, cwd=self.home)

    def start_star(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start the `star` CLI without waiting, in a process group of its own (its pid is the group's)."""
        return subprocess.Popen([str(BIN / "star"), *args], env=self.env if env is None else env, cwd=self.home,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def marked_pids(marks: set[str]) -> list[int]:
    """Processes whose environment holds every one of `marks` (NAME=VALUE)."""
    wanted = {mark.encode() for mark in marks}
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = set((proc / "environ").read_bytes().split(b"\0"))
        except OSError:
            continue
        if wanted <= environ:
            pids.append(int(proc.name))
    return pids


def _kill_marked(marks: set[str], sig: int) -> None:
    for pid in marked_pids(marks):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def cluster_env(home: Path, token: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "STAR_DATABASE"))}
    return {
        **keep,
        "HOME": str(home),
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
    }


@contextmanager
def two_node_cluster() -> Iterator[RayTestCluster]:
    """A started two-node Ray cluster with the job server and token auth, stopped and removed after."""
    temp_dir = Path(tempfile.mkdtemp(prefix="stc-", dir="/tmp"))  # short: unix socket paths are bounded
    home = temp_dir / "home"
    home.mkdir()
    token = secrets.token_hex(32)
    cluster = RayTestCluster(temp_dir=temp_dir, home=home, token=token, env=cluster_env(home, token))
    try:
        cluster.start_head()
        cluster.start_worker_node()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayTestCluster]:
    """The session's two-node Ray cluster with the job server and token auth (see the module doc)."""
    with two_node_cluster() as cluster:
        yield cluster


@pytest.fixture
def own_cluster() -> Iterator[RayTestCluster]:
    """A cluster of the test's own, for a test that breaks it (loses its head)."""
    with two_node_cluster() as cluster:
        yield cluster


def _load_db_fixtures():  # type: ignore[no-untyped-def]
    """tests/db/conftest.py's PostgreSQL fixtures (tests/ is not a package, so load it by path)."""
    import importlib.util

    path = REPO / "tests" / "db" / "conftest.py"
    spec = importlib.util.spec_from_file_location("star_tests_db_conftest", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# A PostgreSQL database for this session, dropped at the end: the store a cluster job writes to.
_DB_FIXTURES = _load_db_fixtures()
pg_database = _DB_FIXTURES.pg_database
pg_url = _DB_FIXTURES.pg_url  # an empty schema of it, for one test
