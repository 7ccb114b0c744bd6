"""Cut source files into retrieval chunks along their syntax.

A search hit is only useful if it is a unit a developer recognises: a whole function, a
class with its fields, the top-level code of a module. Line windows cut functions in half
and mix unrelated code, so this module parses each file once with tree-sitter and emits one
chunk per function or method, one per class header, and windows of whatever top-level code
lies between, and it records every definition (with qualified names and signatures) and
the calls inside each chunk for the symbol table and call graph.

Whatever the input, it never raises and never loses a line: files in unknown languages, or
that tree-sitter cannot make sense of, fall back to overlapping line windows.
"""

from __future__ import annotations

import hashlib
import logging
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from tree_sitter import Node, QueryCursor

from lsp_ai.index.syntax import (
    DefRule,
    LanguageSpec,
    Role,
    callee_name,
    definition_name,
    node_text,
    spec_for,
    tools_for,
)
from lsp_ai.index.windows import split_lines, split_passages
from lsp_ai.spans import CodeSpan

log = logging.getLogger(__name__)

#: Functions shorter than this many lines get no chunk of their own: alone they are too
#: little context to embed well, so they join their class's chunk or the module code.
MIN_CHUNK_LINES = 5
#: Functions longer than this also get a "summary" chunk (signature and docstring), since
#: the embedding of a very long body is dominated by its details rather than its purpose.
SUMMARY_OVER_LINES = 100
#: Longest run of top-level code in one "module" chunk.
MODULE_WINDOW_LINES = 60
#: Longest run of class body (fields, short methods) in one "class" chunk; a 1,000-entry
#: enum would otherwise become a single chunk no embedding model reads to the end.
CLASS_WINDOW_LINES = 120
#: Above this share of lines inside ERROR nodes, the tree is too broken to chunk by.
MAX_ERROR_FRACTION = 0.5
MAX_SIGNATURE_CHARS = 200
#: A run of at most this many comment lines between chunks joins the chunk after it.
MAX_STRAY_COMMENT_LINES = 3
#: Summary chunks embed the docstring; its first part carries the purpose.
MAX_DOC_CHARS = 2000

#: A line that only closes something (`}`, `});`, `end`, `#endif`), maybe with a comment. A run
#: of such lines is appended to the chunk before it instead of becoming a chunk of its own.
_CLOSER_LINE = re.compile(r"\s*(?:(?:[{}()\[\];,]+|end\b;?)\s*(?://.*|#.*|--.*)?|#\s*endif\b.*)")


@dataclass(frozen=True)
class Chunk:
    """One retrieval unit: a line range of a file and what gets embedded for it."""

    # Where it is and its exact text; `symbol` is None for module and window chunks.
    span: CodeSpan
    language: str
    kind: str  # function | method | class | module | window | summary
    embed_text: str  # header + text (header + signature + docstring for summaries)
    content_hash: str  # sha256 hex of embed_text
    calls: tuple[str, ...] = ()  # simple callee names inside the chunk, in order


@dataclass(frozen=True)
class Definition:
    """A named definition, for the symbol table: where it is and how it is declared."""

    name: str  # simple name, e.g. "load"
    qualified: str  # "Config.load"
    kind: str  # function | method | class | struct | interface | enum | type | module
    path: str
    line: int  # 0-based line of the definition start
    end_line: int
    signature: str  # first line(s) up to the body, whitespace collapsed


@dataclass(frozen=True)
class FileChunks:
    """The chunks and definitions of one file."""

    chunks: list[Chunk]
    definitions: list[Definition]
    parsed: bool  # False when the file fell back to line windows


