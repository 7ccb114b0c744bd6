"""Code navigation for coding agents: definitions, the call graph, a file's outline, bounded reads.

The index already knows where things are defined and which names each chunk calls
(`lsp_ai.index.symbols`); this module answers an agent's questions from it, over every
workspace root, with paths as search hits show them (a root after the first is named in
front). Reading a file is held to the rules of the index: a file can be read only if the index
may hold it (inside a root once symlinks are resolved, not a secret, not ignored, not binary),
it is read through the same checked reader the crawl uses, and secrets in it are masked. Nothing
here knows a protocol; the assistant runs these functions in its search worker and turns
`Refused` into its `BadRequest`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pathspec

from lsp_ai.completion.context import CHARS_PER_TOKEN, keep_first_lines
from lsp_ai.index.discover import (
    SYMLINK_TO_SECRET,
    DiscoveredFile,
    NotIndexable,
    is_utf8,
    read_source,
)
from lsp_ai.index.hits import SearchHit
from lsp_ai.index.symbols import Symbol
from lsp_ai.languages import language_for, language_named, language_names
from lsp_ai.redaction import redact
from lsp_ai.spans import CodeSpan

if TYPE_CHECKING:
    from lsp_ai.index.search import Root
    from lsp_ai.index.service import IndexService

#: Definitions, call sites or callees one answer lists at most: a name such as `get` can have
#: hundreds, and an agent is better served by a narrower question than by all of them.
MAX_RESULTS = 100
#: Lines one read returns at most; the answer says where it stopped.
MAX_READ_LINES = 1000
#: Below this a budget holds no useful hit (a path and one line of code).
MIN_BUDGET_TOKENS = 50
#: What a hit costs besides its code: path, lines, scope and the serialisation around them.
HIT_OVERHEAD_CHARS = 120
#: A line of a call site as shown, at most (minified code can have one line of 100 KB).
MAX_LINE_CHARS = 240


class Refused(ValueError):
    """A question navigation cannot answer; the message names the problem and the fix."""


@dataclass(frozen=True)
class CallSite:
    """A line that calls a symbol, and the definition it sits in."""

    path: str
    line: int  # 0-based
    text: str  # that line, stripped and cut to MAX_LINE_CHARS, secrets masked
    caller: str | None  # qualified name of the enclosing definition; None at top level
    scope: str  # the enclosing code in words: "method `load` in class `Config`"


@dataclass(frozen=True)
class CalleesOf:
    """One definition of a name and the workspace definitions it calls."""

    definition: Symbol
    callees: list[Symbol]


@dataclass(frozen=True)
class Excerpt:
    """Lines of a workspace file as read: `span.end_line` says where the read stopped."""

    span: CodeSpan
    total_lines: int


# -- names and the call graph --------------------------------------------------------------


def _parts(name: str) -> list[str]:
    """`Config.load`, `config::load` and `Config#load` as ["Config", "load"]."""
    return [p for p in re.split(r"\.|::|#", name.strip()) if p]


def _named(root: Root, name: str) -> list[Symbol]:
    """Definitions in one root named `name`, bare (`load`) or qualified (`Config.load`).

    Paths are as the root's own symbol table has them (`root.key` adds the root's name).
    """
    parts = _parts(name)
    found = root.symbols.lookup(parts[-1])
    return [s for s in found if _parts(s.qualified)[-len(parts) :] == parts]


def _check_name(name: str) -> str:
    if not _parts(name):
        raise Refused("name is empty; pass a function, class or method name such as `load`")
    return name.strip()


def find_symbol(roots: Sequence[Root], name: str) -> list[Symbol]:
    """Every definition named `name` (bare or qualified), by path and line."""
    name = _check_name(name)
    found = [replace(s, path=root.key(s.path)) for root in roots for s in _named(root, name)]
    return sorted(found, key=lambda s: (s.path, s.line))[:MAX_RESULTS]


def outline(roots: Sequence[Root], index: IndexService, path: str) -> list[Symbol]:
    """The definitions in one file, in file order; the file must be one that may be read."""
    i, found = _readable(index, path)
    defs = roots[i].symbols.definitions(found.rel)
    return sorted(
        (replace(s, path=roots[i].key(s.path)) for s in defs), key=lambda s: (s.line, -s.end_line)
    )


def callees(roots: Sequence[Root], name: str) -> list[CalleesOf]:
    """For each definition of `name`, the workspace definitions it calls.

    Calls are matched to definitions by name, preferring one in the same file (the symbol
    table's rule); calls into libraries outside the workspace are not listed.
    """
    name = _check_name(name)
    out = [
        CalleesOf(
            replace(d, path=root.key(d.path)),
            [
                replace(s, path=root.key(s.path))
                for s in root.symbols.callees(d.path, d.line, d.end_line)
            ][:MAX_RESULTS],
        )
        for root in roots
        for d in _named(root, name)
    ]
    return out[:MAX_RESULTS]


def callers(roots: Sequence[Root], name: str) -> list[CallSite]:
    """The lines that call `name`, with the definition each sits in.

    The call graph records calls by the callee's bare name, so `Config.load` finds every call
    of a `load`; the enclosing definition and the line tell them apart.
    """
    name = _check_name(name)
    bare = _parts(name)[-1]
    # The name called: `load(`, or `load` ending a line whose arguments follow on the next.
    call = re.compile(rf"(?<![\w$]){re.escape(bare)}\s*(?:\(|$)")
    sites: dict[tuple[str, int], CallSite] = {}
    for root in roots:
        chunks = {(c.path, c.start_line, c.end_line): c for c in root.symbols.callers(bare)}
        # In path order, and no further than the answer needs: each chunk is one store
        # lookup, and a common name (`get`, `__init__`) has thousands of callers in a large
        # repository (minutes of lookups on 10,000 files).
        for key in sorted(chunks):
            if len(sites) >= MAX_RESULTS:
                break
            c = chunks[key]
            for site in _call_lines(root, c.path, c.start_line, c.end_line, c.symbol, call):
                sites.setdefault((site.path, site.line), site)
    return sorted(sites.values(), key=lambda s: (s.path, s.line))[:MAX_RESULTS]


def _call_lines(
    root: Root, path: str, start: int, end: int, caller: str | None, call: re.Pattern[str]
) -> list[CallSite]:
    """The lines of the chunk at `path` `start`-`end` that call; its first line if none does.

    The chunk's text comes from the index (masked when it was indexed) rather than from the
    file, so the lines are those the call graph was built from.
    """
    stored = root.store.chunks_overlapping(path, start, end)
    exact = [h for h in stored if (h.span.start_line, h.span.end_line) == (start, end)]
    if not (exact or stored):
        return []  # the file changed since the call graph was saved
    span = (exact or stored)[0].span
    lines = span.text.split("\n")
    found = [n for n, text in enumerate(lines) if call.search(text)] or [0]
    return [
        CallSite(
            root.key(path),
            span.start_line + n,
            redact(lines[n].strip())[:MAX_LINE_CHARS],
            caller,
            span.scope,
        )
        for n in found
    ]


# -- reading files -------------------------------------------------------------------------


def read_code(index: IndexService, path: str, start_line: int, end_line: int) -> Excerpt:
    """Lines `start_line`..`end_line` (0-based, inclusive) of a file, secrets masked.

    The end is cut to the file's last line and to MAX_READ_LINES lines; a start past the end
    of the file is refused.
    """
    if start_line < 0 or end_line < start_line:
        raise Refused(
            f"the lines {start_line + 1}-{end_line + 1} are not a range; pass start_line >= 1 "
            "and end_line >= start_line (1-based, inclusive)"
        )
    shown, text = read_file(index, path)
    lines = redact(text).split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no line of its own
    if start_line >= len(lines):
        raise Refused(
            f"{shown} has {len(lines)} lines; start_line {start_line + 1} is past its end"
        )
    last = min(end_line, len(lines) - 1, start_line + MAX_READ_LINES - 1)
    text = "\n".join(line.removesuffix("\r") for line in lines[start_line : last + 1])
    return Excerpt(CodeSpan(shown, start_line, last, text), len(lines))


def read_file(index: IndexService, path: str) -> tuple[str, str]:
    """(the path as hits show it, the whole text) of a workspace file the index may hold.

    Refused, with the reason, for anything `_readable` refuses, and for a file changed since
    it was judged. The text is as on disk: callers mask secrets before it goes out.
    """
    i, found = _readable(index, path)
    shown = index.prefix(i) + found.rel
    rules = index.file_filter(i)
    try:
        data = read_source(found.path, rules.max_file_bytes, rules.real_root, found.identity)
    except NotIndexable as exc:  # changed since it was judged: a symlink, a FIFO, too large
        raise Refused(f"path {shown!r} cannot be read: {exc}") from exc
    except OSError as exc:
        raise Refused(f"path {shown!r} cannot be read: {exc.strerror or exc}") from exc
    return shown, data.decode("utf-8", "replace")


def _readable(index: IndexService, path: str) -> tuple[int, DiscoveredFile]:
    """The root holding `path` and the file as the index rules judge it; else Refused.

    `path` is relative to the first root (or names another root first, as hits do), or
    absolute. It is judged as named and as resolved: `..` that leaves every root, a symlink
    to a file outside, a secret file (or a link to one), a file git ignores, a binary or
    too-large file are all refused, with the reason.
    """
    if not path.strip():
        raise Refused("path is empty; pass a file path as search_code shows them")
    if "\x00" in path or not is_utf8(path):
        raise Refused(f"path {path!r} holds a NUL or an unpaired surrogate; no file has that name")
    candidate = Path(path) if os.path.isabs(path) else index.resolve(path)
    named = Path(os.path.abspath(candidate))
    where = next((i for i, r in enumerate(index.roots) if named.is_relative_to(r)), None)
    if where is None:
        roots = ", ".join(str(r) for r in index.roots)
        raise Refused(
            f"path {path!r} is outside the workspace ({roots}); pass a path inside it, as "
            "search_code shows them"
        )
    if (private := index.private_reason(named)) is not None:
        raise Refused(f"path {path!r} is {private}; lsp-ai never reads it out")
    verdict = index.file_filter(where).examine(named)
    if isinstance(verdict, DiscoveredFile):
        return where, verdict
    raise Refused(_refusal(path, verdict))


def _refusal(path: str, reason: str) -> str:
    """Why a path cannot be read, in words an agent can act on."""
    if reason in ("secret", SYMLINK_TO_SECRET):
        return f"path {path!r} is a secret file; lsp-ai never reads it out"
    if "ignored" in reason:
        return f"path {path!r} is ignored (.gitignore, .ignore or index.exclude); not read"
    if "outside" in reason or "symlinked directory" in reason:
        return f"path {path!r} resolves outside the workspace (a symlink); lsp-ai does not read it"
    if reason.startswith("unreadable") and "No such file" in reason:
        return (
            f"path {path!r}: no such file in the workspace; search_code or find_symbol finds paths"
        )
    if reason == "not a file":
        return f"path {path!r} is a folder; pass a file (outline and read_code take one file)"
    return f"path {path!r} cannot be read: {reason}"


# -- search results ------------------------------------------------------------------------


@dataclass(frozen=True)
class HitFilter:
    """Which hits a search keeps: a gitignore-style path pattern and a language."""

    path_glob: str | None = None
    language: str | None = None

    @classmethod
    def parse(cls, path_glob: str | None, language: str | None) -> HitFilter | None:
        """The filter, None for no filter; Refused for a pattern or language that is no good."""
        glob = path_glob.strip() if path_glob else None
        if glob and glob.startswith("!"):
            raise Refused(
                f"path_glob {path_glob!r} only excludes; pass what to include, e.g. 'src/**/*.py'"
            )
        lang = None
        if language and language.strip():
            lang = language_named(language)
            if lang is None:
                raise Refused(
                    f"language {language!r} is not one lsp-ai knows; pass one of "
                    f"{', '.join(language_names())}"
                )
        return cls(glob, lang) if glob or lang else None

    def keep(self, hits: Sequence[SearchHit]) -> list[SearchHit]:
        spec = pathspec.GitIgnoreSpec.from_lines([self.path_glob]) if self.path_glob else None
        return [
            h
            for h in hits
            if (spec is None or spec.match_file(h.span.path))
            and (
                self.language is None or (h.language or language_for(h.span.path)) == self.language
            )
        ]


def fit_budget(hits: Sequence[SearchHit], max_tokens: int) -> list[SearchHit]:
    """The best hits whose code fits in `max_tokens`, best first.

    Whole hits while they fit; the first that does not is cut to the whole lines that still
    fit (its end line moves with the cut, so it still names the lines it holds), then the
    list ends. Tokens are estimated from characters, as the completion budgets are.
    """
    if max_tokens < MIN_BUDGET_TOKENS:
        raise Refused(f"max_tokens {max_tokens} holds no result; pass at least {MIN_BUDGET_TOKENS}")
    room = int(max_tokens * CHARS_PER_TOKEN)
    out: list[SearchHit] = []
    for hit in hits:
        cost = len(hit.span.text) + HIT_OVERHEAD_CHARS
        if cost <= room:
            out.append(hit)
            room -= cost
            continue
        kept = keep_first_lines(hit.span.text, room - HIT_OVERHEAD_CHARS)
        if kept.strip():
            end = hit.span.start_line + kept.count("\n")
            out.append(replace(hit, span=replace(hit.span, text=kept, end_line=end)))
        break
    return out
