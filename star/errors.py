"""Exceptions that the CLI turns into one clear line and exit code 2.

Expected failures of model output are *data* (checker verdicts), not exceptions.
These are for the unexpected: bad config, bad user files, unusable databases.
Every message names what is wrong and how to fix it.
"""


class StarError(Exception):
    """A user-facing error: the message says what is wrong and how to fix it."""


class ConfigError(StarError):
    """A config value is invalid; raised before any work starts."""


class DataError(StarError):
    """A dataset file or row is unusable (names file, row and field)."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first non-blank line of an exception's message (at most `limit` characters), or its type's
    name: remote errors (Ray, vLLM, HTTP) carry whole tracebacks that would flood a log line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:limit] if lines else type(exc).__name__