def chunk_file(path: str, text: str, language: str) -> FileChunks:
    """Chunk one file by its syntax, or by line windows when that is not possible.

    `language` is a name from `languages.language_for`. Never raises: a grammar or parser
    failure costs this file its structure, not the indexing run it is part of.
    """
    spec = spec_for(language)
    if spec is not None:
        try:
            result = _chunk_syntax(path, text, language, spec)
        except Exception as exc:  # a grammar quirk on one odd file must not abort indexing
            log.info("%s: syntax chunking failed (%r); indexed as line windows", path, exc)
            log.debug("syntax chunking failure in %s", path, exc_info=True)
            result = None
        if result is not None:
            return result
    return _window_chunks(path, text, language)


# ----------------------------------------------------------------- internals


@dataclass(eq=False)
class _Def:
    """A definition found in the tree, with what chunking and the symbol table need."""

    name: str
    qualified: str
    kind: str
    role: Role
    scope: str
    start: int  # first line of its chunk: decorators and doc comments included
    node_start: int  # first line of the definition itself
    end: int
    signature: str
    doc: str
    emit: bool  # report a Definition (False for a Rust impl block)
    chunked: bool  # take part in chunking (False for a typedef of a named struct)
    parent: _Def | None
    children: list[_Def] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Lines of the definition itself, not counting what is attached above it."""
        return self.end - self.node_start + 1


@dataclass
class _Span:
    """A chunk before its text is cut: a line range and how to describe it."""

    start: int
    end: int
    kind: str
    symbol: str | None
    scope: str
    own_name: str | None = None  # excluded from the chunk's calls
    summary: str | None = None  # embedded instead of the text (summary chunks)
    full: _Span | None = None  # a summary's full-body chunk, whose range it shares


@dataclass
class _Calls:
    """Callee names in document order, with their lines, for range look-ups."""

    rows: list[int]
    names: list[str]

    def within(self, start: int, end: int, exclude: str | None) -> tuple[str, ...]:
        """Distinct callee names on lines start..end, in order, without `exclude`."""
        lo, hi = bisect_left(self.rows, start), bisect_right(self.rows, end)
        return tuple(dict.fromkeys(n for n in self.names[lo:hi] if n != exclude))


@dataclass
class _Source:
    """The file being chunked: its lines, the bytes tree-sitter saw and its language."""

    path: str
    language: str
    spec: LanguageSpec
    lines: list[str]
    data: bytes
    blank: list[bool]
    comment: list[bool]  # the line holds only comment text


def _chunk_syntax(path: str, text: str, language: str, spec: LanguageSpec) -> FileChunks | None:
    """Chunk a file by its tree, or return None when it must fall back to windows."""
    tools = tools_for(language)
    if tools is None:
        return None
    lines = split_lines(text)
    if not lines:
        return FileChunks(chunks=[], definitions=[], parsed=True)
    # Parse the lines re-joined with \n: tree-sitter counts rows by \n only, while
    # split_lines also breaks on a lone \r, and rows must match line numbers exactly.
    data = "\n".join(lines).encode("utf-8", errors="replace")
    tree = tools.parser.parse(data)
    captures = QueryCursor(tools.query).captures(tree.root_node)
    if _mostly_errors(captures.get("error", []), len(lines)):
        log.info("%s: mostly syntax errors; indexed as line windows", path)
        return None
    blank = [not line.strip() for line in lines]
    comment = _comment_lines(captures.get("comment", []), len(lines), data)
    src = _Source(path, language, spec, lines, data, blank, comment)
    defs, top = _collect_definitions(captures.get("def", []), src)
    calls = _collect_calls(captures.get("call", []), spec)
    spans = _plan(top, src)
    spans.sort(key=lambda span: (span.start, span.full is not None))
    return FileChunks(
        chunks=[_chunk(src, span, calls) for span in spans],
        definitions=[_definition(path, d) for d in defs if d.emit],
        parsed=True,
    )


def _window_chunks(path: str, text: str, language: str) -> FileChunks:
    """Fall back to overlapping line windows."""
    chunks = [
        _make_chunk(
            path,
            language,
            _Span(p.start_line, p.end_line, "window", None, _lines_scope(p.start_line, p.end_line)),
            p.text,
            (),
        )
        for p in split_passages(path, text, language)
    ]
    return FileChunks(chunks=chunks, definitions=[], parsed=False)


def _lines_scope(start: int, end: int) -> str:
    """Human line range, 1-based as editors show it."""
    return f"lines {start + 1}-{end + 1}"


# ----------------------------------------------------------------- tree facts


def _last_row(node: Node) -> int:
    """The last line a node has text on (a node ending in a newline ends at column 0)."""
    end = node.end_point
    if end.column == 0 and end.row > node.start_point.row:
        return end.row - 1
    return end.row


def _mostly_errors(errors: Sequence[Node], n_lines: int) -> bool:
    """Tell whether ERROR nodes cover more than MAX_ERROR_FRACTION of the lines."""
    if not errors:
        return False
    covered = 0
    reach = -1  # last row already counted; ERROR nodes nest and overlap
    for start, end in sorted((n.start_point.row, _last_row(n)) for n in errors):
        if end > reach:
            covered += end - max(start, reach + 1) + 1
            reach = end
    return covered > MAX_ERROR_FRACTION * n_lines


def _comment_lines(nodes: Sequence[Node], n_lines: int, data: bytes) -> list[bool]:
    """Mark the lines that hold nothing but comment text."""
    marks = [False] * n_lines
    for node in nodes:
        if not _starts_line(node, data):
            continue  # a trailing comment: the line holds code
        last = min(_last_row(node), n_lines - 1)
        if not _ends_line(node, data):
            last -= 1  # `/* note */ int x;`: the last line holds code
        for row in range(node.start_point.row, last + 1):
            marks[row] = True
    return marks


def _collect_calls(nodes: Sequence[Node], spec: LanguageSpec) -> _Calls:
    """Resolve every captured call to its callee's simple name, in document order."""
    found: list[tuple[int, int, int, str]] = []
    for node in nodes:
        name = callee_name(node, spec.calls[node.type])
        if name:
            found.append((node.start_byte, node.end_byte, node.start_point.row, name))
    found.sort()
    return _Calls(rows=[f[2] for f in found], names=[f[3] for f in found])


