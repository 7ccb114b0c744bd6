"""RAG-light: cheap repository context for completion, with no vector search.

Two sources, both in memory and ready on the keystroke path:

- the signatures of definitions that the current file uses but other files define, from the
  index's symbol table, ranked by BM25 against the lines around the cursor. On real code the
  definition a line needs is far more often among what its file imports than among what a
  search with the nearby lines finds;
- a ring buffer of excerpts from files the user recently opened or edited.

The block they make opens the prompt, so it has to stay put: llama.cpp reuses its KV cache
only up to the first token that differs, and a changed block means evaluating the whole
prompt again. It is recomputed when the cursor leaves the lines it was computed for or another
file's excerpt changes, never because of typing on the current line.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count

from lsp_ai.completion.context import CHARS_PER_TOKEN, keep_first_lines
from lsp_ai.index.symbols import Symbol, SymbolTable
from lsp_ai.spans import CodeSpan

EXCERPT_LINES = 32  # lines kept from a recently visited file, around where the user was
RECENT_EXCERPTS = 8  # ring buffer size
QUERY_LINES = 24  # lines above the cursor that rank the definitions
REANCHOR_LINES = 24  # cursor movement that earns a new selection
MAX_DEFS_PER_NAME = 2  # a common name (`get`, `run`) should not flood the block
MAX_MEMBERS = 16  # methods and fields brought in by a class the file names
_TYPE_KINDS = {"class", "struct", "interface", "trait", "enum", "type", "impl"}
SIGNATURE_SHARE = 0.6  # of the context budget, the rest goes to recent excerpts

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def words(text: str) -> list[str]:
    """Identifiers and their snake/camel parts, lower-cased: `loadConfig` -> load, config."""
    out: list[str] = []
    for ident in _IDENT.findall(text):
        low = ident.lower()
        out.append(low)
        parts = [p.lower() for piece in ident.split("_") for p in _CAMEL.findall(piece)]
        if len(parts) > 1:
            out.extend(parts)
    return out


@dataclass(frozen=True)
class _Excerpt:
    serial: int  # changes whenever the excerpt's text does
    path: str
    start: int
    end: int  # exclusive
    text: str  # lines start..end without the empty lines at either edge
    first: int  # the line `text` starts on


class RecentExcerpts:
    """Excerpts of recently opened or edited files, oldest first; safe across threads."""

    def __init__(self, capacity: int = RECENT_EXCERPTS, lines: int = EXCERPT_LINES) -> None:
        self._capacity = capacity
        self._lines = lines
        self._excerpts: list[_Excerpt] = []
        self._serials = count()
        self._lock = threading.Lock()

    def note(self, path: str, text: str, line: int) -> None:
        """Remember the lines around `line`; replaces an overlapping excerpt of the same file."""
        lines = text.split("\n")
        start = max(0, min(line - self._lines // 2, len(lines) - self._lines))
        end = min(len(lines), start + self._lines)
        joined = "\n".join(lines[start:end])
        body = joined.strip("\n")
        first = start + len(joined) - len(joined.lstrip("\n"))
        with self._lock:
            kept = [w for w in self._excerpts if not self._overlaps(w, path, start, end)]
            if body.strip():
                kept.append(_Excerpt(next(self._serials), path, start, end, body, first))
            self._excerpts = kept[-self._capacity :]

    def forget(self, path: str) -> None:
        with self._lock:
            self._excerpts = [w for w in self._excerpts if w.path != path]

    def _overlaps(self, w: _Excerpt, path: str, start: int, end: int) -> bool:
        return w.path == path and min(w.end, end) - max(w.start, start) > self._lines // 2

    def others(self, path: str) -> list[_Excerpt]:
        with self._lock:
            return [w for w in self._excerpts if w.path != path]


@dataclass(frozen=True)
class _Block:
    anchor: int  # cursor line it was computed for
    excerpts: tuple[int, ...]  # serials of the recent excerpts it saw
    snippets: tuple[CodeSpan, ...]
    display: str  # the document's own path as the prompt shows it


SymbolSource = Callable[[str], "tuple[SymbolTable, str] | None"]


class RepoContext:
    """Chooses the snippets for one completion prompt and keeps them stable between keys."""

    def __init__(self, symbols_for: SymbolSource, recent: RecentExcerpts, documents: int = 64):
        self._symbols_for = symbols_for
        self.recent = recent
        self._blocks: OrderedDict[str, _Block] = OrderedDict()
        self._documents = documents

    def drop_caches(self) -> None:
        self._blocks = OrderedDict()

    def snippets(self, path: str, text: str, line: int, budget_tokens: int) -> list[CodeSpan]:
        """Context for a cursor on `line` of the document at `path` (a file system path).

        Each snippet is a span of another file under the path the model sees. On most
        keystrokes this is the cached block: no path is resolved, nothing is ranked.
        """
        excerpts = self.recent.others(path)
        serials = tuple(w.serial for w in excerpts)
        block = self._blocks.get(path)
        if block and block.excerpts == serials and abs(line - block.anchor) <= REANCHOR_LINES:
            self._blocks.move_to_end(path)
            return list(block.snippets)
        found = self._symbols_for(path)
        rel = found[1] if found else path
        budget = int(budget_tokens * CHARS_PER_TOKEN)
        sigs: list[CodeSpan] = []
        if found is not None:
            defs = rank_definitions(found[0], rel, text, line)
            sigs = _signature_snippets(defs, int(budget * SIGNATURE_SHARE))
        used = sum(_cost(s) for s in sigs)
        recent: list[CodeSpan] = []
        for w in reversed(excerpts):  # newest first while the budget lasts...
            piece = keep_first_lines(w.text, budget - used - len(w.path) - 16)
            if not piece:
                break
            last = w.first + piece.count("\n")
            recent.append(CodeSpan(self.display(w.path), w.first, last, piece))
            used += _cost(recent[-1])
        # ...but shown oldest first, so that a new excerpt extends the block at its end.
        ordered = tuple(sigs + recent[::-1])
        display = rel if found else path.rsplit("/", 1)[-1]
        self._blocks[path] = _Block(line, serials, ordered, display)
        self._blocks.move_to_end(path)
        while len(self._blocks) > self._documents:
            self._blocks.popitem(last=False)
        return list(ordered)

    def display(self, path: str) -> str:
        """A document's path as the model should see it: relative to its workspace root."""
        if (block := self._blocks.get(path)) is not None:
            return block.display
        found = self._symbols_for(path)
        return found[1] if found else path.rsplit("/", 1)[-1]


