"""RAG-light context: which snippets a completion prompt gets, and that they stay put."""

from __future__ import annotations

from lsp_ai.completion.repo_context import RecentExcerpts, RepoContext, rank_definitions, words
from lsp_ai.index.symbols import Symbol, SymbolTable


def sym(name: str, path: str, signature: str, line: int = 0) -> Symbol:
    return Symbol(name, name, "function", path, line, line + 3, signature, "tree-sitter")


def table() -> SymbolTable:
    t = SymbolTable()
    t.set_file(
        "shop/pricing.py",
        [
            sym("apply_discount", "shop/pricing.py", "def apply_discount(total, percent):", 1),
            sym("tax_rate", "shop/pricing.py", "def tax_rate(country):", 9),
        ],
        [],
    )
    t.set_file("shop/io.py", [sym("load_orders", "shop/io.py", "def load_orders(path):")], [])
    t.set_file("app.py", [sym("main", "app.py", "def main():")], [])
    return t


APP = (
    "from shop.pricing import apply_discount, tax_rate\n"
    "from shop.io import load_orders\n"
    "\n"
    "def main():\n"
    "    orders = load_orders('x.csv')\n"
    "    total = apply_discount(sum(orders), 10) * tax_rate('NL')\n"
    "    return "
)


def test_words_split_identifiers() -> None:
    assert words("loadConfig(max_tokens)") == [
        "loadconfig",
        "load",
        "config",
        "max_tokens",
        "max",
        "tokens",
    ]


def test_definitions_used_by_the_file_are_ranked_and_its_own_are_not() -> None:
    ranked = rank_definitions(table(), "app.py", APP, 6)
    names = [s.name for s in ranked]
    assert set(names) == {"apply_discount", "tax_rate", "load_orders"}
    assert "main" not in names  # defined in this very file


def test_recent_excerpts_replace_overlaps_and_keep_capacity() -> None:
    recent = RecentExcerpts(capacity=3, lines=10)
    text = "\n".join(f"line {i}" for i in range(100))
    recent.note("/a.py", text, 50)
    recent.note("/a.py", text, 52)  # mostly the same lines: replaces the first
    assert len(recent.others("/z.py")) == 1
    for name in ("/b.py", "/c.py", "/d.py"):
        recent.note(name, text, 0)
    assert [w.path for w in recent.others("/z.py")] == ["/b.py", "/c.py", "/d.py"]
    assert [w.path for w in recent.others("/c.py")] == ["/b.py", "/d.py"]


def test_block_is_stable_while_typing_and_moves_with_the_cursor() -> None:
    t = table()
    recent = RecentExcerpts()
    ctx = RepoContext(lambda p: (t, p.removeprefix("/ws/")), recent)
    first = ctx.snippets("/ws/app.py", APP, 6, 400)
    assert first and first[0].path == "shop/io.py"  # signatures, grouped by file, sorted
    assert any("apply_discount" in s.text for s in first)
    # Typing on the same line, or a few lines away, keeps the very same block.
    assert ctx.snippets("/ws/app.py", APP + "tot", 6, 400) == first
    assert ctx.snippets("/ws/app.py", APP + "\n\n\n", 9, 400) == first
    # Another file's excerpt joins the block at its end, after the signatures.
    recent.note("/ws/notes.py", "RATE = 0.21\n", 0)
    second = ctx.snippets("/ws/app.py", APP, 6, 400)
    assert second[: len(first)] == first and second[-1].path == "notes.py"
    # The current file's own excerpt never appears in its prompt.
    recent.note("/ws/app.py", APP, 6)
    assert ctx.snippets("/ws/app.py", APP, 6, 400) == second


def test_budget_is_respected() -> None:
    t = table()
    recent = RecentExcerpts()
    recent.note("/ws/big.py", "\n".join(f"x{i} = {i}" for i in range(30)), 0)
    ctx = RepoContext(lambda p: (t, p.removeprefix("/ws/")), recent)
    snippets = ctx.snippets("/ws/app.py", APP, 6, 40)  # ~140 characters
    assert sum(len(s.text) for s in snippets) <= 140


def test_without_an_index_only_recent_code_is_used() -> None:
    recent = RecentExcerpts()
    recent.note("/elsewhere/b.py", "def b():\n    pass\n", 0)
    ctx = RepoContext(lambda p: None, recent)
    snippets = ctx.snippets("/elsewhere/a.py", "import b\n", 0, 200)
    assert [s.path for s in snippets] == ["b.py"]


def test_recent_snippets_carry_the_lines_of_the_text_they_keep() -> None:
    recent = RecentExcerpts()
    recent.note("/elsewhere/b.py", "\n\nA = 1\nB = 2\n\n", 0)  # empty edge lines are dropped
    ctx = RepoContext(lambda p: None, recent)
    [snippet] = ctx.snippets("/elsewhere/a.py", "import b\n", 0, 200)
    assert (snippet.path, snippet.start_line, snippet.end_line) == ("b.py", 2, 3)
    assert snippet.text == "A = 1\nB = 2"
