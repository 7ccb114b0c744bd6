"""`lsp-ai eval` run as a user would, on a small generated repository and the real models."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lsp_ai.evaluation.run import format_report
from lsp_ai.index.location import index_dir
from tests.harness.env import isolated_env

pytestmark = pytest.mark.e2e

REPO = {
    "shop/__init__.py": "",
    "shop/pricing.py": '''\
"""Prices, discounts and taxes."""

VAT_RATE = 0.2


def apply_discount(price: float, percent: float) -> float:
    """Reduce a price by a percentage discount, never going below zero."""
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    reduced = price * (1 - percent / 100)
    return max(0.0, reduced)


def price_with_vat(price: float) -> float:
    """Add value-added tax to a net price and round it to cents."""
    gross = price * (1 + VAT_RATE)
    rounded = round(gross, 2)
    assert rounded >= 0
    return rounded


def format_money(amount: float, currency: str = "EUR") -> str:
    """Render an amount of money with two decimals and its currency code."""
    whole = int(amount)
    cents = round((amount - whole) * 100)
    text = f"{whole}.{cents:02d}"
    return f"{text} {currency}"
''',
    "shop/inventory.py": '''\
"""Stock keeping."""

from dataclasses import dataclass, field


@dataclass
class Item:
    sku: str
    name: str
    quantity: int = 0


@dataclass
class Inventory:
    items: dict[str, Item] = field(default_factory=dict)

    def restock_item(self, sku: str, amount: int) -> int:
        """Increase the stock of one product and return the new quantity on hand."""
        if amount <= 0:
            raise ValueError("restock amount must be positive")
        item = self.items[sku]
        item.quantity += amount
        return item.quantity
''',
    "shop/orders.py": '''\
"""Orders: baskets priced with the shop's rules."""

from shop.pricing import apply_discount, price_with_vat

from .inventory import Inventory, Item


def order_total(prices: list[float], percent: float) -> float:
    """Sum what the customer pays for a basket after the discount and the tax."""
    total = 0.0
    for price in prices:
        net = apply_discount(price, percent)
        total += price_with_vat(net)
    return round(total, 2)


def receive_delivery(stock: Inventory, sku: str, count: int) -> int:
    """Book a supplier delivery into the warehouse stock for one product."""
    if sku not in stock.items:
        stock.items[sku] = Item(sku, sku.title())
    on_hand = stock.restock_item(sku, count)
    return on_hand
''',
    "shop/report.py": '''\
"""Printable summaries."""

import shop.pricing as pricing

from shop.orders import order_total


def basket_line(prices: list[float], percent: float) -> str:
    """Describe a basket's total as one printable line for the receipt."""
    total = order_total(prices, percent)
    label = pricing.format_money(total)
    width = 40
    return f"Total: {label}".rjust(width)
