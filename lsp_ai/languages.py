"""What lsp-ai knows about each language, in one table.

File extensions, comment markers, grammar names and the like were once spread over the
modules that used them, and did not agree on which languages exist (the comment table knew
languages no extension mapped to). One record per language keeps every such fact in one
place; the rest of the code reads them through the functions and derived tables here. How
the chunker reads each grammar's syntax tree is chunker policy and lives in
`lsp_ai.index.syntax`, keyed by the names here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

#: Where a function's documentation lives: the string opening its body ("docstring"), a
#: `/** ... */` comment above it ("block"), or a run of line comments above it ("line").
DocStyle = Literal["docstring", "block", "line"]


@dataclass(frozen=True)
class Language:
    """One language: its name and the facts about it that lsp-ai uses.

    `name` is what `language_for` returns and what every other table is keyed by.
    `extensions` are lower-case file suffixes with their dot; a language with none is known
    by name only. `line_comment` is the marker that starts a comment running to the end of
    the line, None where the language has none or it is not known. `grammar` is the
    tree-sitter-language-pack name of the grammar the chunker parses it with (None: it is
    cut into line windows). `doctor` says whether `lsp-ai doctor` parses with that grammar
    to prove the language pack works. `doc_style` says where a function's documentation
    lives (None: nothing looks for it), and `doc_comment` is the marker of a documentation
    line comment where it is not `line_comment` (Rust's `///`).
    """

    name: str
    extensions: tuple[str, ...] = ()
    line_comment: str | None = None
    grammar: str | None = None
    doctor: bool = False
    doc_style: DocStyle | None = None
    doc_comment: str | None = None


_HASH = "#"
_DASH = "--"
_SLASH = "//"

#: Every language lsp-ai knows. Order matters only to what `lsp-ai doctor` prints.
LANGUAGES: tuple[Language, ...] = (
    Language("python", (".py", ".pyi"), _HASH, "python", doctor=True, doc_style="docstring"),
    Language(
        "javascript",
        (".js", ".mjs", ".cjs", ".jsx"),
        _SLASH,
        "javascript",
        doctor=True,
        doc_style="block",
    ),
    Language(
        "typescript", (".ts", ".mts", ".cts"), _SLASH, "typescript", doctor=True, doc_style="block"
    ),
    Language("tsx", (".tsx",), _SLASH, "tsx", doc_style="block"),
    Language("go", (".go",), _SLASH, "go", doctor=True, doc_style="line"),
    Language("rust", (".rs",), _SLASH, "rust", doctor=True, doc_style="line", doc_comment="///"),
    Language("java", (".java",), _SLASH, "java", doctor=True),
    Language("c", (".c", ".h"), _SLASH, "c", doctor=True),
    Language(
        "cpp",
        (".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++"),
        _SLASH,
        "cpp",
        doctor=True,
    ),
    Language("ruby", (".rb",), _HASH, "ruby"),
    Language("c_sharp", (".cs",), _SLASH, "csharp"),
    Language("lua", (".lua",), _DASH, "lua"),
    Language("bash", (".sh", ".bash"), _HASH, "bash"),
    Language("php", (".php",), _SLASH, "php"),
    Language("kotlin", (".kt", ".kts"), _SLASH, "kotlin"),
    Language("swift", (".swift",), _SLASH, "swift"),
    Language("scala", (".scala", ".sc"), _SLASH, "scala"),
    Language("markdown", (".md", ".markdown")),
    Language("json", (".json",)),
    Language("yaml", (".yaml", ".yml"), _HASH),
    Language("toml", (".toml",), _HASH),
    Language("html", (".html", ".htm")),
    Language("css", (".css",)),
    # No extension maps to these yet; their markers are known so that nothing guesses `//`.
    Language("perl", line_comment=_HASH),
    Language("r", line_comment=_HASH),
    Language("elixir", line_comment=_HASH),
    Language("sql", line_comment=_DASH),
    Language("haskell", line_comment=_DASH),
    Language("dart", line_comment=_SLASH),
    Language("zig", line_comment=_SLASH),
    Language("objc", line_comment=_SLASH),
)

_BY_NAME: dict[str, Language] = {lang.name: lang for lang in LANGUAGES}
_BY_EXTENSION: dict[str, str] = {ext: lang.name for lang in LANGUAGES for ext in lang.extensions}

#: The suffixes a relative JavaScript/TypeScript import may name or leave out, in the order
#: `./x` is tried as a file. They are the javascript, typescript and tsx records' extensions
#: (a test holds them to that), listed apart because resolution tries them in this order,
#: which is not the table's.
JS_MODULE_EXTENSIONS: tuple[str, ...] = (
    ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts",
)  # fmt: skip

#: The languages whose function documentation lsp-ai can find (see `doc_style`).
DOCUMENTED_LANGUAGES: frozenset[str] = frozenset(
    lang.name for lang in LANGUAGES if lang.doc_style is not None
)

#: The grammars `lsp-ai doctor` parses with, in table order.
DOCTOR_GRAMMARS: tuple[str, ...] = tuple(
    lang.grammar for lang in LANGUAGES if lang.doctor and lang.grammar is not None
)


def language_for(path: str) -> str:
    """Return the language name for a path, by its extension, or "text" when none applies."""
    return _BY_EXTENSION.get(PurePosixPath(path).suffix.lower(), "text")


def language_named(name: str) -> str | None:
    """The language a user means by `name`: its name or one of its extensions, any case.

    `Python`, `py` and `.py` all name "python"; "text" names files of no known language.
    None when nothing matches, so a caller can say which names exist (`language_names`).
    """
    key = name.strip().lower()
    if key in _BY_NAME or key == "text":
        return key
    return _BY_EXTENSION.get(key if key.startswith(".") else f".{key}")


def language_names() -> list[str]:
    """Every language name a file can have, as `language_for` returns them."""
    return sorted({*_BY_EXTENSION.values(), "text"})


def has_line_comments(language: str) -> bool:
    """Whether the language's line-comment marker is known (rather than guessed as `//`)."""
    lang = _BY_NAME.get(language)
    return lang is not None and lang.line_comment is not None


def line_comment(language: str) -> str:
    """The line-comment marker of a language; `//`, a guess, where none is known."""
    lang = _BY_NAME.get(language)
    return lang.line_comment if lang is not None and lang.line_comment else _SLASH


def grammar_for(language: str) -> str | None:
    """The tree-sitter-language-pack grammar the chunker parses a language with, or None."""
    lang = _BY_NAME.get(language)
    return lang.grammar if lang is not None else None


def doc_style(language: str) -> DocStyle | None:
    """Where a function's documentation lives in a language, or None if nothing looks."""
    lang = _BY_NAME.get(language)
    return lang.doc_style if lang is not None else None


def doc_comment(language: str) -> str:
    """The marker that starts a documentation line comment: Rust's `///`, else `line_comment`."""
    lang = _BY_NAME.get(language)
    return lang.doc_comment if lang is not None and lang.doc_comment else line_comment(language)
