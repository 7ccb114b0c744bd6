"""The symbol table and call graph: where things are defined, and who calls whom.

Definitions come from tree-sitter (always, via the chunker) and from Universal Ctags when it is
on PATH, which knows more languages and kinds (constants, macros, variables). Calls are the
callee names the chunker found in each chunk, resolved against the table by name, preferring a
definition in the same file. Retrieval uses it to add to a hit the definitions it calls and the
chunks that call it.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CTAGS_BATCH = 400  # files per ctags run: bounded command input and memory
CALLABLE_KINDS = {"function", "method", "member", "func", "constructor", "procedure", "macro"}


@dataclass(frozen=True)
class Symbol:
    name: str
    qualified: str
    kind: str
    path: str
    line: int  # 0-based
    end_line: int
    signature: str
    source: str  # "tree-sitter" | "ctags"


@dataclass(frozen=True)
class ChunkCalls:
    """The calls made from one chunk, keyed by where the chunk is."""

    path: str
    start_line: int
    end_line: int
    symbol: str | None
    calls: tuple[str, ...]


def ctags_executable() -> str | None:
    """Universal Ctags only: Exuberant Ctags has no JSON output."""
    exe = shutil.which("ctags")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return exe if "Universal Ctags" in out.stdout else None


def run_ctags(exe: str, root: Path, rel_paths: Sequence[str]) -> dict[str, list[Symbol]]:
    """Definitions per file from `ctags --output-format=json`, in batches; never raises."""
    found: dict[str, list[Symbol]] = defaultdict(list)
    for i in range(0, len(rel_paths), CTAGS_BATCH):
        batch = rel_paths[i : i + CTAGS_BATCH]
        try:
            out = subprocess.run(
                [
                    exe,
                    "--output-format=json",
                    "--fields=+nKSeZ",
                    "--extras=-F",
                    "-f",
                    "-",
                    "-L",
                    "-",
                ],
                input="\n".join(batch),
                cwd=root,
                capture_output=True,
                text=True,
                timeout=120,
                errors="replace",
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("ctags failed on %d files: %s", len(batch), exc)
            continue
        for line in out.stdout.splitlines():
            if (sym := _parse_ctags_line(line)) is not None:
                found[sym.path].append(sym)
    return dict(found)


def _parse_ctags_line(line: str) -> Symbol | None:
    try:
        tag = json.loads(line)
    except json.JSONDecodeError:
        return None
    if tag.get("_type") != "tag" or "line" not in tag:
        return None
    scope = tag.get("scope")
    kind = tag.get("kind", "")
    if kind in ("package", "namespace", "module", "file"):
        return None  # too coarse to be a useful definition target
    name = tag["name"]
    pattern = str(tag.get("pattern", "")).removeprefix("/^").removesuffix("$/")
    return Symbol(
        name=name,
        qualified=f"{scope}.{name}" if scope else name,
        kind=kind,
        path=tag["path"],
        line=int(tag["line"]) - 1,
        end_line=int(tag.get("end", tag["line"])) - 1,
        signature=pattern.strip()[:200],
        source="ctags",
    )


class SymbolTable:
    """Definitions by name and calls by chunk, for every indexed file."""

    def __init__(self) -> None:
        self._defs: dict[str, list[Symbol]] = {}
        self._calls: dict[str, list[ChunkCalls]] = {}
        self._by_name: dict[str, list[Symbol]] = defaultdict(list)
        self._callers: dict[str, list[ChunkCalls]] = defaultdict(list)
        # Per file, the content hash its entries were derived from: the table is saved apart
        # from the index (and after it), so a crash in between leaves entries that a re-open
        # must recognise as stale by comparing with the index manifest.
        self._hashes: dict[str, str] = {}

    def set_file(
        self,
        path: str,
        symbols: Iterable[Symbol],
        calls: Iterable[ChunkCalls],
        source_hash: str = "",
    ) -> None:
        self.remove_file(path)
        self._hashes[path] = source_hash
        merged: dict[tuple[int, str], Symbol] = {}
        for sym in symbols:  # tree-sitter first, ctags fills what it missed
            merged.setdefault((sym.line, sym.name), sym)
        self._defs[path] = list(merged.values())
        self._calls[path] = list(calls)
        for sym in self._defs[path]:
            self._by_name[sym.name].append(sym)
        for chunk in self._calls[path]:
            for name in chunk.calls:
                self._callers[name].append(chunk)

    def remove_file(self, path: str) -> None:
        self._hashes.pop(path, None)
        for sym in self._defs.pop(path, []):
            self._by_name[sym.name] = [s for s in self._by_name[sym.name] if s.path != path]
        for chunk in self._calls.pop(path, []):
            for name in chunk.calls:
                self._callers[name] = [c for c in self._callers[name] if c.path != path]

    def lookup(self, name: str, prefer_path: str | None = None) -> list[Symbol]:
        """Definitions named `name`, those in `prefer_path` first."""
        found = self._by_name.get(name, [])
        return sorted(found, key=lambda s: (s.path != prefer_path, s.path, s.line))

    def callees(self, path: str, start_line: int, end_line: int) -> list[Symbol]:
        """Internal definitions called from inside the given line range of a file."""
        out: list[Symbol] = []
        seen: set[tuple[str, int]] = set()
        for chunk in self._calls.get(path, []):
            if chunk.end_line < start_line or chunk.start_line > end_line:
                continue
            for name in chunk.calls:
                for sym in self.lookup(name, prefer_path=path)[:1]:
                    key = (sym.path, sym.line)
                    if key not in seen and not (
                        sym.path == path and start_line <= sym.line <= end_line
                    ):
                        seen.add(key)
                        out.append(sym)
        return out

    def callers(self, name: str) -> list[ChunkCalls]:
        return list(self._callers.get(name, []))

    def has_file(self, path: str) -> bool:
        return path in self._defs

    def source_hash(self, path: str) -> str | None:
        """The content hash a file's entries were derived from; None if it has none."""
        return self._hashes.get(path) if path in self._defs else None

    def paths(self) -> set[str]:
        return set(self._defs)

    def definitions(self, path: str) -> list[Symbol]:
        return list(self._defs.get(path, []))

    def __len__(self) -> int:
        return sum(len(v) for v in self._defs.values())

    # -- persistence: the table is rebuilt from this file on re-open, not by re-parsing -------

    def to_json(self) -> dict[str, object]:
        return {
            path: {
                "defs": [asdict(s) for s in self._defs.get(path, [])],
                "calls": [asdict(c) for c in self._calls.get(path, [])],
                "hash": self._hashes.get(path, ""),
            }
            for path in self._defs.keys() | self._calls.keys()
        }

    @classmethod
    def from_json(cls, data: dict[str, dict[str, Any]]) -> SymbolTable:
        table = cls()
        for path, entry in data.items():
            defs = [Symbol(**s) for s in entry.get("defs", [])]
            calls = [
                ChunkCalls(**{**c, "calls": tuple(c["calls"])}) for c in entry.get("calls", [])
            ]
            # A file saved before hashes were recorded gets "": re-derived once, then current.
            table.set_file(path, defs, calls, str(entry.get("hash", "")))
        return table
