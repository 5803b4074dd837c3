"""Find the final answer in free text.

A rationale states its answer in one of a few ways: ``\\boxed{...}`` (or
``\\fbox``), GSM8K's ``#### X``, a phrase such as "The answer is X",
"Answer: X" or "final answer is X", or markdown bold. All explicit markers are
collected and the one that starts last wins, because a model that corrects
itself restates the answer. Bold text is used only when no explicit marker is
present, and the last number or math segment only when nothing else is.

Several boxes joined by "and", "or" or commas form one answer (a list), so a
model that hedges with two boxed values is judged on both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from star.checker.limits import MAX_ANSWER_CHARS, MAX_PREDICTION_CHARS

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{|\\boxed\s+(?=[^\s{])")
_HASH_RE = re.compile(r"^[ \t]*####[ \t]*(?P<body>[^\n]*)", re.MULTILINE)
_PHRASE_RE = re.compile(
    r"\b(?P<final>final\s+)?answer\b\s*(?:\*\*|__)?\s*"
    r"(?:(?:is|was|will\s+be|would\s+be|should\s+be|=)\b\s*[:=]?|[:=])\s*(?:\*\*|__)?",
    re.IGNORECASE,
)
_BOLD_RE = re.compile(r"\*\*(?P<body>[^*\n]{1,120})\*\*")
# Text allowed between two boxes that belong to one answer: no letters at all,
# or a connector word among few others (e.g. "\quad \text{and} \quad").
_CONNECTOR_RE = re.compile(r"(?:\band\b|\bor\b|[,;&])", re.IGNORECASE)
_MAX_GAP = 60
# Only the last markers of each kind are examined: the answer comes last, and
# this keeps a text of 50,000 "\boxed{" or "answer is" linear to scan.
_LAST_MARKERS = 64

# Math delimiters, most specific first; inline forms may not span lines.
SEGMENT_RE = re.compile(
    r"\$\$(?P<dd>.{1,1000}?)\$\$|\\\[(?P<db>.{1,1000}?)\\\]|\\\((?P<ip>.{1,1000}?)\\\)"
    r"|(?<![\\\d])\$(?P<id>(?:\\\$|[^$\n])+?)(?<!\\)\$",
    re.DOTALL,
)
# A number in prose: thousands separators, a decimal point or comma, a simple
# fraction, a percent sign; units may follow ("1,000.99m²") but a number glued
# to letters in front ("AZYUK2A") is not an answer.
NUMBER_ITEM_RE = re.compile(
    r"(?<![\w.^_])-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+,\d{1,2}(?![\d,])|\d+(?:\.\d+)?)"
    r"(?:\s*/\s*\d+(?:\.\d+)?)?(?:\s*(?:%|percent\b|pct\b))?(?![\d]|[.,]\d)"
    r"|(?<![\w.])\.\d+(?![\d]|[.,]\d)"
)
_FILLER_RE = re.compile(
    r"^(?:\s|:|=|\\approx|≈|approximately\b|about\b|around\b|roughly\b|exactly\b|simply\b|"
    r"that\b|equal\s+to\b|the\s+(?:number|value)\b|given\s+by\b)+",
    re.IGNORECASE,
)
# A few-shot model that goes on to write the next exercise ("\n\nQ: Tom has
# 3 apples ...") has finished its answer: the rest is not part of it.
_NEXT_QUESTION_RE = re.compile(r"(?<=\S)\s*\n\s*(?:Q|Question|Problem)\s*\d*\s*:", re.IGNORECASE)
_HOPE_RE = re.compile(r"\s*I hope it is correct.*$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Extraction:
    """One answer found in a text: its parts (several for a list of boxes)."""

    parts: tuple[str, ...]
    start: int
    source: str  # "boxed", "####", "phrase", "bold", "last", "truncated"

    @property
    def text(self) -> str:
        return " , ".join(self.parts) if len(self.parts) > 1 else self.parts[0]


def balanced_group(text: str, open_index: int) -> int | None:
    """Index just past the brace group opened at `open_index`, or None if unbalanced.

    Escaped braces (``\\{``) are literal characters in TeX and do not count.
    """
    depth = 0
    i = open_index
    limit = min(len(text), open_index + 4 * MAX_ANSWER_CHARS)
    while i < limit:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _boxes(text: str) -> tuple[list[tuple[int, int, str]], int | None]:
    """(start, end, content) of every well-formed box, outermost only, and the
    start of the last box that never closes (None if every box closes)."""
    boxes: list[tuple[int, int, str]] = []
    unclosed = None
    starts = [m.start() for m in _BOX_RE.finditer(text)]
    pos = starts[-_LAST_MARKERS] if len(starts) > _LAST_MARKERS else 0
    while (match := _BOX_RE.search(text, pos)) is not None:
        if match.group(0).endswith("{"):
            end = balanced_group(text, match.end() - 1)
            if end is None:  # unbalanced: not an answer; look for later boxes
                unclosed = match.start()
                pos = match.end()
                continue
            content = text[match.end():end - 1]
        else:  # "\boxed 5": TeX takes one token
            token = re.match(r"\\?[^\s$.,]+", text[match.end():])
            end = match.end() + (token.end() if token else 0)
            content = token.group(0) if token else ""
        boxes.append((match.start(), end, content))
        pos = end
    return boxes, unclosed


def _joinable(gap: str) -> bool:
    if len(gap) > _MAX_GAP:
        return False
    bare = re.sub(r"\\(?:text|mathrm|textbf)\{([^{}]*)\}", r"\1", gap)
    words = re.findall(r"[A-Za-z]+", re.sub(r"\\[A-Za-z]+", "", bare))
    if not words:
        return True
    # "\text{ for part (a) and }" joins; ", then after checking" is a correction.
    others = [w for w in words if len(w) > 1 and w.lower() not in ("and", "or")]
    return bool(_CONNECTOR_RE.search(bare)) and len(others) <= 2


def _box_groups(boxes: list[tuple[int, int, str]], text: str) -> list[Extraction]:
    groups: list[Extraction] = []
    current: list[tuple[int, int, str]] = []
    for box in boxes:
        if current and not _joinable(text[current[-1][1]:box[0]]):
            groups.append(Extraction(tuple(c for _, _, c in current), current[0][0], "boxed"))
            current = []
        current.append(box)
    if current:
        groups.append(Extraction(tuple(c for _, _, c in current), current[0][0], "boxed"))
    return [g for g in groups if any(p.strip() for p in g.parts)]


def _sentence(text: str, start: int) -> str:
    """The rest of the line from `start`, cut at the end of its sentence."""
    line_end = text.find("\n", start)
    line = text[start:line_end if line_end >= 0 else len(text)][: 4 * MAX_ANSWER_CHARS]
    line = _HOPE_RE.sub("", line)
    depth = 0  # inside $...$ a period is never a sentence end
    for i, ch in enumerate(line):
        if ch == "$" and (i == 0 or line[i - 1] != "\\"):
            depth ^= 1
        elif ch == "." and not depth and (i + 1 == len(line) or line[i + 1].isspace()):
            if not (i > 0 and line[i - 1].isdigit() and i + 1 < len(line) and line[i + 1].isdigit()):
                return line[:i]
    return line


def _phrase_body(text: str, match: re.Match[str]) -> str | None:
    body = _sentence(text, match.end())
    if match.group("final") or ":" in match.group(0):
        # "Final Answer: The largest $n$ is 34." states the answer after " is ".
        outside = re.sub(r"\$[^$]*\$", lambda m: "\0" * len(m.group(0)), body)
        cut = max(outside.rfind(" is "), outside.rfind(" are "))
        if cut >= 0 and not re.match(r"\s*[\d$\\(\[-]", body):
            body = body[cut + 4:]
    body = _FILLER_RE.sub("", body).replace('\\"', "").strip().strip('"').strip().rstrip(".").strip()
    if body.endswith("!") and not re.search(r"[$\\]", body):
        body = body[:-1]  # in prose, "The answer is 5!" is an exclamation, not 5 factorial
    if not body or re.match(r"not\b|incorrect\b|wrong\b", body, re.IGNORECASE):
        return None
    return body


def _phrases(text: str) -> list[Extraction]:
    found = []
    for match in list(_PHRASE_RE.finditer(text))[-_LAST_MARKERS:]:
        body = _phrase_body(text, match)
        if body:
            found.append(Extraction((body,), match.end(), "phrase"))
    for match in list(_HASH_RE.finditer(text))[-_LAST_MARKERS:]:
        body = match.group("body").strip()
        if body:
            found.append(Extraction((body,), match.start("body"), "####"))
    return found


def segment_text(match: re.Match[str]) -> str:
    """The math inside a delimiter match of `SEGMENT_RE`."""
    return next(g for g in match.groups() if g is not None)


def _last_item(text: str) -> Extraction | None:
    """The last math segment or number: the fallback when no marker exists."""
    best: Extraction | None = None
    for regex, is_segment in ((SEGMENT_RE, True), (NUMBER_ITEM_RE, False)):
        last = None
        for last in regex.finditer(text):
            pass
        if last is None:
            continue
        body = segment_text(last) if is_segment else last.group(0)
        if body.strip() and (best is None or last.end() > best.start):
            best = Extraction((body.strip(),), last.end(), "last")
    return best


def _bold(text: str) -> Extraction | None:
    last = None
    for match in _BOLD_RE.finditer(text):
        body = match.group("body").strip().rstrip(".:")
        if re.search(r"\d|\\|\$", body):
            last = Extraction((body,), match.start("body"), "bold")
    return last


def extract(text: str, *, math_only: bool = True) -> Extraction | None:
    """The final answer stated in `text`, or None when it states none.

    With `math_only` (the gold is mathematical), explicit answers that are plain
    prose ("the answer is correct") are ignored rather than taken as answers.
    """
    if len(text) > MAX_PREDICTION_CHARS:
        text = text[-MAX_PREDICTION_CHARS:]  # answers come last
    continuation = _NEXT_QUESTION_RE.search(text)
    if continuation:
        text = text[:continuation.start()]
    boxes, unclosed = _boxes(text)
    explicit = _box_groups(boxes, text) + _phrases(text)
    if math_only:
        explicit = [e for e in explicit if any(looks_mathematical(p) for p in e.parts)]
    latest = max(explicit, key=lambda e: (e.start, e.source == "boxed"), default=None)
    if unclosed is not None and (latest is None or unclosed >= latest.start):
        # The last answer was cut off ("\\boxed{25" of "\\boxed{256}"): no
        # earlier answer or stray number may stand in for it.
        return Extraction((text[unclosed:unclosed + MAX_ANSWER_CHARS],), unclosed, "truncated")
    if latest is not None:
        return latest
    bold = _bold(text)
    if bold is not None:
        return bold
    return _last_item(text)


def looks_mathematical(text: str) -> bool:
    """Whether an answer candidate contains something other than prose."""
    if re.search(r"[\d\\^=+/<>()\[\]{}]", text):
        return True
    words = re.findall(r"[A-Za-z]+", text)
    return len(words) == 1 and len(words[0]) <= 2 or (not words and bool(text.strip()))
