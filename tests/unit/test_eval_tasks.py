"""`lsp-ai eval`'s task building and scoring, on small repositories written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_ai.config import Config
from lsp_ai.evaluation.imports import import_uses
from lsp_ai.evaluation.metrics import (
    Hit,
    Query,
    edit_similarity,
    first_rank,
    line_scores,
    mrr_at,
    recall_at,
)
from lsp_ai.evaluation.run import EvalOptions, NoTasks, cutoffs, evaluate
from lsp_ai.evaluation.tasks import build_tasks, completion_tasks, copy_indexable

PRICING = '''\
"""Prices."""

RATE = 0.2


def apply_discount(price: float, percent: float) -> float:
    """Reduce a price by a percentage discount, never below zero."""
    if percent > 100:
        raise ValueError(percent)
    reduced = price * (1 - percent / 100)
    return max(0.0, reduced)


def short(x):
    """Too short to be a target."""
    return x
'''

ORDERS = """\
import os
from shop.pricing import apply_discount as discount, RATE
from . import pricing
import shop.pricing

from .missing import ghost


def total(prices):
    net = [discount(p, 10) for p in prices]
    taxed = shop.pricing.apply_discount(1.0, 2)
    other = pricing.apply_discount(
        3.0, 4
    )
    label = "é" + str(RATE)
    note = f"rate {RATE}"
    return os.path.join(label, note, ghost)
"""

CART = """\
import { formatPrice, cents as toCents } from "./format";
import * as fmt from "./format.js";
import helper from "../lib/helper";

// formatPrice(1) in a comment is no use
export function label(lines) {
  const text = formatPrice(toCents(lines));
  const quoted = "formatPrice(2)";
  return fmt.formatPrice(3) + text;
}
"""

FORMAT = """\
export function formatPrice(c) { return `${c}`; }
export const cents = (x) => x * 100;
"""

FILES = {
    "shop/__init__.py": "",
    "shop/pricing.py": PRICING,
    "shop/orders.py": ORDERS,
    "web/cart.js": CART,
    "web/format.js": FORMAT,
}


def test_python_and_js_lines_using_imported_names() -> None:
    found = [
        (u.path, u.line, u.name, u.source, FILES[u.path].split("\n")[u.line][u.character :])
        for u in import_uses(FILES)
    ]
    assert found == [
        # an `as` alias: the bound name is what the code spells
        ("shop/orders.py", 9, "discount", "shop/pricing.py", "discount(p, 10) for p in prices]"),
        # `import a.b`: the cursor goes after the module
        ("shop/orders.py", 10, "apply_discount", "shop/pricing.py", "apply_discount(1.0, 2)"),
        # line 11 opens a bracket it closes on line 13: no one-line task; `ghost` is not
        # defined anywhere; the column below counts characters, not UTF-8 bytes (é); the
        # use in an f-string on line 15 is mostly string
        ("shop/orders.py", 14, "RATE", "shop/pricing.py", "RATE)"),
        # the comment line and the string are skipped
        ("web/cart.js", 6, "formatPrice", "web/format.js", "formatPrice(toCents(lines));"),
        ("web/cart.js", 8, "formatPrice", "web/format.js", "formatPrice(3) + text;"),
    ]


def test_completion_tasks_remove_the_rest_of_the_line_and_sample_deterministically() -> None:
    tasks, candidates = completion_tasks(FILES, limit=10, seed=0)
    assert candidates == 5
    task = next(t for t in tasks if t.name == "discount")
    assert task.expected == "discount(p, 10) for p in prices]"
    lines = task.document.split("\n")
    assert lines[task.line] == "    net = ["
    assert lines[task.line + 1 :] == ORDERS.split("\n")[task.line + 1 :]  # the rest stays
    first, _ = completion_tasks(FILES, limit=2, seed=3)
    again, _ = completion_tasks(FILES, limit=2, seed=3)
    assert first == again and len(first) == 2
    picks = {tuple((t.path, t.line) for t in completion_tasks(FILES, 2, s)[0]) for s in range(8)}
    assert len(picks) > 1  # the seed matters


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_the_copy_holds_only_what_the_index_may_see(tmp_path: Path) -> None:
    root = write(tmp_path / "repo", {**FILES, ".gitignore": "*.log\n", ".env": "TOKEN=1\n"})
    (root / "debug.log").write_text("private\n")
    (root / "id_rsa").write_text("key\n")
    copied = copy_indexable(root, tmp_path / "copy")
    assert sorted(copied) == sorted([*FILES, ".gitignore"])
    assert not (tmp_path / "copy" / ".env").exists()
    assert not (tmp_path / "copy" / "debug.log").exists()


def test_retrieval_targets_have_their_docs_blanked_in_the_copy_only(tmp_path: Path) -> None:
    root = write(tmp_path / "repo", FILES)
    copy = tmp_path / "copy"
    tasks = build_tasks(root, copy, limit=10)
    assert [(t.path, t.symbol, t.lines) for t in tasks.retrieval] == [
        ("shop/pricing.py", "apply_discount", (5, 10))
    ]
    assert tasks.retrieval[0].query == "Reduce a price by a percentage discount, never below zero."
    assert tasks.documented == 1  # `short` lost its doc too, but is no target
    blanked = (copy / "shop/pricing.py").read_text().split("\n")
    assert blanked[6] == "" and blanked[5].startswith("def apply_discount")
    assert len(blanked) == len(PRICING.split("\n"))
    assert "Too short" not in "\n".join(blanked)
    assert (root / "shop/pricing.py").read_text() == PRICING
    assert len(tasks.completion) == 5 and tasks.files == len(FILES)


def test_an_empty_folder_is_a_clear_error_before_any_model_loads(tmp_path: Path) -> None:
    with pytest.raises(NoTasks, match="no files to evaluate"):
        evaluate(Config(), tmp_path, EvalOptions())
    (tmp_path / "notes.py").write_text("x = 1\n")
    with pytest.raises(NoTasks, match="no documented functions or imported names"):
        evaluate(Config(), tmp_path, EvalOptions())
    with pytest.raises(NoTasks, match=r"^no documented functions found"):
        evaluate(Config(), tmp_path, EvalOptions(kinds=("retrieval",)))


def test_ranks_recall_and_mrr() -> None:
    q = Query("q", "a.py", (10, 20))
    hits = [Hit("b.py", 10, 20), Hit("a.py", 0, 9), Hit("a.py", 18, 30)]
    assert first_rank(hits, q) == 3  # lines must overlap
    assert first_rank(hits, q, file_level=True) == 2
    assert first_rank([], q) == 0
    ranks = [1, 3, 0, 12]
    assert recall_at(ranks, 1) == 0.25 and recall_at(ranks, 5) == 0.5
    assert mrr_at(ranks, 10) == round((1 + 1 / 3) / 4, 4)
    assert recall_at([], 5) == 0.0
    assert cutoffs(10) == [1, 5, 10] and cutoffs(3) == [1, 3] and cutoffs(20) == [1, 5, 10, 20]


def test_exact_match_and_edit_similarity() -> None:
    assert edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert edit_similarity("", "") == 1.0 and edit_similarity("abc", "") == 0.0
    assert line_scores("foo(a)  \nmore", " foo(a)") == (True, 1.0)
    exact, similarity = line_scores("foo(b)", "foo(a)")
    assert not exact and similarity == pytest.approx(5 / 6)
