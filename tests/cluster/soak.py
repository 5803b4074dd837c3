"""The chaos soak: a month of nightly rounds on a real two-node cluster, one seeded failure a night.

    .venv/bin/python tests/cluster/soak.py --nights 30 --seed 0        # the soak of docs/cluster.md
    .venv/bin/python tests/cluster/soak.py --nights 3 --kinds generator,scheduler --reference

Each night is a slot of a nightly schedule (`0 2 * * *`, `--address`: the round runs as a Ray job on
the cluster, against PostgreSQL) fired by `star schedule tick --now SLOT+1min`. A seeded plan
(`plan_nights`) gives every night one failure and the moment it lands: a share of the round's attempts
stored, or, for the trainer, its process busy training. The soak injects it as an operator would meet
it (SIGKILL, `ray job stop`, a lost node or head) and does what an operator does afterwards: start a
lost node again, and keep the scheduler ticking (each tick a later `--now`, so a failed firing's
retry is due). After every night it asserts that `star db check` is clean and that the night's slot
fired exactly once and succeeded with the night's round.

With `--reference` the script first runs as many quiet nights in a store of their own, and compares
each night's held-out accuracy and accepted set with them. It starts its own cluster and databases;
`tests/cluster/test_soak.py` runs three nights and their reference on a cluster of the test's own.
Neither `ray stop`s anything it did not start.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from a checkout

from soak_plan import FAULTS, QUIET, Fault, NightResult, compare_runs, plan_nights, print_table

from db.engine import open_store, session_factory
from db.models import Attempt, Firing, Problem, Round, Run, Schedule, utcnow
from star.schedule import cron

CRON = "0 2 * * *"  # nightly; night n is the schedule's first slot plus n days
SCHEDULE = "soak"
LEASE_S = 10  # the scheduler's lease on a firing: a killed scheduler's claim runs out this fast
TICK_PAUSE_S = 5  # between a tick that returned and the next, while the night is not done
NIGHT_TIMEOUT_S = 1800  # guards against a hang only: a night this long fails the soak
ACTOR_CLASSES = {"generator": "GeneratorActor", "checker": "CheckerActor", "trainer": "TrainerActor"}


@dataclass
class Soak:
    """The cluster, the store and the schedule the nights run on."""

    cluster: Any  # tests/cluster/conftest.py's RayTestCluster
    db_url: str
    config: dict
    workdir: Path
    name: str = SCHEDULE  # the schedule's and its run's name
    log: Callable[[str], None] = print
    results: list[NightResult] = field(default_factory=list)
    errors: dict[datetime, list[str]] = field(default_factory=dict)  # per slot: its failed tries' errors

    def __post_init__(self) -> None:
        self.env = {**self.cluster.env, "STAR_DATABASE_URL": self.db_url}
        task = self.config["task"]
        digits = task["max_digits"] - task["min_digits"] + 1
        # what a done round stores of the kinds every round has: K direct samples per training problem
        # and one greedy answer per held-out problem
        samples = self.config["sampling"]["samples_per_problem"]
        self.expected_counts = {"direct": digits * task["train_per_digits"] * samples,
                                "eval": digits * task["eval_per_digits"]}
        self.expected = sum(self.expected_counts.values())

    # -- set-up ---------------------------------------------------------------------------------

    def add_schedule(self) -> None:
        """The store at head and the nightly schedule: quick retries, so a failed firing is retried within
        its night (each soak tick moves `--now` on by more than any backoff)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / f"{self.name}.yaml"
        # checkpoints in a folder of the soak's own: two soaks of one config must not share them
        path.write_text(yaml.safe_dump({**self.config, "run_name": self.name,
                                        "storage": str(self.workdir / "runs")}))
        self._star_ok("db", "upgrade")
        self.sessions = session_factory(open_store(self.db_url))
        self.first_slot = cron.next_slot(cron.trigger(CRON, "UTC"), utcnow())
        self._star_ok("schedule", "add", self.name, str(path), "--cron", CRON, "--address",
                      self.cluster.dashboard_url, "--max-retries", "10", "--retry-backoff", "1")

    # -- one night ------------------------------------------------------------------------------

    def night(self, n: int, fault: Fault) -> NightResult:
        slot = self.first_slot + timedelta(days=n)
        target = n + 1
        ticks = _Ticks(self.cluster, self.env, slot, deadline=time.monotonic() + NIGHT_TIMEOUT_S)
        injected_at, note = None, ""
        try:
            ticks.start()
            injected_at, note = self._inject_when_due(fault, target, ticks)
            while not self._night_done(slot, target):
                ticks.keep_going(lambda: f"night {n} did not finish: {self._why(slot)}")
                time.sleep(1)
                self._keep_errors(slot)
            done_at = time.monotonic()
        except BaseException:
            ticks.abort()  # a failed or interrupted soak must not wait out the firing
            raise
        ticks.stop()
        firings, violations = self._firings(slot), self._violations()
        recovery = None if injected_at is None else done_at - injected_at
        if fault.kind == "trainer" and injected_at is not None:
            note += "; " + self._trained_again(slot)
        result = NightResult(n, target, fault, injected_at is not None, recovery, firings, violations, note,
                             *learnt(self.sessions, self.name, target), tries=self._tries(slot), errors=self.errors.pop(slot, []),
                             stored=self.stored_counts(target))
        self.results.append(result)
        self.log(f"night {n:2d} round {target:2d}: {_what_happened(result)}; firings {firings} "
                 f"({result.tries} tries), "
                 f"violations {violations}, accuracy {result.accuracy}{f' ({note})' if note else ''}")
        for error in result.errors:  # why a try failed: the firing's record, cleared once a retry succeeds
            self.log("    a try failed: " + error.replace("\n", "\n    "))
        return result

    def _inject_when_due(self, fault: Fault, target: int, ticks: _Ticks) -> tuple[float | None, str]:
        """Wait for the fault's moment and inject it; (when, a note) or (None, why not) if the round ended first."""
        if fault.kind == QUIET:
            return None, "quiet night"
        if fault.kind == "trainer":
            return self._kill_training(target, ticks)
        due = max(1, int(fault.at_share * self.expected))
        while self._stored(target) < due:
            if self._round_done(target):
                return None, "the round ended before its moment"
            ticks.keep_going(lambda: f"the night's round never reached its moment ({due} attempts stored)")
            time.sleep(0.2)
            self._keep_errors(ticks.slot)
        at = time.monotonic()
        try:
            return at, self._inject(fault.kind, ticks)
        except NotInjected as missed:
            return None, str(missed)

    def _inject(self, kind: str, ticks: _Ticks) -> str:
        cluster = self.cluster
        if kind in ("generator", "checker"):
            pids = cluster.actor_pids(ACTOR_CLASSES[kind])
            return _kill(pids[:1], f"{kind} actor")
        if kind == "worker_node":
            cluster.kill_worker_node()
            cluster.start_worker_node()  # the operator's (or the autoscaler's) replacement
            return "worker node lost and replaced"
        if kind in ("job_stop", "driver_kill"):
            job = self._running_job()
            if job is None:
                raise NotInjected("no running job")
            if kind == "job_stop":
                return f"ray job stop {job}: {cluster.stop_job(job)}"
            return _kill([p for p in [cluster.driver_pid(job)] if p], f"driver of {job}")
        if kind == "scheduler":
            return ticks.kill()
        if kind == "head":
            cluster.lose_head()
            cluster.start_head(same_address=True)  # the recovery: the head again at its address ...
            cluster.start_worker_node()  # ... and its workers; the schedule's retry resubmits the round
            return "head lost and started again at its address"
        raise ValueError(kind)

    def _kill_training(self, target: int, ticks: _Ticks) -> tuple[float | None, str]:
        """SIGKILL the trainer actor once its process is busy (training) in the night's round."""
        while True:
            if self._round_done(target):
                return None, "the round ended before training was seen"
            generated = self._stored(target) >= self.expected_counts["direct"]
            pids = self.cluster.actor_pids(ACTOR_CLASSES["trainer"]) if generated else []
            if pids and _busy(pids[0]):
                try:
                    return time.monotonic(), _kill(pids, "trainer actor, busy training")
                except NotInjected as missed:  # gone between the look and the kill
                    return None, str(missed)
            ticks.keep_going(lambda: "the night's training was never seen")

    # -- reading the store ----------------------------------------------------------------------

    def _round_row(self, session, index: int) -> Round | None:  # type: ignore[no-untyped-def]
        return session.scalars(select(Round).join(Run).where(Run.name == self.name,
                                                             Round.index == index)).one_or_none()

    def _stored(self, index: int) -> int:
        """The round's stored direct samples and greedy held-out answers."""
        with self.sessions() as s:
            rnd = self._round_row(s, index)
            return 0 if rnd is None else s.scalar(select(func.count()).select_from(Attempt).where(
                Attempt.round_id == rnd.id, Attempt.kind.in_(("direct", "eval")))) or 0

    def stored_counts(self, index: int) -> dict[str, tuple[int, int]]:
        """Per attempt kind of the round: (rows, distinct (problem, sample) keys)."""
        with self.sessions() as s:
            rnd = self._round_row(s, index)
            rows = s.execute(select(Attempt.kind, Attempt.problem_id, Attempt.sample_index)
                             .where(Attempt.round_id == rnd.id)).all()
        kinds = {kind for kind, _, _ in rows}
        return {kind: (sum(1 for k, _, _ in rows if k == kind), len({(p, i) for k, p, i in rows if k == kind}))
                for kind in sorted(kinds)}

    def _trained_again(self, slot: datetime) -> str:
        """Whether the firing's driver said the trainer died and trained again (its Ray job's log)."""
        with self.sessions() as s:
            jobs = s.scalars(self._firings_at(slot, Firing.job_id)).all()
        logs = "".join(self.cluster.job_logs(job) for job in jobs if job)
        return "trained again" if "training again from scratch" in logs else "no 'training again' in the job's log"

    def _round_done(self, index: int) -> bool:
        with self.sessions() as s:
            rnd = self._round_row(s, index)
            return rnd is not None and rnd.status == "done"

    def _night_done(self, slot: datetime, target: int) -> bool:
        with self.sessions() as s:
            statuses = s.scalars(self._firings_at(slot, Firing.status)).all()
        return self._round_done(target) and statuses == ["succeeded"]

    def _keep_errors(self, slot: datetime) -> None:
        """Keep each failed try's error while it is on record (a successful retry clears it)."""
        with self.sessions() as s:
            failed = s.execute(self._firings_at(slot, Firing.attempts, Firing.error)
                               .where(Firing.status == "failed")).all()
        seen = self.errors.setdefault(slot, [])
        for attempt, error in failed:
            line = f"try {attempt}: {error}"
            if error and line not in seen:
                seen.append(line)

    def _tries(self, slot: datetime) -> int:
        with self.sessions() as s:
            return max(s.scalars(self._firings_at(slot, Firing.attempts)).all(), default=0)

    def _firings(self, slot: datetime) -> int:
        with self.sessions() as s:
            return len(s.scalars(self._firings_at(slot, Firing.id)).all())

    def _running_job(self) -> str | None:
        with self.sessions() as s:
            job = s.scalars(self._firings_at(None, Firing.job_id).where(Firing.status == "running")).first()
        return job if job and self.cluster.job_status(job) == "RUNNING" else None

    def _firings_at(self, slot: datetime | None, *columns):  # type: ignore[no-untyped-def]
        """A select of `columns` of this soak's schedule's firings (at `slot`, unless None)."""
        query = select(*columns).join(Schedule, Firing.schedule_id == Schedule.id).where(Schedule.name == self.name)
        return query if slot is None else query.where(Firing.slot == slot)

    def _why(self, slot: datetime) -> str:
        with self.sessions() as s:
            rows = s.execute(self._firings_at(slot, Firing.status, Firing.attempts, Firing.error)).all()
        return "; ".join(f"{status} after {attempts} attempt(s): {(error or '')[-500:]}"
                         for status, attempts, error in rows) or "no firing"

    def _violations(self) -> int:
        checked = self.cluster.star("db", "check", self.name, "--json", env=self.env)
        if checked.returncode not in (0, 1):
            raise RuntimeError(f"star db check failed: {checked.stderr[-2000:]}")
        report = json.loads(checked.stdout)
        if not report["clean"]:
            self.log(json.dumps(report, indent=1)[:4000])
        return len(report["violations"])

    def _star_ok(self, *args: str) -> None:
        done = self.cluster.star(*args, env=self.env)
        if done.returncode != 0:
            raise RuntimeError(f"star {' '.join(args)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")


