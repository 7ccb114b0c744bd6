"""Completion plumbing that needs no model: cursor context, FIM layouts, post-processing."""

from __future__ import annotations

from lsp_ai.completion.context import cursor_context, split_at
from lsp_ai.completion.fim import choose_layout
from lsp_ai.completion.postprocess import postprocess, wants_multiline
from lsp_ai.inference.base import FimTokens

QWEN = FimTokens("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "qwen")


def test_split_at_clamps_out_of_range_positions() -> None:
    assert split_at("ab\ncd", 1, 1) == ("ab\nc", "d")
    assert split_at("ab\ncd", 9, 9) == ("ab\ncd", "")
    assert split_at("ab\ncd", -1, -5) == ("", "ab\ncd")


def test_context_keeps_whole_lines_within_budget() -> None:
    text = "\n".join(f"line {i}" for i in range(1000)) + "\nx = fo"
    ctx = cursor_context(text, 1000, 6, prefix_tokens=20, suffix_tokens=0)
    assert ctx.line_prefix == "x = fo"
    assert ctx.prefix.endswith("\nx = fo")
    assert ctx.prefix.split("\n")[0].startswith("line ")  # cut at a line boundary
    assert len(ctx.prefix) <= 20 * 3.5 + 10


def test_prefix_before_the_cursor_line_is_stable_while_typing() -> None:
    base = "import os\n\ndef f():\n    return "
    a = cursor_context(base + "o", 3, 12, 500, 100)
    b = cursor_context(base + "os", 3, 13, 500, 100)
    assert a.prefix.rsplit("\n", 1)[0] == b.prefix.rsplit("\n", 1)[0]


def test_layout_follows_the_model_tokens() -> None:
    assert choose_layout("auto", None).name == "none"
    qwen = choose_layout("auto", QWEN)
    assert qwen.render("a{b}", "c") == "<|fim_prefix|>a{b}<|fim_suffix|>c<|fim_middle|>"
    assert choose_layout("codellama", None).render("p", "s") == "<PRE> p <SUF>s <MID>"
    assert not choose_layout("none", QWEN).uses_suffix


def test_multiline_decision() -> None:
    assert wants_multiline("def f():", "", "auto")
    assert wants_multiline("    ", "", "auto")
    assert not wants_multiline("x = foo(", ")", "auto")
    assert not wants_multiline("return a +", "", "auto")
    assert wants_multiline("x", "y", "always") and not wants_multiline("", "", "never")


def test_single_line_stops_at_newline_and_trims() -> None:
    assert postprocess("a + b   \nprint(1)", "    return ", "", "", False) == "a + b"


def test_multiline_stops_at_dedent() -> None:
    raw = "\n        total = 0\n        return total\n\ndef other():\n    pass"
    out = postprocess(raw, "    def f(self):", "", "", True)
    assert "def other" not in out and "return total" in out


def test_text_already_after_the_cursor_is_not_repeated() -> None:
    assert postprocess("a, b)", "print(", ")", ")", False) == "a, b"
    raw = "x = 1\nreturn x\n"
    assert postprocess(raw, "", "", "\nreturn x\n", True) == "x = 1"


def test_whitespace_only_output_is_dropped() -> None:
    assert postprocess("   \n  ", "x = ", "", "", False) == ""


def test_comment_and_string_detection_on_the_cursor_line() -> None:
    from lsp_ai.completion.postprocess import in_comment_or_string

    assert in_comment_or_string("x = 1  # note ", "python")
    assert in_comment_or_string("    // todo", "javascript")
    assert in_comment_or_string('print("hello ', "python")
    assert not in_comment_or_string('print("a#b") + ', "python")
    assert not in_comment_or_string("url = base // 2 + ", "python")  # // is not a Python comment
    assert not in_comment_or_string("s = 'it\\'s' + ", "python")
    assert not in_comment_or_string("    return ", "python")
