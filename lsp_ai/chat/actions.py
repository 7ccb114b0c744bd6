"""Code actions on a selection (explain, write a docstring, refactor) on the chat model.

They make the chat model usable from editors that cannot send custom requests (Helix, Zed):
each action turns into one text edit. An explanation becomes a comment above the selection,
a docstring goes where the language wants it, a refactor replaces the selected lines.
"""

from __future__ import annotations

import re
import textwrap
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from lsp_ai.chat.prompt import quoteattr
from lsp_ai.chat.stream import paced_stream
from lsp_ai.concurrency import CancelToken, CompletionFirst
from lsp_ai.inference.base import ChatMessage, ModelError, TextModel
from lsp_ai.inference.slots import ModelSlot
from lsp_ai.languages import doc_comment
from lsp_ai.prompts import read_prompt

ACTIONS = ("explain", "docstring", "refactor")
COMMENTING = ("explain", "docstring")  # write comments: only where the comment syntax is known
SURROUNDING_LINES = 30
COMMENT_WIDTH = 88
_PY_HEADER = re.compile(r"\s*(async\s+def|def|class)\b")
_MARKER = re.compile(r"^\s*(#|//+|/\*+|\*+/?|--)\s?")
_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:```|$)", re.S)


@cache
def action_table() -> dict[str, dict[str, str]]:
    return tomllib.loads(read_prompt("code_actions.toml"))


def action_title(action: str) -> str:
    return str(action_table()[action]["title"])


@dataclass(frozen=True)
class ActionRequest:
    action: str
    text: str  # the whole document
    start_line: int  # the selection, as whole lines, 0-based inclusive
    end_line: int
    path: str = ""
    language: str = "text"


@dataclass(frozen=True)
class LineEdit:
    """Replace lines [start_line, end_line) with `new_text` (end_line == start_line: insert)."""

    start_line: int
    end_line: int
    new_text: str


@dataclass
class ActionResult:
    content: str  # what the model said, cleaned
    edit: LineEdit | None  # None when the model gave nothing usable


class CodeActions:
    def __init__(
        self,
        slot: ModelSlot[TextModel],
        first: CompletionFirst,
        max_tokens: int,
        temperature: float,
    ) -> None:
        self._slot = slot
        self._first = first
        self._max_tokens = max_tokens
        self._temperature = temperature

    def run(
        self,
        req: ActionRequest,
        cancel: CancelToken,
        on_delta: Callable[[str], None] = lambda _d: None,
    ) -> ActionResult:
        if req.action not in ACTIONS:
            raise ModelError(f"unknown code action {req.action!r}; one of {', '.join(ACTIONS)}")
        lines = req.text.split("\n")
        start = max(0, min(req.start_line, len(lines) - 1))
        end = max(start, min(req.end_line, len(lines) - 1))
        model = self._slot.get()
        answer = paced_stream(
            model,
            messages(req, lines, start, end),
            max_tokens=self._max_tokens,
            temperature=self._temperature,
            first=self._first,
            cancel=cancel,
            on_delta=on_delta,
        )
        return make_edit(req.action, answer.text, lines, start, end, req.language)


def messages(req: ActionRequest, lines: list[str], start: int, end: int) -> list[ChatMessage]:
    from xml.sax.saxutils import escape

    table = action_table()
    lo, hi = max(0, start - SURROUNDING_LINES), min(len(lines), end + 1 + SURROUNDING_LINES)
    where = f"path={quoteattr(req.path)} language={quoteattr(req.language)}"
    user = (
        f"<surrounding_code {where} lines={quoteattr(f'{lo + 1}-{hi}')}>\n"
        f"{escape(chr(10).join(lines[lo:hi]))}\n</surrounding_code>\n"
        f"<selected_code {where} lines={quoteattr(f'{start + 1}-{end + 1}')}>\n"
        f"{escape(chr(10).join(lines[start : end + 1]))}\n</selected_code>\n"
        f"<task>{table[req.action]['instruction']}</task>"
    )
    system = "<system_instructions>\n" + str(table["system"]).strip() + "\n</system_instructions>"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _comment_block(text: str, indent: str, marker: str) -> str:
    out: list[str] = []
    for para in text.split("\n"):
        wrapped = textwrap.wrap(para, COMMENT_WIDTH - len(indent) - len(marker) - 1) or [""]
        out.extend(f"{indent}{marker} {w}".rstrip() for w in wrapped)
    return "\n".join(out) + "\n"


def _plain(raw: str) -> str:
    """Model prose without the wrapping it likes to add: fences, quotes, comment markers."""
    text = raw.strip()
    if fenced := _FENCE.search(text):
        text = fenced.group(1).strip()
    text = text.strip('"').strip("'").strip()
    return "\n".join(_MARKER.sub("", ln) for ln in text.split("\n")).strip()


def make_edit(
    action: str, raw: str, lines: list[str], start: int, end: int, language: str
) -> ActionResult:
    marker = doc_comment(language)
    indent = _indent_of(lines[start])
    if action == "refactor":
        fenced = _FENCE.search(raw)
        code = (fenced.group(1) if fenced else raw).strip("\n")
        if not code.strip():
            return ActionResult(raw, None)
        code = _reindent(code, _common_indent(lines[start : end + 1]))
        return ActionResult(raw, LineEdit(start, end + 1, code + "\n"))
    text = _plain(raw)
    if not text:
        return ActionResult(raw, None)
    if action == "docstring" and language == "python":
        opening = next((i for i in range(start, end + 1) if _PY_HEADER.match(lines[i])), None)
        header = next(
            (i for i in range(opening or start, end + 1) if lines[i].rstrip().endswith(":")),
            None,
        )
        if opening is not None and header is not None:
            # The body's indent: a wrapped signature's last line says nothing about it.
            inner = _indent_of(lines[opening]) + "    "
            body = text.replace('"""', "'''")
            if "\n" in body:
                body = body.replace("\n", "\n" + inner).replace("\n" + inner + "\n", "\n\n")
                doc = f'{inner}"""{body}\n{inner}"""\n'
            else:
                doc = f'{inner}"""{body}"""\n'
            return ActionResult(text, LineEdit(header + 1, header + 1, doc))
    return ActionResult(text, LineEdit(start, start, _comment_block(text, indent, marker)))


def _common_indent(lines: list[str]) -> str:
    """The indentation every non-blank line of the selection shares."""
    indents = [_indent_of(ln) for ln in lines if ln.strip()]
    return min(indents, key=len) if indents else ""


def _reindent(code: str, indent: str) -> str:
    """Give returned code the selection's indentation when the model dropped it."""
    body = textwrap.dedent(code)
    return "\n".join((indent + ln) if ln.strip() else "" for ln in body.split("\n"))
