"""Lines that use a name imported from another file of the same repository.

These are the completions repository context exists for: the model cannot know the name's
signature from the file alone. Each use becomes a task with the cursor right before the
name (after ``module.`` for a module import) and the rest of the line as the answer.

- Python, through `ast`: ``from m import f [as g]`` with ``f`` defined at the top level of
  the repository module ``m`` (relative imports too), used as ``g``; ``import pkg.mod [as
  m]`` and ``from pkg import mod``, used as ``m.f`` with ``f`` defined in that module.
- JavaScript / TypeScript, through regular expressions: ``import {a, b as c} from './x'``,
  ``import d from './x'`` and ``import * as ns from './x'`` (relative specifiers only), used
  as ``c``/``d``/``ns.f``. Lines that start as comments and names after an odd number of
  quotes are skipped; that is a heuristic, not a parse.

A line whose rest opens more brackets than it closes continues on the next line, and a
one-line suggestion cannot match it; such lines are left out.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from lsp_ai.languages import JS_MODULE_EXTENSIONS


@dataclass(frozen=True)
class Use:
    """A line that uses an imported name: the cursor goes at ``character``."""

    path: str  # relative to the root
    line: int  # 0-based
    character: int  # in characters of the line
    name: str  # the name the model has to produce first
    source: str  # the repository file that defines it


def _complete_line(rest: str) -> bool:
    depth = 0
    for ch in rest:
        depth += ch in "([{"
        depth -= ch in ")]}"
    return depth <= 0 and bool(rest.strip())


# -- Python ---------------------------------------------------------------------------------


def _module_name(rel: str) -> str:
    dotted = rel.removesuffix(".py").replace("/", ".")
    return dotted.removesuffix(".__init__")


class _PythonRepo:
    """The repository's Python modules: dotted names and top-level definitions."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.trees: dict[str, ast.Module] = {}
        for rel, text in files.items():
            if rel.endswith(".py"):
                try:
                    self.trees[rel] = ast.parse(text)
                except (SyntaxError, ValueError):
                    continue
        self.by_module = {_module_name(rel): rel for rel in sorted(self.trees)}
        self.defined = {rel: _top_level_names(tree) for rel, tree in self.trees.items()}

    def resolve(self, module: str) -> str | None:
        """The file of an absolute module name; suffix matches allow `src/` layouts."""
        if module in self.by_module:
            return self.by_module[module]
        tail = "." + module
        found = [rel for name, rel in self.by_module.items() if name.endswith(tail)]
        return found[0] if len(found) == 1 else None

    def resolve_from(self, rel: str, node: ast.ImportFrom) -> str | None:
        """The module an ``ImportFrom`` names, as a dotted name, relative levels applied."""
        if not node.level:
            return node.module
        package = _module_name(rel).split(".")
        if not rel.endswith("__init__.py"):
            package = package[:-1]
        if node.level - 1 > len(package):
            return None
        base = package[: len(package) - (node.level - 1)]
        return ".".join([*base, node.module] if node.module else base)


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _bindings(repo: _PythonRepo, rel: str) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> defining file, module alias -> module file) that ``rel`` imports."""
    names: dict[str, str] = {}
    modules: dict[str, str] = {}
    for node in ast.walk(repo.trees[rel]):
        if isinstance(node, ast.ImportFrom):
            module = repo.resolve_from(rel, node)
            if module is None:
                continue
            target = repo.resolve(module) if module else None
            for alias in node.names:
                bound = alias.asname or alias.name
                if target and target != rel and alias.name in repo.defined[target]:
                    names[bound] = target
                    continue
                # `from pkg import mod`: a module, used as `mod.f`.
                sub = repo.resolve(f"{module}.{alias.name}".lstrip("."))
                if sub is not None and sub != rel:
                    modules[bound] = sub
        elif isinstance(node, ast.Import):
            for alias in node.names:
                target = repo.resolve(alias.name)
                if target is not None and target != rel:
                    modules[alias.asname or alias.name] = target
    return names, modules


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (head := _dotted(node.value)) is not None:
        return f"{head}.{node.attr}"
    return None


def _python_uses(repo: _PythonRepo, rel: str, lines: list[str]) -> Iterator[Use]:
    names, modules = _bindings(repo, rel)
    if not names and not modules:
        return
    tree = repo.trees[rel]
    # Inside an f-string the rest of the line is mostly string: not a code completion.
    in_strings = {
        id(sub) for f in ast.walk(tree) if isinstance(f, ast.JoinedStr) for sub in ast.walk(f)
    }
    for node in ast.walk(tree):
        if id(node) in in_strings:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names:
            yield _use(rel, lines, node, node.col_offset, node.id, names[node.id])
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            module = modules.get(_dotted(node.value) or "")
            if module is not None and node.attr in repo.defined.get(module, ()):
                # The attribute starts where the node ends, less its own length.
                yield _use(rel, lines, node, -len(node.attr), node.attr, module)


def _use(rel: str, lines: list[str], node: ast.expr, col: int, name: str, source: str) -> Use:
    """A use at byte column ``col`` of the node's line (negative: from the node's end)."""
    row = node.lineno - 1 if col >= 0 else (node.end_lineno or node.lineno) - 1
    raw = lines[row].encode()
    byte = col if col >= 0 else (node.end_col_offset or 0) + col
    # ast columns count UTF-8 bytes; the cursor counts characters.
    character = len(raw[:byte].decode("utf-8", "replace"))
    return Use(rel, row, character, name, source)


# -- JavaScript / TypeScript ----------------------------------------------------------------

_JS_IMPORT = re.compile(
    r"^\s*import\s+(?:type\s+)?(?:(?P<default>[\w$]+)\s*,?\s*)?"
    r"(?:\{(?P<named>[^}]*)\}|\*\s*as\s+(?P<ns>[\w$]+))?\s*"
    r"from\s*['\"](?P<spec>\.{1,2}/[^'\"]+)['\"]",
    re.MULTILINE,
)


def _js_target(rel: str, spec: str, files: Mapping[str, str]) -> str | None:
    base = posixpath.normpath(posixpath.join(posixpath.dirname(rel), spec))
    stem = base
    for ext in JS_MODULE_EXTENSIONS:  # `./x.js` in TypeScript sources names `./x.ts`
        stem = stem.removesuffix(ext)
    for candidate in (base, *(stem + e for e in JS_MODULE_EXTENSIONS)):
        if candidate in files and candidate != rel:
            return candidate
    index = (posixpath.join(base, "index" + e) for e in JS_MODULE_EXTENSIONS)
    return next((c for c in index if c in files and c != rel), None)


def _js_uses(rel: str, text: str, files: Mapping[str, str]) -> Iterator[Use]:
    names: dict[str, str] = {}
    namespaces: dict[str, str] = {}
    body_from = 0  # uses are looked for after the last import statement
    for m in _JS_IMPORT.finditer(text):
        body_from = text.count("\n", 0, m.end()) + 1
        target = _js_target(rel, m["spec"], files)
        if target is None:
            continue
        if m["ns"]:
            namespaces[m["ns"]] = target
        if m["default"]:
            names[m["default"]] = target
        for item in (m["named"] or "").split(","):
            parts = item.replace("type ", "").split()  # `a`, `a as b`, `type a`
            # The name must appear in the file it comes from (not a re-export elsewhere).
            if parts and re.search(rf"\b{re.escape(parts[0])}\b", files[target]):
                names[parts[-1]] = target
    if not names and not namespaces:
        return
    alternatives = [re.escape(n) for n in names] + [re.escape(n) + r"\.[\w$]+" for n in namespaces]
    pattern = re.compile(r"(?<![\w$.])(?:" + "|".join(alternatives) + r")(?![\w$])")
    for row, line in enumerate(text.split("\n")[body_from:], body_from):
        if line.lstrip().startswith(("//", "/*", "*")):
            continue
        for m in pattern.finditer(line):
            if line.count("'", 0, m.start()) % 2 or line.count('"', 0, m.start()) % 2:
                continue
            head, _, attr = m.group().partition(".")
            if attr:
                yield Use(rel, row, m.start() + len(head) + 1, attr, namespaces[head])
            else:
                yield Use(rel, row, m.start(), head, names[head])
            break


# -- both -----------------------------------------------------------------------------------


def import_uses(files: Mapping[str, str]) -> list[Use]:
    """Every line of ``files`` (rel -> text) that uses a name imported from another of them.

    One use per line (the first), sorted by path and line.
    """
    repo = _PythonRepo(files)
    found: dict[tuple[str, int], Use] = {}
    for rel in sorted(files):
        text = files[rel]
        lines = text.split("\n")
        if rel in repo.trees:
            uses: Iterator[Use] = _python_uses(repo, rel, lines)
        elif rel.endswith(JS_MODULE_EXTENSIONS):
            uses = _js_uses(rel, text, files)
        else:
            continue
        for use in uses:
            rest = lines[use.line][use.character :]
            if not _complete_line(rest):
                continue
            key = (use.path, use.line)
            if key not in found or use.character < found[key].character:
                found[key] = use
    return [found[key] for key in sorted(found)]
