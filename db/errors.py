"""The store's user-facing exception.

The CLI group turns a `StoreError` into `error: <message>` and exit code 2, so
every message says what is wrong *and* the command or flag that fixes it.
"""


class StoreError(Exception):
    """A store problem a user can fix (bad URL, unknown run, stale schema...)."""
