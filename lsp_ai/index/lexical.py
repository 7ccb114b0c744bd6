"""Plain lexical search over a workspace, with no dependencies.

Chat needs *some* retrieval from the first second, long before embeddings are computed, and
identifier matches are what developers ask about most ("where is parse_config_file?"). This
BM25 index answers that on its own, and later serves as the keyword leg of hybrid search.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lsp_ai.index.discover import FileFilter, language_for, read_text

#: Lines per passage and the step between passage starts; the overlap keeps a function
#: that straddles a boundary whole in at least one passage.
WINDOW_LINES = 40
STEP_LINES = 30

#: Okapi BM25 parameters, the usual defaults.
BM25_K1 = 1.2
BM25_B = 0.75

#: Words too common in English questions or in code to tell passages apart.
STOPWORDS: frozenset[str] = frozenset(
    {
        # English
        "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from",
        "how", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "that", "the",
        "there", "this", "to", "was", "we", "what", "where", "which", "who", "why", "with",
        "you", "your",
        # code
        "def", "else", "elif", "end", "false", "fn", "func", "if", "import", "let", "const",
        "nil", "none", "null", "pass", "return", "self", "true", "var", "void",
    }
)  # fmt: skip

_WORD = re.compile(r"\w+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Acronyms before a capitalised word (HTTPServer -> HTTP, Server), words, acronyms, digits.
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


@dataclass(frozen=True)
class Passage:
    """A window of consecutive lines of one file; lines are 0-based and inclusive."""

    path: str
    start_line: int
    end_line: int
    text: str
    language: str


def split_lines(text: str) -> list[str]:
    r"""Split text into lines the way LSP counts them (\n, \r\n or \r).

    `str.splitlines` would also break on form feeds and Unicode separators, which shifts
    line numbers away from what the editor shows. A final line break ends the last line
    rather than starting an empty one.
    """
    if not text:
        return []
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def split_passages(
    path_rel: str,
    text: str,
    language: str,
    window: int = WINDOW_LINES,
    step: int = STEP_LINES,
) -> list[Passage]:
    """Cut a file into overlapping line windows covering every line.

    The last window ends at the last line; windows made only of whitespace are dropped,
    since they could never match a query.
    """
    if window < 1 or not 1 <= step <= window:
        raise ValueError(f"need 1 <= step <= window, got window={window}, step={step}")
    lines = split_lines(text)
    passages: list[Passage] = []
    start = 0
    while start < len(lines):
        end = min(start + window, len(lines)) - 1
        body = "\n".join(lines[start : end + 1])
        if body.strip():
            passages.append(Passage(path_rel, start, end, body, language))
        if end == len(lines) - 1:
            break
        start += step
    return passages


def _identifier_parts(word: str) -> list[str]:
    """Split an identifier on underscores and camelCase boundaries.

    Non-ASCII pieces are kept whole: the camelCase rule is only reliable for ASCII letters.
    """
    parts: list[str] = []
    for piece in word.split("_"):
        if piece.isascii():
            parts.extend(_CAMEL_PART.findall(piece))
        elif piece:
            parts.append(piece)
    return parts


def tokenize(text: str) -> list[str]:
    """Turn code or a question into lower-case search terms.

    Each identifier yields itself and its parts, so `parseConfigFile` matches both the query
    "parse config file" and the query "parseConfigFile". One-character tokens and stopwords
    are dropped.
    """
    tokens: list[str] = []
    for word in _WORD.findall(text):
        whole = word.strip("_").lower()
        parts = [part.lower() for part in _identifier_parts(word)]
        candidates = parts if parts == [whole] else [whole, *parts]
        tokens.extend(t for t in candidates if len(t) > 1 and t not in STOPWORDS)
    return tokens


class LexicalIndex:
    """An in-memory Okapi BM25 index over line-window passages.

    Files can be added, replaced and removed one at a time, which is what didSave and
    file-watcher events need; document statistics are kept incrementally so no operation
    rescans the corpus.
    """

    def __init__(self, window_lines: int = WINDOW_LINES, step_lines: int = STEP_LINES) -> None:
        """Create an empty index cutting files into the given windows."""
        self.window_lines = window_lines
        self.step_lines = step_lines
        self._passages: dict[int, Passage] = {}
        self._lengths: dict[int, int] = {}
        self._postings: dict[str, dict[int, int]] = {}
        self._by_path: dict[str, list[int]] = {}
        self._total_length = 0
        self._next_id = 0

    def __len__(self) -> int:
        """Number of passages indexed."""
        return len(self._passages)

    def __contains__(self, path_rel: object) -> bool:
        """Tell whether a file (by rel path) is indexed."""
        return path_rel in self._by_path

    @property
    def paths(self) -> list[str]:
        """The rel paths of the indexed files, sorted."""
        return sorted(self._by_path)

    def add(self, path_rel: str, text: str, language: str) -> None:
        """Index a file's text, replacing whatever was indexed for that path before."""
        self.remove(path_rel)
        passages = split_passages(path_rel, text, language, self.window_lines, self.step_lines)
        self._by_path[path_rel] = [self._add_passage(passage) for passage in passages]

    def remove(self, path_rel: str) -> None:
        """Forget a file; removing a file that is not indexed is a no-op."""
        for pid in self._by_path.pop(path_rel, []):
            self._remove_passage(pid)

    def search(self, query: str, k: int = 8) -> list[tuple[Passage, float]]:
        """Return up to `k` passages matching the query, best first, with BM25 scores > 0.

        Ties are broken by path and line so results are deterministic.
        """
        if k <= 0 or not self._passages:
            return []
        scores = self._score(set(tokenize(query)))
        ranked = heapq.nsmallest(
            k,
            ((-score, self._passages[pid]) for pid, score in scores.items() if score > 0),
            key=lambda item: (item[0], item[1].path, item[1].start_line),
        )
        return [(passage, -neg) for neg, passage in ranked]

    # ----------------------------------------------------------------- internals

    def _add_passage(self, passage: Passage) -> int:
        """Store one passage and post its term frequencies."""
        pid = self._next_id
        self._next_id += 1
        counts = Counter(tokenize(passage.text))
        self._passages[pid] = passage
        self._lengths[pid] = sum(counts.values())
        self._total_length += self._lengths[pid]
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[pid] = tf
        return pid

    def _remove_passage(self, pid: int) -> None:
        """Drop one passage and its postings, pruning terms no passage uses any more."""
        passage = self._passages.pop(pid)
        self._total_length -= self._lengths.pop(pid)
        for term in set(tokenize(passage.text)):
            postings = self._postings.get(term)
            if postings is None:
                continue
            postings.pop(pid, None)
            if not postings:
                del self._postings[term]

    def _score(self, terms: set[str]) -> dict[int, float]:
        """Accumulate BM25 scores per passage for the query terms."""
        n = len(self._passages)
        avg_length = self._total_length / n if self._total_length else 1.0
        scores: dict[int, float] = {}
        for term in terms:
            postings = self._postings.get(term)
            if not postings:
                continue
            idf = _idf(n, len(postings))
            for pid, tf in postings.items():
                norm = 1 - BM25_B + BM25_B * self._lengths[pid] / avg_length
                gain = idf * tf * (BM25_K1 + 1) / (tf + BM25_K1 * norm)
                scores[pid] = scores.get(pid, 0.0) + gain
        return scores


def _idf(n: int, df: int) -> float:
    """BM25 inverse document frequency, in the always-positive form Lucene uses.

    The classic form goes negative for terms in more than half the passages, which would
    make a match *lower* a passage's score; in a small workspace that is common.
    """
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def build_lexical_index(
    root: Path, exclude: Sequence[str] = (), max_file_bytes: int = 1_000_000
) -> LexicalIndex:
    """Index every file that `FileFilter` lets through; unreadable files are skipped."""
    file_filter = FileFilter(root, exclude=exclude, max_file_bytes=max_file_bytes)
    index = LexicalIndex()
    for found in file_filter.walk():
        try:
            text = read_text(found.path)
        except OSError:
            continue  # vanished or became unreadable since the walk listed it
        index.add(found.rel, text, language_for(found.rel))
    return index
