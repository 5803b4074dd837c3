"""Surface clean-up of one extracted answer, before any parsing.

Removes what carries no mathematical value: math delimiters, ``\\boxed``
wrappers, spacing commands, ``\\left``/``\\right``, degree marks, currency,
thousands separators, trailing units and punctuation. Percent signs are
removed too but remembered, because 28% may be compared with 28 or 0.28.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from star.checker.extract import balanced_group

_DELIMS_RE = re.compile(r"\$\$|\\\[|\\\]|\\\(|\\\)|(?<!\\)\$")
_SPACING_RE = re.compile(r"(?<!\\)\\[,;:! ]|\\q?quad|~|\\displaystyle\b|\\(?:big|Big|bigg|Bigg)[lr]?\b")
_LEFT_RIGHT_RE = re.compile(r"\\(?:left|right)(?=[\\(\[|.)\]]|\\\{|\\\})|\\(?:left|right)\.")
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ\b|°|\\degree\b|\^\s*\{\\text\{o\}\}")
_PERCENT_RE = re.compile(r"\s*(?:\\%|%|\\text\{\s*\\?%\s*\}|\bpercent(?:age)?\b|\bpct\b)\s*$", re.IGNORECASE)
_CURRENCY_RE = re.compile(r"\\\$|[€£¥₹]|\\(?:euro|pounds)\b|\b(?:USD|Rs\.?|INR)\s*|\\text\{\s*\\?\$\s*\}")
# 1,234 / 1{,}234 / 1,\!234: a comma between digit groups of three.
_THOUSANDS_RE = re.compile(r"(?<![\d.,])([1-9]\d{0,2})((?:\{,\}\d{3}|,\d{3})+)(?![\d,]|\{,\})")
_SPACE_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$")
_TEXT_CMD_RE = re.compile(
    r"\\(?:text|textnormal|textrm|textbf|textit|mbox|mathrm|mathbf|mathit|mathsf|operatorname\*?)\s*\{"
)
_UNIT_TAIL_RE = re.compile(r"^(?P<value>.*?[\d}\)\]])\s*(?P<unit>(?:[A-Za-z]+\.?(?:\^\{?\d\}?|²|³)?\s*){1,3})$")
_DOUBLE_BACKSLASH_CMD_RE = re.compile(
    r"(?<!\\)\\\\(?=(?:le|ge|leq|geq|lt|gt|ne|neq|frac|dfrac|tfrac|sqrt|pi|in|cup|cap|infty|left|right|"
    r"text|boxed|pm|cdot|times|div)\b)"
)
# "W(x)=1orW(x)=-1": a connector glued between two answers.
_GLUED_CONNECTOR_RE = re.compile(r"(?<=[\d)\]}])(or|and)(?=[A-Z(\[\\])")
_CONNECTOR_TEXT_RE = re.compile(r"^\s*(?:and|or|,)\s*$", re.IGNORECASE)
# Words a trailing unit may not be: they change the answer's meaning.
_NOT_UNITS = {"and", "or", "i", "pi", "e", "x", "y", "z", "n", "k", "sqrt", "infty"}


@dataclass(frozen=True)
class Cleaned:
    text: str
    percent: bool = False


def strip_wrappers(text: str) -> str:
    """Remove delimiters and a ``\\boxed{}`` that wraps the whole answer."""
    text = _DELIMS_RE.sub(" ", text).strip()
    while True:
        match = re.match(r"\\(?:boxed|fbox)\s*\{", text)
        if not match:
            return text
        end = balanced_group(text, match.end() - 1)
        if end is None or text[end:].strip(" .,;"):
            return text
        text = text[match.end():end - 1].strip()


def unwrap_text_commands(text: str) -> str:
    """``\\text{ and }`` becomes " and "; ``\\text{cm}`` becomes "cm" (a unit word)."""
    out, pos = [], 0
    while (match := _TEXT_CMD_RE.search(text, pos)) is not None:
        end = balanced_group(text, match.end() - 1)
        if end is None:
            break
        inner = text[match.end():end - 1]
        out.append(text[pos:match.start()])
        out.append(f" {inner} " if _CONNECTOR_TEXT_RE.match(inner) or not inner.strip() else inner)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _strip_unit_tail(text: str) -> str:
    """'15 cm^2' -> '15'; keeps tails that are variables or constants ('2 \\pi', '3x')."""
    match = _UNIT_TAIL_RE.match(text)
    if not match or not match.group("value").strip():
        return text
    words = re.findall(r"[A-Za-z]+", match.group("unit"))
    if any(w.lower() in _NOT_UNITS or len(w) == 1 for w in words):
        return text
    if text[match.start("unit") - 1:match.start("unit")] == "\\":
        return text
    return match.group("value").strip()


def depths(text: str) -> list[int]:
    """Bracket depth before each character; any of {([ opens and })] closes,
    because intervals such as [0, 1) mix bracket kinds."""
    out, depth = [], 0
    for ch in text:
        if ch in "})]":
            depth -= 1
        out.append(depth)
        if ch in "{([":
            depth += 1
    return out


def _join_thousands(text: str) -> str:
    """1,234,567 -> 1234567. Inside brackets one group is a tuple, not a number:
    (12,102) stays a pair; at the top level 12,102 is read as twelve thousand."""
    level = depths(text)

    def join(match: re.Match[str]) -> str:
        groups = match.group(2).replace("{,}", ",").count(",")
        if level[match.start()] > 0 and groups < 2:
            return match.group(0)
        return match.group(1) + match.group(2).replace("{,}", "").replace(",", "")

    return _THOUSANDS_RE.sub(join, text)


def clean(text: str) -> Cleaned:
    """Canonical surface form of one answer; see the module docstring."""
    text = _DOUBLE_BACKSLASH_CMD_RE.sub(lambda _: "\\", text)
    text = strip_wrappers(text)
    text = re.sub(r"(\d),\\!\s*(?=\d{3})", r"\1,", text)
    text = _SPACING_RE.sub(" ", text)
    text = _LEFT_RIGHT_RE.sub("", text)
    text = unwrap_text_commands(text)
    text = _CURRENCY_RE.sub("", text)
    text = re.sub(r"\b(?:dollars?|cents?|euros?)\b", "", text, flags=re.IGNORECASE)
    text = _DEGREE_RE.sub("", text)
    text = _GLUED_CONNECTOR_RE.sub(r" \1 ", text)
    text = re.sub(r"\s+", " ", text).strip().rstrip(".;:").strip()  # not "!": 5! is 120
    percent = False
    while (match := _PERCENT_RE.search(text)) is not None and match.start() > 0:
        percent, text = True, text[:match.start()].strip()
    text = _join_thousands(text)
    if _SPACE_THOUSANDS_RE.match(text):
        text = text.replace(" ", "")
    text = _strip_unit_tail(text)
    return Cleaned(text.strip(), percent)
