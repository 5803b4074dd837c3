"""Held-out evaluation: greedy accuracy and the test-time strategies (maj@k, pass@k, verifier best-of-N)."""
