"""Tests for the dependency-free BM25 lexical index."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from lsp_ai.index.lexical import (
    LexicalIndex,
    build_lexical_index,
    split_lines,
    split_passages,
    tokenize,
)

CONFIG_MODULE = '''\
import json


def parse_config_file(path):
    """Load the settings."""
    with open(path) as handle:
        return json.load(handle)
'''

HTTP_MODULE = """\
def send_request(url, payload):
    client = HttpClient()
    return client.post(url, payload)
"""

MATH_MODULE = """\
def add(a, b):
    return a + b


def multiply(a, b):
    return a * b
"""


def numbered_lines(n: int) -> str:
    """A file whose line i reads `line_i` so windows can be checked line by line."""
    return "".join(f"value_{i} = {i}\n" for i in range(n))


# ----------------------------------------------------------------- tokenizer


def test_tokenize_splits_camel_case_and_keeps_whole_identifier() -> None:
    assert tokenize("parseConfigFile") == ["parseconfigfile", "parse", "config", "file"]
    assert tokenize("HTTPServer") == ["httpserver", "http", "server"]


def test_tokenize_splits_snake_case_and_keeps_whole_identifier() -> None:
    assert tokenize("parse_config_file") == ["parse_config_file", "parse", "config", "file"]
    assert tokenize("__init__") == ["init"]


def test_tokenize_drops_short_tokens_stopwords_and_punctuation() -> None:
    assert tokenize("def f(x): return self.the_value + 1") == ["the_value", "value"]
    assert tokenize("Where is the parser?") == ["parser"]


def test_tokenize_keeps_non_ascii_words() -> None:
    assert tokenize("größe_berechnen") == ["größe_berechnen", "größe", "berechnen"]


# ----------------------------------------------------------------- windows


def test_split_lines_matches_lsp_line_numbers() -> None:
    assert split_lines("a\r\nb\rc\nd\x0ce\n") == ["a", "b", "c", "d\x0ce"]
    assert split_lines("") == []
    assert split_lines("no newline") == ["no newline"]
    assert split_lines("a\n\n") == ["a", ""]


@pytest.mark.parametrize("n_lines", [1, 29, 30, 40, 41, 45, 70, 71, 100, 101, 250])
def test_windows_cover_the_whole_file_with_inclusive_lines(n_lines: int) -> None:
    text = numbered_lines(n_lines)
    lines = split_lines(text)

    passages = split_passages("m.py", text, "python")

    assert passages[0].start_line == 0
    assert passages[-1].end_line == n_lines - 1
    covered: set[int] = set()
    for previous, passage in pairwise(passages):
        assert passage.start_line == previous.start_line + 30
        assert passage.start_line <= previous.end_line  # overlapping
    for passage in passages:
        assert passage.end_line - passage.start_line + 1 <= 40
        assert passage.text == "\n".join(lines[passage.start_line : passage.end_line + 1])
        assert passage.text  # never empty
        assert (passage.path, passage.language) == ("m.py", "python")
        covered.update(range(passage.start_line, passage.end_line + 1))
    assert covered == set(range(n_lines))


def test_window_line_numbers_exact() -> None:
    passages = split_passages("m.py", numbered_lines(75), "python")

    assert [(p.start_line, p.end_line) for p in passages] == [(0, 39), (30, 69), (60, 74)]
    assert passages[1].text.splitlines()[0] == "value_30 = 30"
    assert passages[2].text.splitlines()[-1] == "value_74 = 74"


def test_empty_and_blank_files_have_no_passages() -> None:
    assert split_passages("e.py", "", "python") == []
    assert split_passages("b.py", "\n  \n\t\n", "python") == []


def test_bad_window_parameters_rejected() -> None:
    with pytest.raises(ValueError):
        split_passages("m.py", "x", "python", window=10, step=11)
    with pytest.raises(ValueError):
        split_passages("m.py", "x", "python", window=10, step=0)


# ----------------------------------------------------------------- BM25


def small_index() -> LexicalIndex:
    index = LexicalIndex()
    index.add("config.py", CONFIG_MODULE, "python")
    index.add("http.py", HTTP_MODULE, "python")
    index.add("maths.py", MATH_MODULE, "python")
    return index


def test_bm25_finds_function_whose_identifiers_match() -> None:
    results = small_index().search("parse config file")

    assert results
    best, score = results[0]
    assert best.path == "config.py"
    assert "def parse_config_file" in best.text
    assert score > 0
    assert all(score > 0 for _, score in results)


def test_camel_case_query_matches_snake_case_code_and_back() -> None:
    index = small_index()

    assert index.search("parseConfigFile")[0][0].path == "config.py"
    assert index.search("http client")[0][0].path == "http.py"


def test_results_are_best_first_and_limited_to_k() -> None:
    index = LexicalIndex()
    index.add("one.py", "def token_one(): pass\n", "python")
    index.add("two.py", "def token_two(): token_two_helper()\n", "python")
    index.add("none.py", "def unrelated(): pass\n", "python")

    results = index.search("token two", k=8)
    scores = [score for _, score in results]

    assert [p.path for p, _ in results] == ["two.py", "one.py"]
    assert scores == sorted(scores, reverse=True)
    assert len(index.search("token", k=1)) == 1
    assert index.search("token", k=0) == []


def test_no_match_returns_nothing() -> None:
    assert small_index().search("kubernetes") == []
    assert small_index().search("the and of") == []
    assert LexicalIndex().search("anything") == []


def test_remove_forgets_a_file() -> None:
    index = small_index()
    assert "config.py" in index

    index.remove("config.py")

    assert "config.py" not in index
    assert all(p.path != "config.py" for p, _ in index.search("parse config file"))
    assert index.search("parse config file") == []
    index.remove("config.py")  # removing twice is harmless
    assert index.paths == ["http.py", "maths.py"]


def test_add_replaces_previous_version_of_a_file() -> None:
    index = small_index()

    index.add("config.py", "def load_settings(): pass\n", "python")

    assert index.search("parse config file") == []
    assert index.search("load settings")[0][0].path == "config.py"
    assert len(index) == 3


def test_remove_then_add_restores_scores() -> None:
    index = small_index()
    before = index.search("parse config file")

    index.remove("config.py")
    index.add("config.py", CONFIG_MODULE, "python")

    assert index.search("parse config file") == before


def test_long_file_match_points_at_the_right_window() -> None:
    body = numbered_lines(100) + "def parse_config_file(path):\n    pass\n" + numbered_lines(100)
    index = LexicalIndex()
    index.add("long.py", body, "python")

    passage, _ = index.search("parse config file")[0]

    assert passage.start_line <= 100 <= passage.end_line
    assert "def parse_config_file" in passage.text


# ----------------------------------------------------------------- building from disk


def test_build_lexical_index_uses_the_file_filter(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "config.py").write_text(CONFIG_MODULE, encoding="utf-8")
    (tmp_path / "src" / "legacy.py").write_bytes(
        "# r\xe9sum\xe9 renderer\ndef render_resume(): pass\n".encode("latin-1")
    )
    (tmp_path / ".env").write_text("PARSE_CONFIG_FILE_TOKEN=secret\n", encoding="utf-8")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "dep.js").write_text("function parseConfigFile() {}\n")
    (tmp_path / "skipped").mkdir()
    (tmp_path / "skipped" / "x.py").write_text("def parse_config_file(): pass\n")

    index = build_lexical_index(tmp_path, exclude=["skipped/"])

    assert index.paths == ["src/config.py", "src/legacy.py"]
    results = index.search("parse config file")
    assert [p.path for p, _ in results] == ["src/config.py"]
    assert results[0][0].language == "python"
    legacy, _ = index.search("render resume")[0]
    assert "\ufffd" in legacy.text