def _cost(s: CodeSpan) -> int:
    return len(s.path) + len(s.text) + 16  # 16: the header around each snippet


def rank_definitions(table: SymbolTable, rel: str, text: str, line: int) -> list[Symbol]:
    """Definitions from other files that this file names, best match for the cursor first.

    A class the file names brings its members along: `inv.` needs Inventory's methods,
    though the file never spells them. BM25 ranks them all, with the identifiers of the
    lines above the cursor as the query and each definition's name and signature as its
    document.
    """
    lines = text.split("\n")
    used = set(_IDENT.findall(text))
    candidates: list[Symbol] = []
    for name in sorted(used):
        found = [s for s in table.lookup(name) if s.path != rel][:MAX_DEFS_PER_NAME]
        candidates.extend(found)
        for owner in found:
            if owner.kind in _TYPE_KINDS:
                candidates.extend(_members(table, owner))
    candidates = list(dict.fromkeys(candidates))
    if not candidates:
        return []
    query = Counter(words("\n".join(lines[max(0, line - QUERY_LINES) : line + 1])))
    docs = [words(f"{s.qualified} {s.signature}") for s in candidates]
    scores = _bm25(query, docs)
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    return [candidates[i] for i in order if scores[i] > 0]


def _members(table: SymbolTable, owner: Symbol) -> list[Symbol]:
    prefix = owner.qualified + "."
    inside = [
        s
        for s in table.definitions(owner.path)
        if s.qualified.startswith(prefix)
        or (s is not owner and owner.line < s.line <= owner.end_line)
    ]
    return inside[:MAX_MEMBERS]


def _bm25(query: Counter[str], docs: Sequence[Sequence[str]]) -> list[float]:
    k1, b = 1.2, 0.75
    n = len(docs)
    avg = sum(len(d) for d in docs) / n or 1.0
    df: Counter[str] = Counter()
    for d in docs:
        df.update(set(d))
    out = []
    for d in docs:
        tf = Counter(d)
        score = 0.0
        for term in query:
            if term not in tf:
                continue
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            score += idf * tf[term] * (k1 + 1) / (tf[term] + k1 * (1 - b + b * len(d) / avg))
        out.append(score)
    return out


def _signature_snippets(defs: Sequence[Symbol], budget: int) -> list[CodeSpan]:
    """The best definitions within budget, grouped by file in a stable order.

    A file's snippet holds only the signatures, one a line; its lines are those of the
    definitions they open, from the first to the end of the last.
    """
    kept: list[Symbol] = []
    used = 0
    for sym in defs:
        cost = len(sym.signature) + 1 + (0 if any(k.path == sym.path for k in kept) else 24)
        if used + cost > budget:
            continue
        kept.append(sym)
        used += cost
    by_path: dict[str, list[Symbol]] = {}
    for sym in sorted(kept, key=lambda s: (s.path, s.line)):
        by_path.setdefault(sym.path, []).append(sym)
    return [
        CodeSpan(
            path,
            syms[0].line,
            max(s.end_line for s in syms),
            "\n".join(s.signature for s in syms),
        )
        for path, syms in by_path.items()
    ]