def _collect_definitions(nodes: Sequence[Node], src: _Source) -> tuple[list[_Def], list[_Def]]:
    """Build the definition tree: all definitions in order, and the top-level ones.

    Nesting is recovered from byte ranges with a stack, so no recursive walk of the tree is
    needed however deep it is.
    """
    ordered = sorted(nodes, key=lambda n: (n.start_byte, -n.end_byte))
    stack: list[tuple[int, _Def]] = []  # (end byte, definition) of the open definitions
    defs: list[_Def] = []
    top: list[_Def] = []
    for node in ordered:
        while stack and stack[-1][0] <= node.start_byte:
            stack.pop()
        parent = stack[-1][1] if stack else None
        made = _make_def(node, parent, src)
        if made is None:
            continue
        defs.append(made)
        if not made.chunked:
            continue  # the definition it defers to is chunked and owns the children
        (parent.children if parent is not None else top).append(made)
        stack.append((_enclosed_end(node, src.spec), made))
    return defs, top


def _enclosed_end(node: Node, spec: LanguageSpec) -> int:
    """The byte where the definitions a node encloses end (its own end, usually)."""
    rule = spec.definitions[node.type]
    if rule.encloses_rest and node.parent is not None and node.child_by_field_name("body") is None:
        return node.parent.end_byte
    return node.end_byte


def _is_definition(node: Node, spec: LanguageSpec) -> bool:
    """Tell whether a node is a definition under its language's rules."""
    rule = spec.definitions.get(node.type)
    return (
        rule is not None
        and _qualifies(node, rule, spec)
        and definition_name(node, rule) is not None
    )


def _qualifies(node: Node, rule: DefRule, spec: LanguageSpec) -> bool:
    """Check a rule's structural conditions (required child, function value)."""
    if rule.requires_field is not None and node.child_by_field_name(rule.requires_field) is None:
        return False
    if rule.value_field is not None:
        value = node.child_by_field_name(rule.value_field)
        return value is not None and value.type in spec.function_values
    return True


