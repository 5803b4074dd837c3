"""Plain-text prompt templates with `{{name}}` placeholders.

Why not `str.format` or `string.Template`: GSM8K questions are full of `$`
amounts and MATH problems of LaTeX braces, so both the templates and the values
would need escaping. A `{{name}}` placeholder never occurs in either, and the
substitution is a single pass, so a value that happens to contain `{{x}}` is
inserted verbatim and never expanded.

A template file's one trailing newline is dropped (editors add one); write a
blank line at the end of the file if the prompt really ends with a newline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from star.errors import ConfigError

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class Template:
    """A loaded template: its text and where it came from (for error messages)."""

    text: str
    origin: str

    def placeholders(self) -> list[str]:
        return [m.group(1) for m in _PLACEHOLDER.finditer(self.text)]

    def render(self, **values: str) -> str:
        """Substitute every placeholder in one pass; values are never re-expanded."""

        def substitute(match: re.Match[str]) -> str:
            return values[match.group(1)]

        return _PLACEHOLDER.sub(substitute, self.text)

    def prefix(self) -> str:
        """The literal text before the first placeholder (e.g. `Q: `)."""
        match = _PLACEHOLDER.search(self.text)
        return self.text if match is None else self.text[: match.start()]


def builtin_path(name: str) -> Path:
    """Path of a packaged file under star/tasks/prompts/."""
    return Path(str(resources.files("star.tasks").joinpath("prompts", name)))


def load_template(
    override: str | None,
    builtin: str,
    *,
    field: str,
    required: tuple[str, ...],
    allowed: tuple[str, ...],
) -> Template:
    """Load a config override (a path, relative to the cwd) or the packaged default.

    Raises ConfigError naming the config field and the file when the file is
    missing or its placeholders are wrong, so a bad template fails before any
    generation starts.
    """
    if override is None:
        path, origin = builtin_path(builtin), f"built-in template {builtin}"
    else:
        path = Path(override).expanduser()
        origin = f"file {path.resolve()}"
        if not path.is_file():
            raise ConfigError(
                f"task.{field}: template file not found: {path.resolve()} "
                f"(relative paths are resolved against the current directory {Path.cwd()})"
            )
    text = path.read_text(encoding="utf-8")
    if text.endswith("\n"):
        text = text[:-1]
    template = Template(text=text, origin=origin)
    _check_placeholders(template, field=field, required=required, allowed=allowed)
    return template


def _check_placeholders(
    template: Template, *, field: str, required: tuple[str, ...], allowed: tuple[str, ...]
) -> None:
    names = template.placeholders()
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise ConfigError(
            f"task.{field}: {template.origin} uses unknown placeholder(s) "
            f"{', '.join('{{' + n + '}}' for n in unknown)}; allowed: "
            f"{', '.join('{{' + n + '}}' for n in allowed) or 'none'}"
        )
    for name in required:
        count = names.count(name)
        if count != 1:
            raise ConfigError(
                f"task.{field}: {template.origin} must contain {{{{{name}}}}} exactly once "
                f"(found {count})"
            )
