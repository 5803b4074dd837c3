"""Session-wide fixtures: the shared data folder, a tiny test model, one Ray instance, S3 servers.

Ray's local start takes seconds and the tiny model takes a minute or two to
build, so both are made once per test session and shared.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

#: fixtures that start Ray or a real round: a test that uses one belongs to the slow lane
SLOW_FIXTURES = frozenset({"ray_session", "ray_module", "start_real_run", "kill_partway", "real_round_config"})


#: Seconds the slowest tests took (setup, call and teardown) in the slow lane on an idle 2-core Intel
#: Xeon (2026-12-08, `pytest -m slow -n 2 --dist loadfile --durations=0`), per file, or per test for
#: SPREAD_FILES. The slow lane hands work out in this order, longest first, so that neither worker
#: starts a four-minute test when the other is almost done. A test not listed counts as 0 and keeps
#: its collection order after these. Only the order matters: a table off by a few seconds costs little.
SLOW_LANE_SECONDS = {
    "tests/cluster/test_soak.py": 263, "tests/loop/test_learning.py": 138, "tests/cluster/test_head_loss.py": 128,
    "tests/cluster/test_jobs_cluster.py": 126, "tests/loop/test_actor_kills.py": 79,
    "tests/cluster/test_schedule_cluster.py": 112, "tests/loop/test_resume.py": 89,
    "tests/loop/test_node_loss.py": 88, "tests/loop/test_round_integration.py": 56,
    "tests/bench/test_bench_smoke.py::test_bench_smoke[round.py]": 78,
    "tests/schedule/test_real_firing.py::test_a_killed_firing_is_completed_by_the_next_tick_without_duplicates": 75,
    "tests/verifier/test_verifier_ranking.py": 72, "tests/models/test_smollm2_round.py": 69,
    "tests/bench/test_bench_smoke.py::test_bench_smoke[generation.py]": 57, "tests/run/test_run_lifecycle.py": 55,
    "tests/engines/test_weight_swap.py": 52, "tests/bench/test_bench_smoke.py::test_bench_smoke[ablation.py]": 52,
    "tests/bench/test_bench_smoke.py::test_bench_smoke[embedded_builds.py]": 46,
    "tests/training/test_train_group.py": 42, "tests/models/test_prepare.py": 40,
    "tests/loop/test_work_rule_round.py": 38, "tests/bench/test_bench_smoke.py::test_bench_smoke[evaluation.py]": 37,
    "tests/loop/test_storage_uri.py": 37, "tests/loop/test_frontier_rounds.py": 37,
    "tests/schedule/test_real_firing.py::test_tick_runs_a_real_round_and_records_the_firing": 37,
}
#: Files whose tests share no module fixture (each is its own subprocess run): their tests are
#: split between the workers one by one. Every other file goes to one worker whole, so a module
#: fixture (a cluster, a server, a finished run's store) is built once.
SPREAD_FILES = frozenset({"tests/bench/test_bench_smoke.py", "tests/schedule/test_real_firing.py"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`pytest -m "not slow"` is the fast lane (no Ray, vLLM or training): a test that starts Ray
    through a fixture without the `slow` mark is a collection error, so the lane cannot rot."""
    unmarked = [item.nodeid for item in items if item.get_closest_marker("slow") is None
                and SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))]
    if unmarked:
        raise pytest.UsageError("these tests use Ray or a real round (" + ", ".join(sorted(SLOW_FIXTURES)) +
                                ") but are not marked slow:\n  " + "\n  ".join(unmarked))
    schedule_longest_first(items)


def schedule_longest_first(items: list[pytest.Item]) -> None:
    """Order the work longest first; the sort is stable, so a file's tests stay together and in order."""
    items.sort(key=lambda item: -SLOW_LANE_SECONDS.get(
        item.nodeid, SLOW_LANE_SECONDS.get(item.nodeid.split("::")[0], 0)))


def work_unit(nodeid: str) -> str:
    """What `--dist loadfile` hands to one worker: the test's file, or the test alone in SPREAD_FILES."""
    file = nodeid.split("::", 1)[0]
    return nodeid if file in SPREAD_FILES else file


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`--dist loadfile`, except that SPREAD_FILES are split test by test (see `work_unit`).

    A scheduler rather than `xdist_group` marks: pytest-xdist 3.8 renames a grouped test's node id
    through an attribute pytest 9 no longer reads, so with `--dist loadgroup` every test was its own
    unit and a file's module fixtures (a whole cluster story) were built on both workers."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SpreadFileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return SpreadFileScheduling(config, log)


@pytest.fixture(name="slow_lane_order", scope="session")
def _slow_lane_order() -> tuple[dict[str, int], frozenset[str]]:
    """SLOW_LANE_SECONDS and SPREAD_FILES, for the test that keeps them naming real tests."""
    return SLOW_LANE_SECONDS, SPREAD_FILES