def _make_def(node: Node, parent: _Def | None, src: _Source) -> _Def | None:
    """Describe one definition node, or return None if it is not one (or is anonymous)."""
    spec = src.spec
    rule = spec.definitions[node.type]
    if not _qualifies(node, rule, spec):
        return None
    named = definition_name(node, rule)
    if named is None:
        return None
    name, qualifier = named
    outer = _outermost_wrapper(node, spec)
    start, comments = _attached_start(outer, src)
    owner = _owner(parent)
    kind = _kind(node, rule, qualifier, owner)
    qualified = ".".join(p for p in (parent.qualified if parent else "", qualifier, name) if p)
    deferred = rule.defer_field is not None and _defers(node, rule.defer_field, spec)
    end = max(_last_row(outer), _last_row(node))
    node_start = node.start_point.row
    long_function = rule.role == "function" and end - node_start + 1 > SUMMARY_OVER_LINES
    return _Def(
        name=name,
        qualified=qualified,
        kind=kind,
        role=rule.role,
        scope=_scope(kind, name, qualified, qualifier, owner),
        start=start,
        node_start=node_start,
        end=end,
        signature=_signature(node, outer, rule, src),
        doc=_doc(node, comments, spec) if long_function else "",
        emit=rule.emit,
        chunked=not deferred,
        parent=parent,
    )


def _defers(node: Node, field_name: str, spec: LanguageSpec) -> bool:
    """Tell whether the child at `field_name` is a definition that should be chunked."""
    child = node.child_by_field_name(field_name)
    return child is not None and _is_definition(child, spec)


def _owner(parent: _Def | None) -> _Def | None:
    """The nearest enclosing definition that is not a namespace."""
    while parent is not None and parent.role == "namespace":
        parent = parent.parent
    return parent


def _kind(node: Node, rule: DefRule, qualifier: str, owner: _Def | None) -> str:
    """The Definition kind: the rule's, refined by a child's type, or "method"."""
    if rule.kind_field is not None:
        child = node.child_by_field_name(rule.kind_field)
        return rule.kinds.get(child.type, rule.kind) if child is not None else rule.kind
    if rule.role != "function":
        return rule.kind
    if (qualifier and rule.owns_qualified) or (owner is not None and owner.role == "container"):
        return "method"
    return rule.kind


def _scope(kind: str, name: str, qualified: str, qualifier: str, owner: _Def | None) -> str:
    """Describe a definition for people: "method `load` in class `Config`"."""
    if kind == "method":
        if owner is not None and owner.role == "container":
            return f"method `{name}` in {owner.kind} `{owner.qualified}`"
        return f"method `{name}` in type `{qualifier}`"
    return f"{kind} `{qualified}`"


def _outermost_wrapper(node: Node, spec: LanguageSpec) -> Node:
    """Climb through wrappers (export, decorators, template<>) that hold only this node."""
    outer = node
    while True:
        parent = outer.parent
        if parent is None or parent.type not in spec.wrappers:
            return outer
        if not _sole_definition(outer, parent, spec):
            return outer
        outer = parent


def _sole_definition(child: Node, parent: Node, spec: LanguageSpec) -> bool:
    """Tell whether `child` is what `parent` wraps, preceded only by attachments.

    `const a = 1, f = () => {}` or Go's `type ( A int; B struct{} )` wrap several things, and
    growing one definition over the whole wrapper would pull the others into its chunk.
    """
    count = parent.named_child_count
    last = parent.named_child(count - 1) if count else None
    if last is None or last != child:
        return False
    for index in range(count - 1):
        sibling = parent.named_child(index)
        if sibling is None or sibling.type not in spec.attached:
            return False
    return True


