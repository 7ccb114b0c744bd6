"""Documented functions: find them, blank their docs in place, keep first sentences as queries.

A documented function is a natural retrieval question with a known answer: the first
sentence of its documentation says what it does, in words its author chose. `lsp-ai eval`
and the retrieval benchmark (``benchmarks/retrieval_quality.py``) both find every function
or method that carries documentation, blank that documentation out of a copy that will be
indexed (or the task would be trivial), and keep the first sentence as a query whose answer
is the function's line range.

Languages and where their documentation lives:

- Python: the docstring opening the body;
- JavaScript / TypeScript: the ``/** ... */`` block directly above the definition (or above
  its ``export``/``const`` wrapper and decorators; one blank line may separate them, as JSDoc
  allows and express does); JSDoc tags (``@param`` ...) end the description and
  ``{@link X}`` becomes ``X``;
- Go: the run of ``//`` comment lines directly above ``func``;
- Rust: the run of ``///`` lines above ``fn`` (attributes such as ``#[inline]`` may sit
  between them).

One mechanism for all of them (tree-sitter, through the grammars and tables the indexer's
chunker uses): a definition the chunker would call a function, with a body, whose doc can
be cut cleanly (it has its lines to itself), is a candidate. Its doc lines are replaced by
empty lines, so every line number stays what it was and the target range needs no
re-parsing. The query is the doc's first sentence, minus a leading copy of the function's
own name (Go's ``Foo does ...`` convention would otherwise hand every method the
identifier), and it must keep at least ``MIN_SENTENCE_WORDS`` words. A function must keep
``MIN_FUNCTION_LINES`` non-blank lines once its doc is gone. Every doc found is removed,
also from functions too short to be targets and from body-less declarations (TypeScript
signatures and ``.d.ts`` typings), so no other function's doc repeats a query; sentences
found (case-insensitively) on more than one function are dropped as ambiguous. Targets are
sampled with ``random.Random(seed)``.
"""

from __future__ import annotations

import ast
import inspect
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node, QueryCursor

from lsp_ai.index.discover import FileFilter, read_text
from lsp_ai.index.syntax import LanguageSpec, definition_name, node_text, spec_for, tools_for
from lsp_ai.index.windows import split_lines
from lsp_ai.languages import DOCUMENTED_LANGUAGES, DocStyle, doc_comment, doc_style, language_for

MIN_SENTENCE_WORDS = 3
MIN_FUNCTION_LINES = 4
#: Blank lines allowed between a ``/** ... */`` comment and the definition it documents.
MAX_JSDOC_GAP = 1

#: Languages whose files a corpus of the key language strips and draws targets from.
LANGUAGE_FAMILIES = {"javascript": {"javascript", "typescript", "tsx"}}

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_JSDOC_LINK = re.compile(r"\{@(?:link|linkcode|linkplain)\s+([^}|\s]+)[^}]*\}")


# -- finding documented functions --------------------------------------------------------


@dataclass(frozen=True)
class DocFunction:
    """A function with documentation that can be cut out cleanly."""

    symbol: str  # qualified as the syntax says: "WebSocket.send", "Mux.Get"
    sentence: str  # the query: first sentence of the doc, leading own name removed
    lines: tuple[int, int]  # 0-based inclusive: decorators/attributes to the last line
    doc_lines: tuple[int, int]  # 0-based inclusive rows of the documentation
    code_lines: int  # non-blank lines of the function once its doc is gone
    has_body: bool


def first_sentence(doc: str) -> str:
    """The first sentence of a doc's first paragraph, whitespace collapsed."""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    match = re.match(r"(.+?[.!?])(?:\s|$)", para)
    return (match.group(1) if match else para).strip()


def query_sentence(doc: str, name: str) -> str:
    """The first sentence, without a leading copy of the function's name (``Foo returns``)."""
    sentence = first_sentence(doc)
    head, _, rest = sentence.partition(" ")
    if rest and head.strip("`'\"*_()") == name:
        sentence = rest
    return sentence


def _block_doc_text(comment: str) -> str:
    """The description of a ``/** ... */`` comment: stars gone, stopped at the first tag."""
    body = comment.removeprefix("/**").removesuffix("*/")
    out: list[str] = []
    for line in body.splitlines():
        line = line.strip()
        line = line[1:].strip() if line.startswith("*") else line
        if line.startswith("@"):
            break
        out.append(line)
    return _JSDOC_LINK.sub(r"\1", "\n".join(out))


def _line_doc_text(comments: list[Node], prefix: str) -> str:
    return "\n".join(node_text(c).strip().removeprefix(prefix).strip() for c in comments)


def _starts_line(node: Node, data: bytes) -> bool:
    line_start = data.rfind(b"\n", 0, node.start_byte) + 1
    return not data[line_start : node.start_byte].strip()


