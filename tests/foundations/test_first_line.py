"""`first_line`: the one line of a remote error that goes into a log or a stored error field."""

from star.errors import first_line


def test_first_line_skips_blank_lines_and_strips() -> None:
    assert first_line(RuntimeError("\n\n  engine died: OOM  \nTraceback (most recent call last):\n  ...")) == "engine died: OOM"


def test_first_line_truncates_a_long_line() -> None:
    assert first_line(ValueError("x" * 1000), limit=50) == "x" * 50


def test_first_line_of_an_empty_message_is_the_type_name() -> None:
    assert first_line(TimeoutError()) == "TimeoutError"