def _attached_start(outer: Node, src: _Source) -> tuple[int, list[Node]]:
    """Extend a definition upward over the comments and attributes directly above it.

    Only siblings that start their own line and touch the next one are taken, so a
    trailing comment of the previous statement, or a section comment separated by a blank
    line, stays where it is. Returns the new first line and the comments taken.
    """
    start = outer.start_point.row
    comments: list[Node] = []
    prev = outer.prev_named_sibling
    while (
        prev is not None
        and prev.type in src.spec.attached
        and _last_row(prev) >= start - 1
        and _starts_line(prev, src.data)
    ):
        start = prev.start_point.row
        if prev.type in src.spec.comments:
            comments.append(prev)
        prev = prev.prev_named_sibling
    comments.reverse()
    return start, comments


def _starts_line(node: Node, data: bytes) -> bool:
    """Tell whether only whitespace precedes a node on its first line."""
    line_start = data.rfind(b"\n", 0, node.start_byte) + 1
    return not data[line_start : node.start_byte].strip()


def _ends_line(node: Node, data: bytes) -> bool:
    """Tell whether only whitespace follows a node on its last line."""
    line_end = data.find(b"\n", node.end_byte)
    return not data[node.end_byte : len(data) if line_end < 0 else line_end].strip()


def _signature(node: Node, outer: Node, rule: DefRule, src: _Source) -> str:
    """The declaration up to its body, on one line: `def load(self, path: str) -> Config:`.

    It starts at the wrapper when that adds meaning (`export const f = (x) =>`,
    `template <class T> class Box`) but not at decorators, which can run for many lines.
    """
    first = outer.named_child(0) if outer is not node else None
    begin = outer if first is not None and first.type not in src.spec.attached else node
    body = node.child_by_field_name("body") or _unnamed_body(node)
    if body is None and rule.value_field is not None:
        value = node.child_by_field_name(rule.value_field)
        body = value.child_by_field_name("body") if value is not None else None
    if body is not None and body.start_byte > begin.start_byte:
        stop = body.start_byte
    else:
        newline = src.data.find(b"\n", begin.start_byte, begin.end_byte)
        stop = begin.end_byte if newline < 0 else newline
    raw = src.data[begin.start_byte : stop].decode("utf-8", errors="replace")
    return " ".join(raw.split()).rstrip("{ ")[:MAX_SIGNATURE_CHARS]


def _unnamed_body(node: Node) -> Node | None:
    """A body child in grammars that do not name it with a field (Kotlin's `class_body`)."""
    for child in node.named_children:
        if child.type.endswith("_body"):
            return child
    return None


def _doc(node: Node, comments: Sequence[Node], spec: LanguageSpec) -> str:
    """A definition's documentation: its docstring (Python) or the comments above it."""
    doc = _python_docstring(node) if spec.python_docstrings else ""
    if not doc:
        doc = "\n".join(node_text(comment).strip() for comment in comments)
    return doc[:MAX_DOC_CHARS]


def _python_docstring(node: Node) -> str:
    """The string literal opening a Python function or class body, if there is one."""
    body = node.child_by_field_name("body")
    first = body.named_child(0) if body is not None and body.named_child_count else None
    if first is not None and first.type == "expression_statement" and first.named_child_count:
        first = first.named_child(0)
    return node_text(first) if first is not None and first.type == "string" else ""


# ----------------------------------------------------------------- planning


