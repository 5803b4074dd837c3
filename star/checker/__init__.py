"""The answer checker: safe, exact, bounded verification of model answers.

    >>> from star.checker import check, Checker, check_steps
    >>> check("... so the answer is \\\\boxed{\\\\frac{1}{2}}.", "0.5").correct
    True
    >>> with Checker(workers=4, timeout=5.0) as pool:
    ...     verdicts = pool.check_many([("#### 72", "72"), ("Answer: 5218", "5218")])

`check` and `Checker` run sympy in worker processes that are killed when a
check overruns its timeout; `check_steps` and `can_parse_gold` run in this
process (they never evaluate anything unbounded). See docs/checker.md.
"""

from star.checker.core import can_parse_gold
from star.checker.pool import Checker, check
from star.checker.steps import check_steps
from star.checker.verdict import StepVerdict, Verdict

__all__ = ["check", "Verdict", "Checker", "check_steps", "StepVerdict", "can_parse_gold"]
