"""star: STaR (Self-Taught Reasoner) rounds on Ray with a queryable rationale store."""

__version__ = "0.1.0"
