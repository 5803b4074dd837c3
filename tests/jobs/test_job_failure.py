"""`star submit --wait` on a job that failed: its message, the last lines of its log and, when the
cluster has no `star` on the PATH where Ray runs job drivers, the fix.

The job records are Ray's own JobDetails, with the message Ray's job supervisor writes for an
entrypoint that failed (ray/dashboard/modules/job/job_supervisor.py); the job server itself is
stood in for by an object answering the two calls star makes once a job has ended.
"""

from __future__ import annotations

from ray.job_submission import JobDetails, JobStatus, JobType

from star.jobs.client import StarJobClient
from star.jobs.failure import MISSING_STAR_FIX, JobEnd, failure_report, last_lines, missing_star, read_failure

NOT_FOUND_LOG = "/bin/sh: 1: star: not found\n"
NOT_FOUND_MESSAGE = ("Job entrypoint command failed with exit code 127, last available logs (truncated to 20,000 "
                     "chars):\n" + NOT_FOUND_LOG)


class _JobServer:
    """Answers get_job_info and get_job_logs for one ended job, as Ray's JobSubmissionClient does."""

    def __init__(self, details: JobDetails, logs: str) -> None:
        self.details, self.logs = details, logs

    def get_job_info(self, job_id: str) -> JobDetails:
        return self.details

    def get_job_logs(self, job_id: str) -> str:
        return self.logs


def _details(message: str, exit_code: int) -> JobDetails:
    return JobDetails(type=JobType.SUBMISSION, submission_id="star-a-1", status=JobStatus.FAILED,
                      entrypoint="star run star_job.yaml", message=message, driver_exit_code=exit_code)


def test_a_head_without_star_on_its_path_gets_the_reason_and_the_fix() -> None:
    client = StarJobClient(_JobServer(_details(NOT_FOUND_MESSAGE, 127), NOT_FOUND_LOG), "http://head:8265", None)
    lines = read_failure(client, "star-a-1", "FAILED")
    assert lines[0] == "job star-a-1 failed: Job entrypoint command failed with exit code 127, last available " \
                       "logs (truncated to 20,000 chars):"
    assert "  /bin/sh: 1: star: not found" in lines
    fix = next(line for line in lines if line.startswith("fix: "))
    assert "install star in the cluster's environment" in fix and "source .venv/bin/activate" in fix
    assert lines[-1] == "whole log: star jobs logs star-a-1"


def test_bash_and_python_spellings_of_a_missing_star_are_recognised() -> None:
    for logs in ("bash: star: command not found", "FileNotFoundError: [Errno 2] No such file or directory: 'star'",
                 "/bin/sh: star: not found"):
        assert missing_star(JobEnd("FAILED", None, 127, logs)), logs
    # a run that failed for its own reasons is not told to install star
    other = JobEnd("FAILED", "Job entrypoint command failed with exit code 2", 2,
                   "error: invalid config in star_job.yaml: `sampling.temperature` ...\n")
    assert not missing_star(other)
    assert not any(line.startswith("fix:") for line in failure_report(other, "star-a-2"))
    assert MISSING_STAR_FIX not in "\n".join(failure_report(other, "star-a-2"))


def test_only_the_tail_of_a_long_log_is_printed() -> None:
    logs = "".join(f"line {n}\n\n" for n in range(100))
    assert last_lines(logs) == [f"line {n}" for n in range(80, 100)]
    lines = failure_report(JobEnd("FAILED", None, 1, logs), "star-a-3")
    assert lines[0] == "last 20 lines of its log:" and lines[1] == "  line 80"
    assert failure_report(JobEnd("FAILED", None, 1, ""), "star-a-4")[0] == "its log is empty"
