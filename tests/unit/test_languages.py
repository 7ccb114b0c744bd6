"""Tests for the language table: names, extensions and comment markers."""

from __future__ import annotations

import pytest

from lsp_ai.index.syntax import SPECS, tools_for
from lsp_ai.languages import (
    DOCTOR_GRAMMARS,
    DOCUMENTED_LANGUAGES,
    JS_MODULE_EXTENSIONS,
    LANGUAGES,
    Language,
    doc_comment,
    doc_style,
    grammar_for,
    has_line_comments,
    language_for,
    line_comment,
)


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("a/b.py", "python"),
        ("x.JS", "javascript"),
        ("x.ts", "typescript"),
        ("x.tsx", "tsx"),
        ("x.go", "go"),
        ("x.rs", "rust"),
        ("x.java", "java"),
        ("x.c", "c"),
        ("x.hpp", "cpp"),
        ("x.rb", "ruby"),
        ("x.cs", "c_sharp"),
        ("x.lua", "lua"),
        ("x.sh", "bash"),
        ("x.php", "php"),
        ("x.kt", "kotlin"),
        ("x.swift", "swift"),
        ("x.scala", "scala"),
        ("README.md", "markdown"),
        ("x.json", "json"),
        ("x.yml", "yaml"),
        ("pyproject.toml", "toml"),
        ("x.html", "html"),
        ("x.css", "css"),
        ("Makefile", "text"),
        ("notes.txt", "text"),
    ],
)
def test_language_for(path: str, language: str) -> None:
    assert language_for(path) == language


def test_every_extension_maps_to_one_language() -> None:
    extensions = [ext for lang in LANGUAGES for ext in lang.extensions]

    assert len(extensions) == len(set(extensions))
    for ext in extensions:
        assert ext.startswith(".") and ext == ext.lower()


def test_names_are_unique_and_text_is_not_one() -> None:
    names = [lang.name for lang in LANGUAGES]

    assert len(names) == len(set(names))
    assert "text" not in names


@pytest.mark.parametrize("lang", LANGUAGES, ids=lambda lang: lang.name)
def test_line_comment_markers(lang: Language) -> None:
    assert has_line_comments(lang.name) == (lang.line_comment is not None)
    if lang.line_comment is not None:
        assert line_comment(lang.name) == lang.line_comment
        for ext in lang.extensions:
            assert line_comment(language_for("f" + ext)) == lang.line_comment


def test_unknown_languages_guess_slash_comments() -> None:
    for name in ("text", "markdown", "css", "no-such-language"):
        assert not has_line_comments(name)
        assert line_comment(name) == "//"


def test_a_language_has_a_grammar_exactly_when_the_chunker_has_a_table_for_it() -> None:
    assert {lang.name for lang in LANGUAGES if lang.grammar is not None} == set(SPECS)
    assert grammar_for("c_sharp") == "csharp"
    assert grammar_for("markdown") is None
    assert grammar_for("text") is None


def test_doctor_checks_grammars_the_chunker_uses() -> None:
    assert DOCTOR_GRAMMARS == (
        "python",
        "javascript",
        "typescript",
        "go",
        "rust",
        "java",
        "c",
        "cpp",
    )
    assert set(DOCTOR_GRAMMARS) <= {grammar_for(name) for name in SPECS}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_grammar_loads(name: str) -> None:
    assert tools_for(name) is not None


def test_documented_languages_are_parsed_and_have_comment_markers() -> None:
    assert {"python", "javascript", "typescript", "tsx", "go", "rust"} == DOCUMENTED_LANGUAGES
    for name in DOCUMENTED_LANGUAGES:
        assert doc_style(name) is not None
        assert grammar_for(name) is not None
        assert has_line_comments(name)


def test_doc_comments_are_line_comments_except_rusts() -> None:
    assert doc_comment("rust") == "///"
    assert doc_comment("go") == "//"
    assert doc_comment("python") == "#"
    assert doc_comment("text") == "//"
    assert doc_style("text") is None


def test_js_module_extensions_are_the_js_family_extensions() -> None:
    family = {
        ext
        for lang in LANGUAGES
        if lang.name in ("javascript", "typescript", "tsx")
        for ext in lang.extensions
    }

    assert len(JS_MODULE_EXTENSIONS) == len(family)
    assert set(JS_MODULE_EXTENSIONS) == family