class _Ticks:
    """The night's scheduler: one `star schedule tick` at a time, each with a later `--now`."""

    def __init__(self, cluster: Any, env: dict[str, str], slot: datetime, deadline: float) -> None:
        self.cluster, self.env, self.slot, self.deadline = cluster, env, slot, deadline
        self.count = 0
        self.process: subprocess.Popen | None = None
        self.ended_at = 0.0

    def start(self) -> None:
        # Each tick is 5 minutes later than the last, so a failed firing's retry comes due (a night's
        # deadline allows at most ~225 ticks: 19 hours, before the next night's slot).
        now = self.slot + timedelta(minutes=1 + 5 * self.count)
        self.count += 1
        self.process = self.cluster.start_star("schedule", "tick", "--now", now.isoformat(),
                                               "--lease-seconds", str(LEASE_S), env=self.env)

    def keep_going(self, stuck: Callable[[], str]) -> None:
        """A new tick once the last one has ended (after a pause); fails the night past its deadline."""
        if time.monotonic() > self.deadline:
            raise AssertionError(stuck())
        if self.process is not None and self.process.poll() is None:
            return
        if self.process is not None:
            self.process, self.ended_at = None, time.monotonic()
        if time.monotonic() - self.ended_at >= TICK_PAUSE_S:
            self.start()

    def kill(self) -> str:
        if self.process is None or self.process.poll() is not None:
            raise NotInjected("no scheduler running")
        os.kill(self.process.pid, signal.SIGKILL)  # the scheduler alone, as a lost host would
        self.process.wait()
        return f"scheduler pid {self.process.pid} killed"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.wait()  # a tick ends with its firing; the night's check waits for it

    def abort(self) -> None:
        """Stop the running tick now: it records its firing as interrupted, and takes its child down."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _what_happened(result: NightResult) -> str:
    fault = result.fault
    if fault.kind == QUIET:
        return "quiet night"
    moment = "in training" if fault.kind == "trainer" else f"at {fault.at_share:.0%} of its attempts"
    if not result.injected:
        return f"{fault.kind} {moment}: NOT injected"
    return f"{fault.kind} {moment}, round done {result.recovery_s:.0f} s later"


def learnt(sessions, run_name: str, index: int) -> tuple[float | None, str]:  # type: ignore[no-untyped-def]
    """A round's held-out accuracy and a digest of what it accepted (problem, kind, sample, completion),
    to compare two runs of the same config and seeds by."""
    from db.schedules import round_accuracy

    with sessions() as s:
        rows = s.execute(select(Problem.external_id, Attempt.kind, Attempt.sample_index, Attempt.completion)
                         .join(Problem, Attempt.problem_id == Problem.id).join(Round, Attempt.round_id == Round.id)
                         .join(Run, Round.run_id == Run.id)
                         .where(Run.name == run_name, Round.index == index, Attempt.accepted)).all()
        accuracy = round_accuracy(s, run_name, index)
    digest = hashlib.sha256(json.dumps(sorted(map(list, rows))).encode()).hexdigest()[:16]
    return accuracy, f"{len(rows)}:{digest}"


class NotInjected(Exception):
    """The failure's target was not there at its moment (the night is reported as not injected)."""