def _blank_between(data: bytes, node: Node, row: int) -> bool:
    """Whether only whitespace lies between the end of ``node`` and the start of ``row``."""
    rest = data[node.end_byte :].split(b"\n", row - node.end_point.row)
    return len(rest) > row - node.end_point.row and not b"".join(rest[:-1]).strip()


def _last_row(node: Node) -> int:
    """The last row a node has text on (a node may end at column 0 of the next row)."""
    end = node.end_point
    return end.row - 1 if end.column == 0 and end.row > node.start_point.row else end.row


def _outer(node: Node, spec: LanguageSpec) -> Node:
    """Climb through wrappers (``export``, ``const``, decorators) that hold only this node."""
    while (parent := node.parent) is not None and parent.type in spec.wrappers:
        kids = parent.named_children
        if kids[-1] != node or any(k.type not in spec.attached for k in kids[:-1]):
            break
        node = parent
    return node


def _function_body(node: Node, spec: LanguageSpec) -> Node | None:
    body = node.child_by_field_name("body")
    rule = spec.definitions[node.type]
    if body is None and rule.value_field is not None:
        value = node.child_by_field_name(rule.value_field)
        body = value.child_by_field_name("body") if value is not None else None
    return body


def _is_function(node: Node, spec: LanguageSpec) -> bool:
    rule = spec.definitions.get(node.type)
    if rule is None or rule.role != "function":
        return False
    if rule.value_field is not None:
        value = node.child_by_field_name(rule.value_field)
        if value is None or value.type not in spec.function_values:
            return False
    return definition_name(node, rule) is not None


def _symbol(node: Node, spec: LanguageSpec) -> tuple[str, str]:
    """(simple name, qualified name): enclosing named definitions, the syntax's qualifier."""
    named = definition_name(node, spec.definitions[node.type])
    assert named is not None
    name, qualifier = named
    parts = [qualifier, name] if qualifier else [name]
    parent = node.parent
    while parent is not None:
        rule = spec.definitions.get(parent.type)
        if rule is not None and rule.role != "function":
            owner = definition_name(parent, rule)
            if owner is not None:
                parts.insert(0, owner[0])
        parent = parent.parent
    return name, ".".join(parts)


def _python_docstring(node: Node, data: bytes) -> tuple[str, Node] | None:
    """The docstring opening a function body and its statement, if it can be cut cleanly."""
    body = node.child_by_field_name("body")
    statements = [c for c in body.named_children if c.type != "comment"] if body else []
    if len(statements) < 2:
        return None
    doc = statements[0]
    # Some grammar versions wrap the string in an expression_statement, others do not.
    inner = doc.named_children[0] if doc.type == "expression_statement" else doc
    if inner.type != "string" or (doc is not inner and doc.named_child_count != 1):
        return None
    if not _starts_line(doc, data) or statements[1].start_point.row <= _last_row(doc):
        return None
    try:
        value = ast.literal_eval(node_text(doc))
    except (SyntaxError, ValueError):
        return None
    return (inspect.cleandoc(value), doc) if isinstance(value, str) else None


def _comment_doc(
    outer: Node, spec: LanguageSpec, style: DocStyle, language: str, data: bytes
) -> tuple[str, list[Node], int] | None:
    """(doc text, comment nodes, first row of attachments below them) above ``outer``."""
    start = outer.start_point.row
    prev = outer.prev_named_sibling
    while (
        prev is not None
        and prev.type in spec.attachments
        and _last_row(prev) >= start - 1
        and _starts_line(prev, data)
    ):
        start = prev.start_point.row
        prev = prev.prev_named_sibling
    first_code_row = start
    comments: list[Node] = []
    prefix = doc_comment(language)
    # JSDoc belongs to the next definition even across blank lines (express writes one).
    gap = MAX_JSDOC_GAP if style == "block" else 0
    while (
        prev is not None
        and prev.type in spec.comments
        and start - gap - 1 <= _last_row(prev) < start
        and _blank_between(data, prev, start)
        and _starts_line(prev, data)
    ):
        text = node_text(prev).strip()
        if style == "block":
            if text.startswith("/**") and not text.startswith("/***") and not comments:
                comments.append(prev)
            break
        if not text.startswith(prefix) or text.startswith(prefix + "/"):
            break
        comments.append(prev)
        start = prev.start_point.row
        prev = prev.prev_named_sibling
    if not comments:
        return None
    comments.reverse()
    if style == "block":
        text = _block_doc_text(node_text(comments[0]).strip())
    else:
        text = _line_doc_text(comments, prefix)
    return text, comments, first_code_row