def _plan(top: list[_Def], src: _Source) -> list[_Span]:
    """Decide every chunk's line range.

    Works region by region (the file, then each class) with an explicit stack: long
    functions and classes inside a region claim their lines, and what is left over becomes
    the region's own chunks: "module" chunks for the file, "class" chunks for a class
    (header, fields and short methods). Runs too slight for a chunk of their own (closing
    braces, a section comment) are attached to a neighbour afterwards.
    """
    spans: list[_Span] = []
    strays: list[_Stray] = []
    regions: list[tuple[_Def | None, int, int, list[_Def]]] = [(None, 0, len(src.lines) - 1, top)]
    while regions:
        owner, first, last, children = regions.pop()
        claimed: list[tuple[int, int]] = []
        reach = first - 1
        for child in _hoist_namespaces(children):
            start, end = max(child.start, reach + 1), min(child.end, last)
            if child.size < MIN_CHUNK_LINES or start > end:
                continue  # short: its lines stay in this region's own chunks
            claimed.append((start, end))
            reach = end
            if child.role == "container":
                regions.append((child, start, end, child.children))
            else:  # its own children are never visited: nested definitions stay inside
                spans.extend(_function_spans(child, start, end))
        for start, end in _gaps(first, last, claimed):
            _leftover(src, _Region(owner, first), start, end, spans, strays)
    _attach_strays(spans, strays)
    for span in spans:
        if span.full is not None:  # a summary keeps its function's (final) range
            span.start, span.end = span.full.start, span.full.end
    return spans


@dataclass(frozen=True)
class _Region:
    """Whose lines a leftover run is: the file's (owner None) or a class's."""

    owner: _Def | None
    start: int


@dataclass(frozen=True)
class _Stray:
    """A run of lines too slight for a chunk of its own.

    Closing lines go with the chunk before them (the code they close); a short comment
    goes with the chunk after it (the code it introduces).
    """

    start: int
    end: int
    forward: bool
    region: _Region