def _kill(pids: list[int], what: str) -> str:
    try:
        os.kill(pids[0], signal.SIGKILL)
    except (IndexError, ProcessLookupError):
        raise NotInjected(f"no {what} found") from None
    return f"{what} pid {pids[0]} killed"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _busy(pid: int, window_s: float = 0.5) -> bool:
    """The process used at least half a core over `window_s`: an idle actor waits on a socket."""
    try:
        before = _cpu_seconds(pid)
        time.sleep(window_s)
        return _cpu_seconds(pid) - before >= window_s / 2
    except (OSError, IndexError):
        return False


# -- the script ----------------------------------------------------------------------------------


def _tests_module(path: Path, name: str):  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def soak_config(model: Path, tiny_round_config: Callable[..., dict]) -> dict:
    """The nights' config: the tests' small tiny-model round, a training long enough to be caught
    mid-way, the same step budget every night (a month of 1.2x growth would be 200x), greedy held-out.
    Its storage is set per soak (`Soak.add_schedule`)."""
    config = tiny_round_config(model.parent, model, samples=2, hinted=1, eval_per_digits=4)
    config["training"] = {**config["training"], "base_steps": 40, "step_growth": 1.0}
    config["evaluation"] = {**config["evaluation"], "samples": 0}
    return config


def soak_nights(cluster: Any, db_urls: list[str], config: dict, workdir: Path, plan: list[Fault], *,
                log: Callable[[str], None] = print) -> tuple[list[NightResult], list[NightResult]]:
    """The nights of `plan` in the store `db_urls[-1]`; given two stores, first as many quiet nights in
    `db_urls[0]` on the same cluster: the undisturbed run the soak is compared with (a store each, since
    a tick fires every schedule of its store). Returns (the soak's nights, the reference's or [])."""
    quiet: list[NightResult] = []
    if len(db_urls) > 1:
        # a name of its own too: Ray refuses a second job with the same submission id (schedule + slot)
        calm = Soak(cluster, db_urls[0], config, workdir / "reference", name=f"{SCHEDULE}-reference", log=log)
        calm.add_schedule()
        quiet = [calm.night(n, Fault(QUIET, 0.0)) for n in range(len(plan))]
    soak = Soak(cluster, db_urls[-1], config, workdir / "soak", log=log)
    soak.add_schedule()
    return [soak.night(n, fault) for n, fault in enumerate(plan)], quiet


