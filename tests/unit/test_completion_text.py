"""Completion plumbing that needs no model: cursor context, FIM layouts, post-processing."""

from __future__ import annotations

import itertools

from lsp_ai.completion.context import cursor_context, split_at
from lsp_ai.completion.fim import choose_layout
from lsp_ai.completion.postprocess import completion_shape, postprocess
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
    def multiline(prefix: str, suffix: str, setting: str) -> bool:
        return completion_shape(prefix, suffix, setting) == "block"

    assert multiline("def f():", "", "auto")
    assert multiline("    ", "", "auto")
    assert not multiline("x = foo(", ")", "auto")
    assert not multiline("return a +", "", "auto")
    assert multiline("x", "y", "always") and not multiline("", "", "never")


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


def test_prefix_start_stays_put_as_lines_are_typed() -> None:
    """The first kept line only moves when the prefix outgrows its budget, then by a lot."""
    lines = [f"value_{i} = {i}" for i in range(400)]
    budget = 300  # tokens: about 1,050 characters, some 70 lines of this text
    first = cursor_context("\n".join(lines) + "\n", 400, 0, budget, 0)
    assert first.first_line > 0
    starts = []
    keep = first.first_line
    for extra in range(1, 40):
        text = "\n".join(lines + [f"new_{j} = {j}" for j in range(extra)]) + "\n"
        ctx = cursor_context(text, 400 + extra, 0, budget, 0, keep_from=keep)
        assert len(ctx.prefix) <= budget * 3.5
        starts.append(ctx.first_line)
        keep = ctx.first_line
    moves = sum(1 for a, b in itertools.pairwise(starts) if a != b)
    assert starts[0] == first.first_line and moves <= 2
    # The kept prefix begins exactly at the reported line.
    assert ctx.prefix.startswith(text.split("\n")[ctx.first_line])


def test_template_placeholders_are_filled_once() -> None:
    """Code that happens to contain "{suffix}" is not mistaken for the template's own."""
    qwen = choose_layout("qwen", None)
    out = qwen.render('f"{suffix}"', "tail")
    assert out == '<|fim_prefix|>f"{suffix}"<|fim_suffix|>tail<|fim_middle|>'


def test_repository_context_layouts() -> None:
    from lsp_ai.spans import CodeSpan

    snips = [CodeSpan("pkg/util.py", 0, 0, "def helper(x: int) -> str:")]
    qwen = choose_layout("qwen", None).render(
        "x = ", "", snips, path="app.py", language="python", repo="proj"
    )
    assert qwen == (
        "<|repo_name|>proj\n<|file_sep|>pkg/util.py\ndef helper(x: int) -> str:\n"
        "<|file_sep|>app.py\n<|fim_prefix|>x = <|fim_suffix|><|fim_middle|>"
    )
    # Without repository tokens, other files are comments under their path.
    plain = choose_layout("none", None).render(
        "let x = ", "", snips, path="app.js", language="javascript"
    )
    assert plain == (
        "// Path: pkg/util.py\n// def helper(x: int) -> str:\n// Path: app.js\nlet x = "
    )
    assert choose_layout("none", None).render("x", "", []) == "x"


def test_brackets_the_line_did_not_open_are_not_closed() -> None:
    from lsp_ai.completion.postprocess import open_brackets

    assert open_brackets("x = foo(a, [1, 2", "python") == ["(", "["]
    assert open_brackets("s = '(' + f(  # (\n", "python") == ["("]
    out = postprocess("bar(1))", "x = ", "", "", False, open_brackets("x = ", "python"))
    assert out == "bar(1)"
    # Closing what is open is fine, and the suffix's own closer is not typed twice.
    out = postprocess("1, 2)", "y = f(", ")", ")", False, open_brackets("y = f(", "python"))
    assert out == "1, 2"
    call = "result = compute(\n    alpha,\n    "
    out = postprocess("beta)", "    ", "", "", False, open_brackets(call, "python"))
    assert out == "beta)"


def test_generation_can_stop_once_the_block_is_left() -> None:
    from lsp_ai.completion.postprocess import block_ended

    assert not block_ended("x = 1\n        y = 2", "        ")  # last line still unfinished
    assert not block_ended("x = 1\n        y = 2\n", "        ")
    assert block_ended("x = 1\n        y = 2\n    def other", "        ") is False
    assert block_ended("x = 1\n    def other(self):\n", "        ")


def test_at_the_end_of_a_finished_line_the_next_line_may_follow() -> None:
    from lsp_ai.completion.postprocess import completion_shape, shape_done

    assert completion_shape("    total = 0", "", "auto") == "next_line"
    assert completion_shape("    total = foo(", ")", "auto") == "line"
    assert completion_shape("def f():", "", "auto") == "block"
    assert completion_shape("    total = 0", "", "never") == "line"
    out = postprocess(
        "\n    for x in xs:\n        total += x", "    total = 0", "", "", "next_line"
    )
    assert out == "\n    for x in xs:"
    assert postprocess(" + 1\nmore", "    total = 0", "", "", "next_line") == " + 1"
    # The next line is already there: nothing to add.
    assert (
        postprocess("\n    return total", "    total = 0", "", "\n    return total", "next_line")
        == ""
    )
    assert not shape_done("\n    for x", "next_line", "    total = 0")
    assert shape_done("\n    for x in xs:\n", "next_line", "    total = 0")
    assert shape_done(" + 1\n", "next_line", "    total = 0")


def test_a_blank_line_is_filled_in_place() -> None:
    out = postprocess("\n        self.y = y", "        ", "", "", "block")
    assert out == "self.y = y"


def test_moving_up_does_not_leave_a_sliver_of_prefix() -> None:
    lines = [f"value_{i} = {i}" for i in range(400)]
    text = "\n".join(lines)
    far = cursor_context(text, 300, 0, 300, 0)
    near = cursor_context(text, far.first_line + 3, 0, 300, 0, keep_from=far.first_line)
    assert near.prefix.count("\n") > 30  # recomputed, not 3 lines


def test_a_one_line_suggestion_on_a_blank_line_skips_the_models_blank_line() -> None:
    from lsp_ai.completion.postprocess import shape_done

    assert postprocess("\n    return x\n    y", "", "", "", "line") == "    return x"
    assert not shape_done("\n", "line", "")
    assert shape_done("\n    return x\n", "line", "")