def documented_functions(text: str, language: str) -> tuple[list[str], list[DocFunction]]:
    r"""The file's lines (endings kept) and its functions whose doc can be cut cleanly.

    Line numbers are the index's: ``\n``, ``\r\n`` and ``\r`` end lines, as in
    ``windows.split_lines``; the tree is parsed from the lines joined by ``\n``, as the
    chunker does, so its rows are those line numbers.
    """
    style = doc_style(language)
    spec = spec_for(language)
    tools = tools_for(language)
    lines = _LINE.findall(text)
    if style is None or spec is None or tools is None or not lines:
        return lines, []
    data = "\n".join(split_lines(text)).encode("utf-8", errors="replace")
    tree = tools.parser.parse(data)
    found: list[DocFunction] = []
    for node in QueryCursor(tools.query).captures(tree.root_node).get("def", []):
        if not _is_function(node, spec):
            continue
        outer = _outer(node, spec)
        name, symbol = _symbol(node, spec)
        if style == "docstring":
            docstring = _python_docstring(node, data)
            if docstring is None:
                continue
            doc, doc_node = docstring
            doc_rows = (doc_node.start_point.row, _last_row(doc_node))
            first_row = outer.start_point.row
        else:
            comment = _comment_doc(outer, spec, style, language, data)
            if comment is None:
                continue
            doc, comments, first_row = comment
            doc_rows = (comments[0].start_point.row, _last_row(comments[-1]))
        last_row = max(_last_row(outer), _last_row(node))
        code = sum(
            1
            for row in range(node.start_point.row, last_row + 1)
            if not doc_rows[0] <= row <= doc_rows[1] and lines[row].strip()
        )
        found.append(
            DocFunction(
                symbol=symbol,
                sentence=query_sentence(doc, name),
                lines=(first_row, last_row),
                doc_lines=doc_rows,
                code_lines=code,
                has_body=_function_body(node, spec) is not None,
            )
        )
    found.sort(key=lambda fn: fn.lines)
    return lines, found


def blank_rows(lines: list[str], rows: set[int]) -> str:
    """The text with the given rows emptied, their line endings kept."""
    out = []
    for i, line in enumerate(lines):
        if i in rows:
            stripped = line.rstrip("\r\n")
            out.append(line[len(stripped) :])
        else:
            out.append(line)
    return "".join(out)


# -- retrieval targets -----------------------------------------------------------------


@dataclass(frozen=True)
class DocTarget:
    rel: str
    symbol: str
    sentence: str
    lines: tuple[int, int]  # 0-based inclusive; unchanged by the stripping


def is_target(fn: DocFunction) -> bool:
    return (
        fn.has_body
        and fn.code_lines >= MIN_FUNCTION_LINES
        and len(fn.sentence.split()) >= MIN_SENTENCE_WORDS
    )


def strip_docs(
    repo: Path, language: str | None = None
) -> tuple[list[DocTarget], Counter[str], Counter[str]]:
    """Blank every recognised function doc in ``language`` files under ``repo``, in place.

    JavaScript includes TypeScript (a package's ``.d.ts`` typings repeat its docs). Files
    in other languages (a Python package's documentation theme scripts) are left alone;
    ``None`` strips every language that has a doc style (a user's mixed repository).
    Returns the candidate targets, how often each (lower-cased) query sentence occurs over
    all docs removed, and how many docs were removed per language.
    """
    languages = (
        DOCUMENTED_LANGUAGES if language is None else LANGUAGE_FAMILIES.get(language, {language})
    )
    targets: list[DocTarget] = []
    sentences: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    for f in FileFilter(repo).walk():
        language = language_for(f.rel)
        if language not in languages or language not in DOCUMENTED_LANGUAGES:
            continue
        try:
            text = read_text(f.path)
        except OSError:
            continue
        lines, functions = documented_functions(text, language)
        if not functions:
            continue
        rows = {r for fn in functions for r in range(fn.doc_lines[0], fn.doc_lines[1] + 1)}
        f.path.write_text(blank_rows(lines, rows), encoding="utf-8", newline="")
        removed[language] += len(functions)
        for fn in functions:
            sentences[fn.sentence.lower()] += 1
            if is_target(fn):
                targets.append(DocTarget(f.rel, fn.symbol, fn.sentence, fn.lines))
    return targets, sentences, removed


def sample_targets(
    targets: list[DocTarget], sentences: Counter[str], max_queries: int, seed: int = 0
) -> tuple[list[DocTarget], int]:
    """Unambiguous targets, ``max_queries`` of them sampled; also how many there were."""
    unique = sorted(
        (t for t in targets if sentences[t.sentence.lower()] == 1),
        key=lambda t: (t.rel, t.lines),
    )
    return random.Random(seed).sample(unique, min(max_queries, len(unique))), len(unique)