@pytest.fixture(name="work_unit", scope="session")
def _work_unit() -> object:
    """`work_unit` for the test of the slow lane's schedule (tests/ is not a package)."""
    return work_unit


def tiny_round_config(tmp_path: Path, model: Path, *, samples: int = 2, hinted: int = 4, eval_per_digits: int = 8,
                      eval_samples: int = 0, **overrides: object) -> dict:
    """A real round small enough for 2 CPU cores (about a minute on the tiny model): 1-2 digit sums,
    30 training problems per digit count, `samples` direct and `hinted` rationalized samples.
    The held-out set is answered greedily; `eval_samples` > 0 adds that many sampled answers per
    problem (maj@k, pass@k), off by default because they were about half of a test round's sequences
    and only the tests about them read them.
    Top-level fields (run_name, database, rounds, ...) come from `overrides`."""
    config: dict = {
        "rounds": 1, "model": str(model), "storage": str(tmp_path / "runs"),
        "task": {"name": "arithmetic", "min_digits": 1, "max_digits": 2, "train_per_digits": 30,
                 "eval_per_digits": eval_per_digits},
        "sampling": {"samples_per_problem": samples, "max_new_tokens": 80, "batch_problems": 8},
        "rationalization": {"samples_per_problem": hinted},
        "training": {"base_steps": 4, "batch_size": 8, "learning_rate": 1e-3},
        "evaluation": {"max_new_tokens": 80, "samples": eval_samples},
        "generators": {"max_model_len": 256, "cpu_kv_cache_gb": 1},
        "checker": {"workers": 1},
    }
    config.update(overrides)
    return config


@pytest.fixture(name="tiny_round_config", scope="session")
def _tiny_round_config() -> object:
    """`tiny_round_config` for test modules (tests/ is not a package, so they cannot import it)."""
    return tiny_round_config


#: seed examples per digit count of the tests' tiny model (see `tiny_model`)
TEST_SEED_COUNTS = (100, 300, 120, 20, 0)
TEST_LR_SCHEDULE = "constant_with_warmup"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the tests' pinned tiny arithmetic model: a copy of tests/data/tiny-test-model.

    Set STAR_TEST_MODEL_CACHE to a folder to reuse the copy across sessions while developing.
    """
    from star.models.tiny import ensure_tiny_model

    cache = os.environ.get("STAR_TEST_MODEL_CACHE")
    cache_dir = Path(cache) if cache else tmp_path_factory.mktemp("models")
    # The copy is what every test session and machine starts from; a recipe that no longer matches
    # the shipped one is built instead (test_the_tests_ship_their_pinned_model fails then).
    return ensure_tiny_model(cache_dir, pinned_test_recipe(), progress=False, shipped=TEST_MODEL)


@pytest.fixture(name="tiny_model_recipe", scope="session")
def _tiny_model_recipe() -> object:
    """The recipe of `tiny_model` (tests/ is not a package, so test modules cannot import it)."""
    return pinned_test_recipe()


#: the shipped build of pinned_test_recipe() (its README says how it was made)
TEST_MODEL = Path(__file__).resolve().parent / "data" / "tiny-test-model"


def pinned_test_recipe():
    """A fixed build of the tiny model: it solves most 1-digit and some 2-digit sums, so a round has
    accepted, failed and rationalized problems. Its seed, seed set and schedule are pinned (the demo's
    recipe before 4- and 5-digit seed examples were added) so that the tests' thresholds do not move
    when the demo's recipe is tuned."""
    from star.models.tiny import TinyModelRecipe

    return TinyModelRecipe(seed=1234, seed_counts=TEST_SEED_COUNTS, uneven_counts=(), lr_schedule=TEST_LR_SCHEDULE)



# --- a crash half-way through a round's generation, for the resume and nightly-retry tests --------