def _as_json(results: list[NightResult]) -> list[dict[str, Any]]:
    return [r.__dict__ | {"fault": r.fault.__dict__} for r in results]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(FAULTS), help="comma-separated fault kinds")
    parser.add_argument("--reference", action="store_true",
                        help="first run as many quiet nights, and compare each night's accuracy and accepted set")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server")
    parser.add_argument("--json-out", type=Path, help="write every night's result here")
    parser.add_argument("--compare", type=Path, help="another soak's --json-out (say, a quiet run with "
                        "--kinds none): print, per night, whether accuracy and accepted set are the same")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the cluster and drop the database on a kill
    here = Path(__file__).resolve().parent
    cluster_fixtures = _tests_module(here / "conftest.py", "star_soak_cluster")
    tests_fixtures = _tests_module(here.parent / "conftest.py", "star_soak_tests")
    plan = plan_nights(args.nights, args.seed, tuple(args.kinds.split(",")))
    import shutil

    import psycopg

    names = [f"star_soak_{os.getpid()}_{which}" for which in (["reference"] if args.reference else []) + ["soak"]]
    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with cluster_fixtures.two_node_cluster() as cluster:
            workdir = cluster.temp_dir / "soak"
            workdir.mkdir()
            shutil.copytree(tests_fixtures.TEST_MODEL, workdir / "tiny-model")
            config = soak_config(workdir / "tiny-model", tests_fixtures.tiny_round_config)
            results, quiet = soak_nights(cluster, [f"{args.pg}/{name}" for name in names], config, workdir, plan)
            print_table(results)
            references = [_as_json(quiet)] if quiet else []
            if args.compare:
                loaded = json.loads(args.compare.read_text())
                references.append(loaded["nights"] if isinstance(loaded, dict) else loaded)
            same = [compare_runs(results, reference) == len(results) for reference in references]
            if args.json_out:
                args.json_out.write_text(json.dumps({"nights": _as_json(results), "reference": _as_json(quiet)},
                                                    indent=1))
            return 0 if all(r.violations == 0 and r.firings == 1 for r in results) and all(same) else 1
    finally:
        with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
