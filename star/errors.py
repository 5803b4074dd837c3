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
