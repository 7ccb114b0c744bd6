"""Evaluation tasks built from the user's own repository, in a temporary copy of it.

The copy holds exactly the files the index would hold (the index's own `FileFilter`: no
secrets, nothing git ignores, the user's `index.exclude`), so evaluating never shows a model
or an index anything the user's index would not. The user's files are only read.

- Retrieval: documented functions (`lsp_ai.evaluation.docs`); their docs are blanked in the
  copy before it is indexed, else the query would find its own text.
- Completion: lines that use a name imported from another file (`lsp_ai.evaluation.imports`),
  completed in the original text with the rest of the line removed.

Both are sampled with ``random.Random(seed)`` from candidates sorted by file and line, so
the same repository, seed and limit give the same tasks.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lsp_ai.evaluation.docs import sample_targets, strip_docs
from lsp_ai.evaluation.imports import import_uses
from lsp_ai.index.discover import FileFilter, read_text
from lsp_ai.languages import DOCUMENTED_LANGUAGES, language_for


@dataclass(frozen=True)
class RetrievalTask:
    path: str  # relative to the root
    symbol: str
    query: str  # the doc's first sentence
    lines: tuple[int, int]  # 0-based inclusive: the function, decorators included


@dataclass(frozen=True)
class CompletionTask:
    path: str
    line: int  # 0-based cursor
    character: int
    name: str  # the imported name the completion starts with
    source: str  # the file that defines it
    expected: str  # the rest of the line
    document: str  # the file's text with the rest of the line removed
    language: str


@dataclass
class TaskSet:
    retrieval: list[RetrievalTask]
    completion: list[CompletionTask]
    files: int  # copied (indexable) files
    documented: int  # unambiguous documented functions: retrieval candidates
    import_lines: int  # lines using an imported name: completion candidates


def copy_indexable(
    root: Path, dest: Path, exclude: Sequence[str] = (), max_file_bytes: int = 1_000_000
) -> list[str]:
    """Copy the files the index would hold into ``dest``; returns their relative paths."""
    copied = []
    for f in FileFilter(root, exclude, max_file_bytes).walk():
        target = dest / f.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(f.path, target)
        except OSError:  # vanished or unreadable since it was listed: the index skips it too
            continue
        copied.append(f.rel)
    return copied


def completion_tasks(
    files: dict[str, str], limit: int, seed: int
) -> tuple[list[CompletionTask], int]:
    """Sampled import-use tasks from ``files`` (rel -> text); also how many candidates."""
    uses = import_uses(files)
    sample = random.Random(seed).sample(uses, min(limit, len(uses)))
    picked = sorted(sample, key=lambda u: (u.path, u.line))
    tasks = []
    for use in picked:
        lines = files[use.path].split("\n")
        line = lines[use.line]
        lines[use.line] = line[: use.character]
        tasks.append(
            CompletionTask(
                use.path,
                use.line,
                use.character,
                use.name,
                use.source,
                line[use.character :].rstrip(),
                "\n".join(lines),
                language_for(use.path),
            )
        )
    return tasks, len(uses)


def build_tasks(
    root: Path,
    copy: Path,
    *,
    limit: int,
    seed: int = 0,
    exclude: Sequence[str] = (),
    max_file_bytes: int = 1_000_000,
) -> TaskSet:
    """Copy ``root`` to ``copy``, pick the tasks, then blank the copy's docs for the index."""
    copied = copy_indexable(root, copy, exclude, max_file_bytes)
    sources = {}
    for rel in copied:
        if language_for(rel) in DOCUMENTED_LANGUAGES:
            try:
                sources[rel] = read_text(copy / rel)
            except OSError:
                continue
    completion, import_lines = completion_tasks(sources, limit, seed)
    targets, sentences, _ = strip_docs(copy)
    picked, documented = sample_targets(targets, sentences, limit, seed)
    picked.sort(key=lambda t: (t.rel, t.lines))
    retrieval = [RetrievalTask(t.rel, t.symbol, t.sentence, t.lines) for t in picked]
    return TaskSet(retrieval, completion, len(copied), documented, import_lines)