def _hoist_namespaces(children: list[_Def]) -> Iterator[_Def]:
    """Yield children in order, replacing each namespace by its contents, iteratively."""
    stack = [iter(children)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
        elif child.role == "namespace":
            stack.append(iter(child.children))
        else:
            yield child


def _gaps(first: int, last: int, claimed: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Yield the line ranges of first..last not covered by the sorted, disjoint claims."""
    cursor = first
    for start, end in claimed:
        if start > cursor:
            yield cursor, start - 1
        cursor = end + 1
    if cursor <= last:
        yield cursor, last


def _function_spans(d: _Def, start: int, end: int) -> Iterator[_Span]:
    """The chunk of a function or method, plus a summary chunk when it is very long."""
    kind = "method" if d.kind == "method" else "function"
    full = _Span(start, end, kind, d.qualified, d.scope, own_name=d.name)
    yield full
    if d.size > SUMMARY_OVER_LINES:
        summary = f"{d.signature}\n{d.doc}" if d.doc else d.signature
        scope = f"summary of {d.scope}"
        yield _Span(start, end, "summary", d.qualified, scope, d.name, summary=summary, full=full)


def _leftover(
    src: _Source,
    region: _Region,
    start: int,
    end: int,
    spans: list[_Span],
    strays: list[_Stray],
) -> None:
    """Turn lines no definition claimed into module or class chunks, or note a stray run."""
    blank = src.blank
    while start <= end and blank[start]:
        start += 1
    while end >= start and blank[end]:
        end -= 1
    if start > end:
        return
    forward = _stray_direction(src, start, end)
    if forward is not None:
        strays.append(_Stray(start, end, forward, region))
        return
    limit = MODULE_WINDOW_LINES if region.owner is None else CLASS_WINDOW_LINES
    for window_start, window_end in _windows(start, end, limit, blank):
        spans.append(_region_span(region, window_start, window_end))


def _stray_direction(src: _Source, start: int, end: int) -> bool | None:
    """Classify a run: None if it deserves a chunk, else whether it attaches forward.

    Only closing lines: backward. Closing lines and at most MAX_STRAY_COMMENT_LINES
    comment lines (a `# --- helpers ---` divider): forward.
    """
    comments = 0
    for row in range(start, end + 1):
        if src.blank[row] or _CLOSER_LINE.fullmatch(src.lines[row]):
            continue
        if not src.comment[row]:
            return None
        comments += 1
        if comments > MAX_STRAY_COMMENT_LINES:
            return None
    return comments > 0


def _region_span(region: _Region, start: int, end: int) -> _Span:
    """A chunk of a region's own lines: top-level code, or a class's header and body."""
    owner = region.owner
    if owner is None:
        return _Span(start, end, "module", None, "top-level code")
    scope = f"{owner.kind} `{owner.qualified}`"
    if start != region.start:
        scope += " (continued)"
    return _Span(start, end, "class", owner.qualified, scope, own_name=owner.name)


def _windows(start: int, end: int, limit: int, blank: list[bool]) -> Iterator[tuple[int, int]]:
    """Split start..end into windows of at most `limit` lines, dropping blank edges.

    A window preferably ends just before a line that follows a blank line (in its second
    half), since blank lines are where code separates its paragraphs.
    """
    while start <= end:
        if end - start + 1 <= limit:
            cut = end + 1
        else:
            cut = start + limit
            for row in range(start + limit, start + limit // 2, -1):
                if blank[row - 1] and not blank[row]:
                    cut = row
                    break
        last = cut - 1
        while last >= start and blank[last]:
            last -= 1
        if last >= start:
            yield start, last
        start = cut
        while start <= end and blank[start]:
            start += 1


def _attach_strays(spans: list[_Span], strays: list[_Stray]) -> None:
    """Grow the chunk next to each stray run over it, so every line stays covered.

    A chunk holding only `}` or a divider comment would match nothing useful. When a file
    has no chunk on the preferred side, the other side is used, and when it has none at
    all the run becomes a chunk after all.
    """
    if not strays:
        return
    targets = sorted((span for span in spans if span.full is None), key=lambda s: s.start)
    starts = [span.start for span in targets]
    ends = [span.end for span in targets]
    for stray in sorted(strays, key=lambda s: s.start):
        after = bisect_right(starts, stray.end)  # first chunk starting after the run
        before = bisect_left(ends, stray.start) - 1  # last chunk ending before it
        order = (after, before) if stray.forward else (before, after)
        index = next((i for i in order if 0 <= i < len(targets)), None)
        if index is None:
            spans.append(_region_span(stray.region, stray.start, stray.end))
            continue
        target = targets[index]
        target.start, target.end = min(target.start, stray.start), max(target.end, stray.end)
        starts[index], ends[index] = target.start, target.end
    # Runs of different regions between the same two chunks can pull them over each
    # other (a class's trailing comment forward, a namespace's `}` backward); the later
    # chunk already covers the overlap, so the earlier one gives it up.
    for earlier, later in pairwise(targets):
        earlier.end = min(earlier.end, later.start - 1)


# ----------------------------------------------------------------- output


def _chunk(src: _Source, span: _Span, calls: _Calls) -> Chunk:
    """Cut a planned span's text and describe it as a Chunk."""
    text = "\n".join(src.lines[span.start : span.end + 1])
    found = () if span.summary is not None else calls.within(span.start, span.end, span.own_name)
    return _make_chunk(src.path, src.language, span, text, found)


def _make_chunk(path: str, language: str, span: _Span, text: str, calls: tuple[str, ...]) -> Chunk:
    """Assemble a Chunk; the embedded text leads with the path and scope.

    The header lets a query like "config loading in settings.py" match on where code lives
    and what it is, which the code alone often does not say.
    """
    body = span.summary if span.summary is not None else text
    embed_text = f"path: {path}\n{span.scope}\n{body}"
    return Chunk(
        span=CodeSpan(path, span.start, span.end, text, span.symbol, span.scope),
        language=language,
        kind=span.kind,
        embed_text=embed_text,
        content_hash=hashlib.sha256(embed_text.encode("utf-8", errors="replace")).hexdigest(),
        calls=calls,
    )


def _definition(path: str, d: _Def) -> Definition:
    """The public record of a definition."""
    return Definition(
        name=d.name,
        qualified=d.qualified,
        kind=d.kind,
        path=path,
        line=d.node_start,
        end_line=d.end,
        signature=d.signature,
    )
