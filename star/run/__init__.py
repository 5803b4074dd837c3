"""One `star run` / `star eval` process: the run's lease, preflight checks, Ray start-up,
the worker actors, resume, and the rounds (star/loop)."""
