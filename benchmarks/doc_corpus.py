"""Docstring-to-function corpora: real packages fetched from registries, their docs removed.

This module fetches a pinned package from its registry at benchmark time (nothing is
committed): Python sdists from PyPI (``pip download``), JavaScript / TypeScript tarballs
from npm (``npm pack``), Go and Rust source packages from Debian (``golang-*-dev`` and
``librust-*-dev``, ``apt-get download``). Finding the documented functions, blanking their
docs and sampling the first sentences as queries is ``lsp_ai.evaluation.docs``, shared with
`lsp-ai eval`; its docstring describes the rules. At most ``max_queries`` targets are
sampled per package with ``random.Random(0)``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmarks.common import fetch_sdist
from lsp_ai.evaluation.docs import sample_targets, strip_docs


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- fetching from registries ------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A package whose documented functions make a corpus.

    ``subdir`` is the folder inside the unpacked package that holds the sources (a glob,
    ``*`` standing for the version where the path contains it); "" for the whole package.
    """

    name: str  # the corpus name in results
    language: str
    registry: Literal["pypi", "npm", "debian"]
    package: str
    version: str  # the version asked for; the one fetched is recorded with the corpus
    subdir: str = ""

    @property
    def spec(self) -> str:
        sep = {"pypi": "==", "npm": "@", "debian": "="}[self.registry]
        return f"{self.package}{sep}{self.version}"


@dataclass
class Fetched:
    root: Path
    version: str
    info: dict[str, Any] = field(default_factory=dict)


class FetchError(Exception):
    """The package could not be obtained; the message says why, for the results."""


def _run(cmd: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd, cwd=cwd, check=True, capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError as exc:
        raise FetchError(f"{cmd[0]} is not installed") from exc
    except subprocess.CalledProcessError as exc:
        said = [
            line
            for line in f"{exc.stdout}\n{exc.stderr}".splitlines()
            if line.strip() and "complete log" not in line  # npm's pointer to its log file
        ]
        why = said[-1].strip() if said else f"exit status {exc.returncode}"
        raise FetchError(f"`{' '.join(cmd)}` failed: {why}") from exc
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"`{' '.join(cmd)}` timed out") from exc


def _single_dir(base: Path, pattern: str) -> Path:
    found = sorted(p for p in base.glob(pattern) if p.is_dir()) if pattern else [base]
    if len(found) != 1:
        raise FetchError(f"expected one folder matching {pattern!r} in the package, got {found}")
    return found[0]


def _fetch_pypi(src: Source, work: Path) -> Fetched:
    repo = fetch_sdist(src.spec, work)
    if repo is None:
        raise FetchError(f"pip download {src.spec} failed (see the log)")
    return Fetched(repo, src.version)


def _fetch_npm(src: Source, work: Path) -> Fetched:
    if shutil.which("npm") is None:
        raise FetchError("npm is not installed")
    dest = work / "npm" / src.name
    dest.mkdir(parents=True)
    out = _run(["npm", "pack", "--loglevel=error", src.spec], dest).stdout.strip().splitlines()
    archive = dest / out[-1] if out else None
    if archive is None or not archive.is_file():
        raise FetchError(f"npm pack {src.spec} wrote no tarball")
    with tarfile.open(archive) as tar:
        tar.extractall(dest / "x", filter="data")
    root = work / "repos" / f"{src.name}-{src.version}"
    shutil.move(_single_dir(dest / "x", "package/" + src.subdir if src.subdir else "package"), root)
    return Fetched(root, src.version, {"tarball": archive.name})


def _apt_download(src: Source, dest: Path) -> None:
    """The pinned version, else whatever version this system's archive offers.

    Only when both fail, and only as root, are the package lists refreshed and both tried
    again (a fresh container often has no lists at all).
    """
    # -o APT::Sandbox::User=root: the _apt user may not be able to write to a temp folder.
    cmd = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root"]
    error = FetchError(f"apt-get download {src.spec} failed")
    for refresh in (False, True):
        if refresh:
            if os.geteuid() != 0:
                break
            log(f"[{src.name}] apt-get download failed ({error}); refreshing the package lists")
            _run(["apt-get", "update", "-q"], dest, timeout=300)
        for spec in (src.spec, src.package):
            try:
                _run([*cmd, spec], dest)
                return
            except FetchError as exc:
                error = exc
    raise error


def _fetch_debian(src: Source, work: Path) -> Fetched:
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise FetchError("apt-get/dpkg-deb are not available (not a Debian-based system)")
    dest = work / "deb" / src.name
    dest.mkdir(parents=True)
    _apt_download(src, dest)
    (deb,) = dest.glob("*.deb")
    version = _run(["dpkg-deb", "-f", str(deb), "Version"], dest).stdout.strip()
    _run(["dpkg-deb", "-x", str(deb), str(dest / "x")], dest)
    root = work / "repos" / f"{src.name}-{version}"
    shutil.move(_single_dir(dest / "x", src.subdir), root)
    return Fetched(root, version, {"deb": deb.name, "asked_version": src.version})


def fetch(src: Source, work: Path) -> Fetched:
    """Download and unpack a package into ``work``; raises FetchError with the reason."""
    fetcher = {"pypi": _fetch_pypi, "npm": _fetch_npm, "debian": _fetch_debian}[src.registry]
    return fetcher(src, work)


if __name__ == "__main__":  # pragma: no cover - what a package would yield, for picking one
    import json

    # python -m benchmarks.doc_corpus LANGUAGE FOLDER...
    for arg in sys.argv[2:]:
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp) / Path(arg).name
            shutil.copytree(arg, repo)
            found, counts, removed = strip_docs(repo, sys.argv[1])
            picked, unique = sample_targets(found, counts, 20)
            print(json.dumps({"removed": removed, "targets": len(found), "unique": unique}))
            for t in picked:
                print(f"{t.rel}:{t.lines[0] + 1}-{t.lines[1] + 1} {t.symbol}: {t.sentence}")
