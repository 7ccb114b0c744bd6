"""Line windows, the fallback for text that has no syntax to cut by."""

from __future__ import annotations

from itertools import pairwise

import pytest

from lsp_ai.index.windows import split_lines, split_passages


def numbered_lines(n: int) -> str:
    """A file whose line i reads `line_i` so windows can be checked line by line."""
    return "".join(f"value_{i} = {i}\n" for i in range(n))


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