''',
    "web/format.js": """\
/**
 * Format a number of cents as a price string with a currency sign.
 */
export function formatPrice(cents, sign = "EUR") {
  const whole = Math.floor(cents / 100);
  const rest = String(cents % 100).padStart(2, "0");
  const text = `${whole}.${rest}`;
  return `${text} ${sign}`;
}
""",
    "web/cart.js": """\
import { formatPrice } from "./format.js";

/**
 * Compute the label shown under the shopping cart icon.
 */
export function cartLabel(lines) {
  const cents = lines.reduce((sum, l) => sum + l.cents * l.quantity, 0);
  const label = formatPrice(cents);
  const count = lines.length;
  return `${count} items, ${label}`;
}
""",
    ".gitignore": "*.log\n",
    ".env": "SECRET_TOKEN=do-not-index-me\n",
    "debug.log": "private log line\n",
}
DOCUMENTED = {
    "apply_discount",
    "price_with_vat",
    "format_money",
    "Inventory.restock_item",
    "order_total",
    "receive_delivery",
    "basket_line",
    "formatPrice",
    "cartLabel",
}
IMPORTED = {"apply_discount", "price_with_vat", "Inventory", "Item", "order_total"}
IMPORTED |= {"format_money", "formatPrice"}


def eval_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lsp_ai", "eval", *args],
        capture_output=True,
        text=True,
        env=isolated_env(home),
        timeout=600,
    )


def tree_hash(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval") / "shop-repo"
    for rel, text in REPO.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture(scope="module")
def report(home: Path, repo: Path) -> dict[str, Any]:
    before = tree_hash(repo)
    out = eval_cli(home, str(repo), "--limit", "5", "--json")
    assert out.returncode == 0, out.stderr
    assert tree_hash(repo) == before, "eval changed the user's repository"
    assert not index_dir(repo.resolve()).exists()  # the real index path is untouched
    found: dict[str, Any] = json.loads(out.stdout)
    return found


def test_report_shape_and_counts(report: dict[str, Any], repo: Path) -> None:
    assert set(report) >= {"config", "counts", "metrics", "tasks", "seed", "limit", "k"}
    assert report["root"] == str(repo.resolve()) and report["seed"] == 0 and report["k"] == 10
    models = report["config"]["models"]
    assert models["completion"]["path"].endswith(".gguf")
    assert models["embedding"]["name"]
    counts = report["counts"]
    # the copy holds only what the index may see: no .env, no git-ignored log
    assert counts["files"] == counts["indexed_files"] == len(REPO) - 2
    assert counts["documented_functions"] == len(DOCUMENTED)
    assert counts["retrieval_tasks"] == counts["completion_tasks"] == 5


def test_tasks_come_from_the_repository(report: dict[str, Any], repo: Path) -> None:
    for task in report["tasks"]["retrieval"]:
        assert task["symbol"] in DOCUMENTED
        text = (repo / task["path"]).read_text()
        assert task["query"] in " ".join(text.split())  # the doc's first sentence
        first = text.split("\n")[task["lines"][0] - 1]
        assert task["symbol"].rsplit(".", 1)[-1] in first  # the function's own lines
    for task in report["tasks"]["completion"]:
        assert task["name"] in IMPORTED
        line = (repo / task["path"]).read_text().split("\n")[task["line"] - 1]
        assert line[task["character"] :] == task["expected"]
        assert task["expected"].startswith(task["name"])
        assert {"repo_context", "no_context"} <= set(task)


def test_metrics_are_sane(report: dict[str, Any]) -> None:
    retrieval = report["metrics"]["retrieval"]
    assert set(retrieval) == {"recall@1", "recall@5", "recall@10", "mrr@10", "latency_ms"}
    for name in ("recall@1", "recall@5", "recall@10", "mrr@10"):
        assert 0 <= retrieval[name] <= 1
    assert retrieval["recall@1"] <= retrieval["recall@5"] <= retrieval["recall@10"]
    # plain-English first sentences on a 9-function repository: the search must find some
    assert retrieval["recall@10"] > 0
    completion = report["metrics"]["completion"]
    assert set(completion) == {"repo_context", "no_context"}
    for run in completion.values():
        assert 0 <= run["exact_match"] <= 1 and 0 <= run["edit_similarity"] <= 1
        assert run["latency_ms"]["mean"] > 0
    with_context = [t["repo_context"]["context_snippets"] for t in report["tasks"]["completion"]]
    assert any(with_context), "repository context found no imported signature"
    assert all(t["no_context"]["context_snippets"] == 0 for t in report["tasks"]["completion"])
    text = format_report(report)
    assert "R@10" in text and "repo context" in text and "no context" in text


def test_same_seed_same_tasks(
    report: dict[str, Any], home: Path, repo: Path, tmp_path: Path
) -> None:
    settings = tmp_path / "other.toml"  # a setting to compare, applied over the usual config
    settings.write_text("[chat]\ntop_k = 3\n")
    args = ["--limit", "5", "--seed", "0", "--tasks", "retrieval", "--config", str(settings)]
    out = eval_cli(home, str(repo), *args, "--json")
    assert out.returncode == 0, out.stderr
    again = json.loads(out.stdout)
    assert again["config"]["settings"]["chat"]["top_k"] == 3
    assert report["config"]["settings"]["chat"]["top_k"] == 8
    # not loaded for retrieval only, but named
    assert again["config"]["models"]["completion"]["path"].endswith(".gguf")
    picked = [(t["path"], t["symbol"]) for t in report["tasks"]["retrieval"]]
    assert [(t["path"], t["symbol"]) for t in again["tasks"]["retrieval"]] == picked
    assert again["metrics"]["completion"] is None and again["tasks"]["completion"] == []


def test_nothing_to_evaluate_is_one_clear_line(home: Path, tmp_path: Path) -> None:
    out = eval_cli(home, str(tmp_path))
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"lsp-ai: no files to evaluate in {tmp_path.resolve()} (empty, or everything in it "
        "is ignored)"
    ]
    (tmp_path / "plain.py").write_text("print('hello')\n")
    out = eval_cli(home, str(tmp_path), "--tasks", "retrieval")
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert "no documented functions found" in out.stderr and "eval needs" in out.stderr