def _direct_attempts(db_file: Path) -> int:
    """Direct attempts stored so far, read with plain sqlite3 (no engine or migration check, so it can
    be polled every few milliseconds); 0 while the store or its schema does not exist yet."""
    try:
        with closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=30)) as conn:
            return conn.execute("SELECT count(*) FROM attempts WHERE kind = 'direct'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def kill_partway(proc: subprocess.Popen, db_file: Path, total: int, log: Path, timeout_s: float = 600) -> int:
    """SIGKILL `proc`'s process group (a driver, the Ray it started: a crash) once some but not all of
    a round's `total` direct attempts are stored in the SQLite store `db_file`; returns how many were.

    Polling alone races a fast round (it stored everything between two looks in CI), so once the
    first attempts appear this holds SQLite's write lock: the run cannot store more while it is killed.
    """
    deadline = time.monotonic() + timeout_s
    try:
        while _direct_attempts(db_file) == 0:
            assert proc.poll() is None, f"the run exited before storing an attempt:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no attempt stored within {timeout_s:.0f} s"
            time.sleep(0.02)
        with closing(sqlite3.connect(db_file, timeout=60, isolation_level=None)) as conn:
            conn.execute("BEGIN IMMEDIATE")  # other writers wait for this lock, so the count holds
            stored = conn.execute("SELECT count(*) FROM attempts WHERE kind = 'direct'").fetchone()[0]
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            conn.execute("ROLLBACK")
        assert 0 < stored < total, f"{stored} of {total} attempts stored: the round was not interrupted"
        return stored
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(name="kill_partway", scope="session")
def _kill_partway() -> Callable[..., int]:
    """`kill_partway` for test modules (tests/ is not a package, so they cannot import it)."""
    return kill_partway


@pytest.fixture(scope="session")
def chat_template() -> str:
    """A minimal chat template (`<role>content` lines, then `<assistant>`), for the char tokenizer,
    which has none: enough to tell a rendered chat prompt from the plain text."""
    return ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}<assistant>{% endif %}")

@pytest.fixture(scope="session")
def _local_ray_shutdown() -> Iterator[None]:
    """Shuts the local Ray instance down once, at the end of the session."""
    yield
    import ray

    ray.shutdown()


@pytest.fixture
def ray_session(_local_ray_shutdown: None) -> Iterator[None]:
    """One private local Ray instance shared by the session's tests (Ray picks free ports; Redis owns 6379).

    address="local": never join a cluster this machine started earlier (or a
    dead one recorded in a stale /tmp/ray/ray_current_cluster).

    Started on first use and again after a test shut it down (tests of a
    multi-node cluster must disconnect from it: a driver joins one cluster at a time).
    """
    _connect_local_ray()
    yield


@pytest.fixture(scope="module")
def ray_module(_local_ray_shutdown: None) -> Iterator[None]:
    """`ray_session` for a module fixture (a real run that several tests of one file read)."""
    _connect_local_ray()
    yield


def _connect_local_ray() -> None:
    import ray

    from star.run.ray_start import start_ray

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    if not ray.is_initialized():  # started as `star run` starts it, retried if the node misses Ray's 30 s
        start_ray("local", log=print, num_cpus=2, log_to_driver=False)


# --- a real S3-compatible server (moto's), for tests/storage and the S3 round in tests/loop --------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(name="free_port")
def _free_port_fixture() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for an unreachable endpoint)."""
    return _free_port()


@dataclass
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    process: subprocess.Popen

    def env(self) -> dict[str, str]:
        """The AWS variables that point star (pyarrow) and boto3 at this server."""
        return {"AWS_ACCESS_KEY_ID": "star-test", "AWS_SECRET_ACCESS_KEY": "star-test-secret",
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_EC2_METADATA_DISABLED": "true"}  # never ask an instance-metadata service

    def new_bucket(self) -> str:
        """A fresh bucket's name (test setup only: star itself talks to the server through pyarrow)."""
        import boto3

        env = self.env()
        client = boto3.client("s3", endpoint_url=self.endpoint, region_name=env["AWS_REGION"],
                              aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        bucket = f"star-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=bucket)
        return bucket

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_moto(env: dict[str, str] | None = None) -> S3Server:
    """Start `python -m moto.server` and wait until it answers (it takes a second or two to import)."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install 'moto[server]>=5')")
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode} before answering")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return S3Server(f"http://127.0.0.1:{port}", process)
        except OSError:
            time.sleep(0.1)
    S3Server("", process).stop()
    raise RuntimeError("moto server did not answer within 60 s")


@pytest.fixture(name="start_s3_server", scope="session")
def _start_s3_server() -> Callable[..., S3Server]:
    """`start_moto` for test modules (tests/ is not a package, so they cannot import it); stop it with .stop()."""
    return start_moto


@pytest.fixture(scope="module")
def moto_server() -> Iterator[S3Server]:
    server = start_moto()
    yield server
    server.stop()


# --- headless Chromium, for the report's and the web view's browser tests ------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@contextmanager
def headless_chromium(window: str = "1280,1000") -> Iterator[object]:
    """A Selenium driver of Debian's headless Chromium (scripts/ensure_chromium.sh installs it)."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} is missing; install them with `bash scripts/ensure_chromium.sh`")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={window}", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager never looks for (or downloads) a driver.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(name="headless_chromium", scope="session")
def _headless_chromium() -> Callable[..., object]:
    """`headless_chromium` for test modules (tests/ is not a package, so they cannot import it)."""
    return headless_chromium
