"""User errors of job submission; the CLI prints them as one line and exits 2."""

from star.errors import StarError


class JobError(StarError):
    """A job cannot be submitted, found or followed (the message names the fix)."""


class ClusterUnreachableError(JobError):
    """No Ray job server answers at the address."""


class ClusterAuthError(JobError):
    """The cluster wants a token and none was found, or it refused the one sent."""
