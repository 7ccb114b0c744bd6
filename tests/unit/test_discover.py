"""Tests for workspace file discovery, on real files in a temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lsp_ai.index.discover import (
    MAX_SKIPPED_RECORDS,
    FileFilter,
    is_secret,
    read_text,
)


def write(root: Path, rel: str, content: str | bytes = "x = 1\n") -> Path:
    """Create a file (and its parents) under root."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def walked(root: Path, **kwargs: object) -> list[str]:
    """The rel paths walk() yields."""
    return [f.rel for f in FileFilter(root, **kwargs).walk()]  # type: ignore[arg-type]


def reasons(file_filter: FileFilter) -> dict[str, str]:
    """The skipped records of a finished walk, by rel path."""
    return {s.rel: s.reason for s in file_filter.skipped}


def all_files_on_disk(root: Path) -> list[Path]:
    """Every non-directory entry under root, without following directory symlinks."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        found.extend(Path(dirpath) / name for name in filenames)
        found.extend(
            Path(dirpath) / name for name in dirnames if (Path(dirpath) / name).is_symlink()
        )
    return found


def assert_check_agrees_with_walk(root: Path, file_filter: FileFilter) -> None:
    """check() must say None exactly for the files walk() yields."""
    yielded = {f.rel for f in file_filter.walk()}
    for path in all_files_on_disk(root):
        rel = path.relative_to(root).as_posix()
        verdict = file_filter.check(path)
        assert (verdict is None) == (rel in yielded), (rel, verdict)


# ----------------------------------------------------------------- ignore files


def test_nested_gitignore_semantics(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\nout/\n*.py\n!keep.py\n")
    write(tmp_path, "app.log")
    write(tmp_path, "drop.py")
    write(tmp_path, "keep.py")
    write(tmp_path, "main.rs", "fn main() {}\n")
    write(tmp_path, "out/a.txt")
    write(tmp_path, "src/out/b.txt")  # dir pattern without a leading slash applies anywhere
    write(tmp_path, "src/out.txt")  # `out/` only matches directories
    write(tmp_path, "sub/.gitignore", "secret_data.txt\n!*.log\n")
    write(tmp_path, "sub/secret_data.txt")
    write(tmp_path, "sub/trace.log")  # re-included by the nested negation
    write(tmp_path, "other/secret_data.txt")  # nested file applies only to its subtree
    write(tmp_path, "other/trace.log")

    files = walked(tmp_path)

    assert files == [
        ".gitignore",
        "keep.py",
        "main.rs",
        "other/secret_data.txt",
        "src/out.txt",
        "sub/.gitignore",
        "sub/trace.log",
    ]


def test_anchored_pattern_in_nested_gitignore_is_relative_to_its_directory(
    tmp_path: Path,
) -> None:
    write(tmp_path, "pkg/.gitignore", "/gen.txt\ndocs/*.md\n")
    write(tmp_path, "pkg/gen.txt")
    write(tmp_path, "pkg/deep/gen.txt")
    write(tmp_path, "pkg/docs/a.md")
    write(tmp_path, "gen.txt")

    assert walked(tmp_path) == ["gen.txt", "pkg/.gitignore", "pkg/deep/gen.txt"]


def test_file_in_ignored_directory_cannot_be_reincluded(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "logs/\n!logs/keep.txt\n")
    write(tmp_path, "logs/keep.txt")

    file_filter = FileFilter(tmp_path)
    assert [f.rel for f in file_filter.walk()] == [".gitignore"]
    assert reasons(file_filter)["logs/"] == "ignored"
    assert file_filter.check(tmp_path / "logs/keep.txt") == "ignored"


def test_dot_ignore_and_git_info_exclude(tmp_path: Path) -> None:
    write(tmp_path, ".ignore", "scratch/\n")
    write(tmp_path, ".gitignore", "*.tmp\n")
    write(tmp_path, "lib/.ignore", "*.tmp.keep\n")
    write(tmp_path, ".git/info/exclude", "local_notes.md\n")
    write(tmp_path, "scratch/a.py")
    write(tmp_path, "local_notes.md")
    write(tmp_path, "lib/x.tmp")
    write(tmp_path, "lib/y.tmp.keep")
    write(tmp_path, "lib/z.py")

    assert walked(tmp_path) == [".gitignore", ".ignore", "lib/.ignore", "lib/z.py"]


def test_dot_ignore_overrides_gitignore_in_same_directory(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.gen.py\n")
    write(tmp_path, ".ignore", "!wanted.gen.py\n")
    write(tmp_path, "wanted.gen.py")
    write(tmp_path, "other.gen.py")

    assert walked(tmp_path) == [".gitignore", ".ignore", "wanted.gen.py"]


def test_exclude_patterns(tmp_path: Path) -> None:
    write(tmp_path, "src/a.py")
    write(tmp_path, "src/generated/b.py")
    write(tmp_path, "docs/c.md")
    write(tmp_path, "notes.txt")
    write(tmp_path, ".gitignore", "!docs/\n")  # a negation cannot undo a configured exclude

    files = walked(tmp_path, exclude=["generated/", "/docs", "*.txt"])

    assert files == [".gitignore", "src/a.py"]


def test_gitignore_edits_are_seen_by_later_checks(tmp_path: Path) -> None:
    write(tmp_path, "a.py")
    file_filter = FileFilter(tmp_path)
    assert file_filter.check(tmp_path / "a.py") is None

    write(tmp_path, ".gitignore", "a.py\n# a comment to change the size\n")

    assert file_filter.check(tmp_path / "a.py") == "ignored"


# ----------------------------------------------------------------- built-in rules


def test_vendor_cache_and_vcs_directories_skipped(tmp_path: Path) -> None:
    for folder in [
        ".git",
        "node_modules/pkg",
        ".venv/lib",
        "__pycache__",
        "build",
        "dist",
        "target/debug",
        "vendor",
        "foo.egg-info",
        "src/node_modules",
        ".mypy_cache",
    ]:
        write(tmp_path, f"{folder}/file.py")
    write(tmp_path, "src/app.py")
    write(tmp_path, "builder/keep.py")  # only exact names are skipped

    file_filter = FileFilter(tmp_path)

    assert [f.rel for f in file_filter.walk()] == ["builder/keep.py", "src/app.py"]
    assert reasons(file_filter)["node_modules/"] == "always-skipped directory"
    assert file_filter.check(tmp_path / "node_modules/pkg/file.py") == "always-skipped directory"


def test_lockfiles_and_minified_files_skipped(tmp_path: Path) -> None:
    for name in ["package-lock.json", "yarn.lock", "Cargo.lock", "uv.lock", "a.min.js", "a.map"]:
        write(tmp_path, name, "{}\n")
    write(tmp_path, "a.js", "let a = 1;\n")

    assert walked(tmp_path) == ["a.js"]


def test_secrets_skipped_even_when_not_ignored(tmp_path: Path) -> None:
    names = [".env", ".env.local", "server.pem", "id_rsa", "id_ed25519.pub", "tls.key"]
    for name in names:
        write(tmp_path, name, "TOKEN=hunter2\n")
    write(tmp_path, "config/credentials-prod.json", "{}\n")
    write(tmp_path, ".gitignore", "!.env\n!*.pem\n")  # even an explicit re-include
    write(tmp_path, "app.py")

    file_filter = FileFilter(tmp_path)

    assert [f.rel for f in file_filter.walk()] == [".gitignore", "app.py"]
    recorded = reasons(file_filter)
    for name in [*names, "config/credentials-prod.json"]:
        assert recorded[name] == "secret"
        assert file_filter.check(tmp_path / name) == "secret"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (".env", True),
        (".env.production", True),
        ("SERVER.PEM", True),
        ("id_dsa", True),
        ("id_ecdsa.pub", True),
        ("cert.p12", True),
        ("store.pfx", True),
        (".npmrc", True),
        (".pypirc", True),
        (".netrc", True),
        ("credentials.json", True),
        ("release.keystore", True),
        (".htpasswd", True),
        ("environment.py", False),
        ("keys.py", False),
        (".envrc_notes.md", False),
        ("credentials.py", False),
    ],
)
def test_is_secret(name: str, expected: bool) -> None:
    assert is_secret(name) is expected


def test_binary_files_skipped(tmp_path: Path) -> None:
    write(tmp_path, "blob.dat", b"abc\x00def")
    write(tmp_path, "logo.png", b"not really a png")  # by extension alone
    write(tmp_path, "model.gguf", b"GGUF")
    write(tmp_path, "mod.pyc", b"bytecode")
    write(tmp_path, "text.dat", b"plain text")

    file_filter = FileFilter(tmp_path)

    assert [f.rel for f in file_filter.walk()] == ["text.dat"]
    assert reasons(file_filter) == {
        "blob.dat": "binary",
        "logo.png": "binary",
        "model.gguf": "binary",
        "mod.pyc": "binary",
    }


def test_nul_after_first_8_kib_is_not_binary(tmp_path: Path) -> None:
    write(tmp_path, "late.txt", b"a" * 9000 + b"\x00")

    assert walked(tmp_path) == ["late.txt"]


def test_big_file_skipped(tmp_path: Path) -> None:
    write(tmp_path, "big.py", "x" * 2001)
    write(tmp_path, "edge.py", "x" * 2000)

    file_filter = FileFilter(tmp_path, max_file_bytes=2000)
    files = list(file_filter.walk())

    assert [(f.rel, f.size) for f in files] == [("edge.py", 2000)]
    assert files[0].path == tmp_path / "edge.py"
    assert files[0].path.is_absolute()
    expected = "larger than index.max_file_bytes (2001 > 2000 bytes)"
    assert reasons(file_filter) == {"big.py": expected}
    assert file_filter.check(tmp_path / "big.py") == expected


def test_fifo_is_not_read(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(tmp_path / "pipe.txt")
    write(tmp_path, "a.py")

    file_filter = FileFilter(tmp_path)

    assert [f.rel for f in file_filter.walk()] == ["a.py"]
    assert reasons(file_filter) == {"pipe.txt": "not a regular file"}


# ----------------------------------------------------------------- symlinks


def test_directory_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    write(tmp_path, "pkg/mod.py")
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path / "pkg", target_is_directory=True)
    (tmp_path / "up").symlink_to(tmp_path, target_is_directory=True)

    file_filter = FileFilter(tmp_path)

    assert [f.rel for f in file_filter.walk()] == ["pkg/mod.py"]
    assert reasons(file_filter) == {"pkg/loop": "symlink loop", "up": "symlink loop"}
    assert file_filter.check(tmp_path / "pkg/loop/mod.py") is not None


def test_directory_symlink_elsewhere_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "a.py")
    write(tmp_path, "lib/b.py")
    (root / "lib").symlink_to(tmp_path / "lib", target_is_directory=True)

    file_filter = FileFilter(root)

    assert [f.rel for f in file_filter.walk()] == ["a.py"]
    assert reasons(file_filter)["lib"] == "directory symlink (not followed)"
    assert file_filter.check(root / "lib" / "b.py") == "inside a symlinked directory (not followed)"


def test_file_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "real.py")
    outside = write(tmp_path, "outside.py")
    (root / "inner_link.py").symlink_to(root / "real.py")
    (root / "outer_link.py").symlink_to(outside)
    (root / "dangling.py").symlink_to(root / "missing.py")

    file_filter = FileFilter(root)

    assert [f.rel for f in file_filter.walk()] == ["inner_link.py", "real.py"]
    assert reasons(file_filter) == {
        "outer_link.py": "symlink outside workspace",
        "dangling.py": "unreadable: broken symlink",
    }


# ----------------------------------------------------------------- robustness


def test_unlistable_directory_skipped_with_reason(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can list any directory")
    write(tmp_path, "locked/a.py")
    write(tmp_path, "open.py")
    (tmp_path / "locked").chmod(0)
    try:
        file_filter = FileFilter(tmp_path)
        assert [f.rel for f in file_filter.walk()] == ["open.py"]
        assert reasons(file_filter)["locked/"].startswith("unreadable: ")
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_walk_is_sorted_by_rel_path(tmp_path: Path) -> None:
    for rel in ["b.py", "a/z.py", "a.py", "a-b/c.py", "A.py", "a/b/c.py", "a0.py"]:
        write(tmp_path, rel)

    files = walked(tmp_path)

    assert files == sorted(files)
    assert len(files) == 7


def test_skipped_list_is_bounded(tmp_path: Path) -> None:
    for i in range(MAX_SKIPPED_RECORDS + 5):
        write(tmp_path, f"f{i:05d}.png", b"")

    file_filter = FileFilter(tmp_path)
    assert list(file_filter.walk()) == []

    assert len(file_filter.skipped) == MAX_SKIPPED_RECORDS
    assert file_filter.skipped_count == MAX_SKIPPED_RECORDS + 5


def test_check_handles_odd_paths(tmp_path: Path) -> None:
    write(tmp_path, "src/a.py")
    file_filter = FileFilter(tmp_path)

    assert file_filter.check(Path("src/a.py")) is None  # relative to root
    assert file_filter.check(tmp_path / "src") == "not a file"
    assert file_filter.check(tmp_path) == "not a file"
    assert file_filter.check(tmp_path.parent / "elsewhere.py") == "outside workspace"
    assert (file_filter.check(tmp_path / "gone.py") or "").startswith("unreadable: ")


def test_check_agrees_with_walk(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\nignored_dir/\n")
    write(tmp_path, "sub/.gitignore", "!important.log\n")
    write(tmp_path, ".git/info/exclude", "mine.txt\n")
    for rel in [
        "a.py",
        "x.log",
        "mine.txt",
        "sub/important.log",
        "sub/other.log",
        "ignored_dir/a.py",
        "node_modules/m.js",
        ".env",
        "pkg/id_rsa",
        "img.png",
        "yarn.lock",
        "deep/er/still.py",
        "huge.txt",
    ]:
        write(tmp_path, rel, "y" * 3000 if rel == "huge.txt" else "y\n")
    write(tmp_path, "nul.txt", b"\x00")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "link.py").symlink_to(tmp_path / "a.py")

    file_filter = FileFilter(tmp_path, exclude=["deep/er/"], max_file_bytes=2000)

    assert_check_agrees_with_walk(tmp_path, file_filter)
    assert walked(tmp_path, exclude=["deep/er/"], max_file_bytes=2000) == [
        ".gitignore",
        "a.py",
        "link.py",
        "sub/.gitignore",
        "sub/important.log",
    ]


# ----------------------------------------------------------------- reading and languages


def test_read_text_replaces_undecodable_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "legacy.py", "# caf\xe9 cr\xe8me\nx = 1\n".encode("latin-1"))

    text = read_text(path)

    assert text == "# caf\ufffd cr\ufffdme\nx = 1\n"
    assert walked(tmp_path) == ["legacy.py"]


def test_read_text_keeps_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "u.py", "s = 'naïve — ok'\n")

    assert read_text(path) == "s = 'naïve — ok'\n"
