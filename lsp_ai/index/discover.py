"""Decide which files of a workspace may be indexed.

Everything the assistant retrieves comes from the files this module lets through, so it is
the one place that keeps secrets, binaries, vendored code and generated noise out of the
index and out of the model's prompt. It only reads: nothing here ever writes to the
workspace.
"""

from __future__ import annotations

import errno
import fnmatch
import logging
import os
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from lsp_ai.index.secret_files import BUILTIN, secret_files

log = logging.getLogger(__name__)

#: Directories that are never worth indexing: VCS metadata, dependencies, build output and
#: tool caches. They are skipped even when no ignore file mentions them, because a fresh
#: checkout without a .gitignore would otherwise drown the index in third-party code.
ALWAYS_SKIPPED_DIRS: frozenset[str] = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        "dist",
        "build",
        "target",
        "vendor",
        ".idea",
        ".vscode",
        ".next",
        ".cache",
        "site-packages",
    }
)
_ALWAYS_SKIPPED_DIR_GLOBS: tuple[str, ...] = ("*.egg-info",)

#: Lockfiles and minified or generated files: large, machine-written and useless as context.
GENERATED_PATTERNS: tuple[str, ...] = (
    "*.min.js",
    "*.min.css",
    "*.map",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.lock",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "Gemfile.lock",
    "composer.lock",
    "go.sum",
)

#: Extensions whose files are binary whatever their first bytes look like; checking the
#: name first saves opening multi-gigabyte model weights or archives just to sniff them.
BINARY_EXTENSIONS: frozenset[str] = frozenset(
    {
        # images
        ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".icns", ".webp", ".tif", ".tiff",
        ".psd", ".heic", ".avif",
        # archives and packages
        ".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst", ".lz4",
        ".jar", ".war", ".ear", ".whl", ".egg", ".deb", ".rpm", ".dmg", ".iso", ".img",
        # native code and bytecode
        ".so", ".dylib", ".dll", ".exe", ".o", ".a", ".lib", ".obj", ".class", ".pyc",
        ".pyo", ".pyd", ".wasm",
        # models and data
        ".gguf", ".ggml", ".bin", ".safetensors", ".pt", ".pth", ".onnx", ".ckpt", ".npy",
        ".npz", ".pkl", ".pickle", ".h5", ".hdf5", ".parquet", ".arrow", ".feather", ".db",
        ".sqlite", ".sqlite3", ".lance",
        # documents
        ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods",
        # fonts
        ".ttf", ".otf", ".woff", ".woff2", ".eot",
        # audio and video
        ".mp3", ".mp4", ".wav", ".ogg", ".flac", ".m4a", ".avi", ".mov", ".mkv", ".webm",
    }
)  # fmt: skip

#: How much of a file is sniffed for a NUL byte; git uses the same heuristic and size.
BINARY_SNIFF_BYTES = 8192

#: The skipped list is a diagnostic, not a log: a workspace with a million ignored files
#: must not keep a million records in memory.
MAX_SKIPPED_RECORDS = 1000

#: Reasons that are policy rather than trouble: logged at debug level only, since a large
#: repository has thousands of them and they say nothing the user does not already know.
ROUTINE_REASONS: frozenset[str] = frozenset(
    {
        "secret",
        "ignored",
        "always-skipped directory",
        "lockfile or generated file",
        "directory symlink (not followed)",
    }
)

#: Paths travel as UTF-8 text (the index, search hits, LSP messages); a name with bytes that
#: are not UTF-8 has no faithful form there, and one such name must not stop the crawl.
NOT_UTF8_NAME = "name is not valid UTF-8"

_IGNORE_FILE_NAMES: tuple[str, ...] = (".gitignore", ".ignore")

#: A regular file with more than one name is refused: the other names cannot be found without
#: searching the whole file system (they may lie outside the workspace, say `~/.aws/`), and a
#: hard link is the one way to give a secret's content a harmless name no path check sees
#: through. Hard links are rare in source trees; the reason names the cause so a user can copy
#: the file instead.
HARD_LINK = "hard link (another name of the file may be a secret; copy it to index it)"
SYMLINK_TO_SECRET = "symlink to a secret file"


@dataclass(frozen=True)
class DiscoveredFile:
    """A file that may be indexed: where it is, how the index names it, and its size."""

    path: Path
    rel: str
    size: int
    # (st_dev, st_ino) of the file the rules judged: the reader refuses any other file.
    identity: tuple[int, int] | None = None


@dataclass
class SkippedFile:
    """A file or directory left out of the index, with the reason, for diagnostics."""

    rel: str
    reason: str


def is_secret(name: str) -> bool:
    """Tell whether a file name or relative path is on the built-in list of secret files.

    Matching is case-insensitive so `SERVER.PEM` on a case-insensitive file system is caught.
    """
    return BUILTIN.match(name)


def is_generated(name: str) -> bool:
    """Tell whether a file name is a lockfile or a minified/generated artefact."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in GENERATED_PATTERNS)


def is_always_skipped_dir(name: str) -> bool:
    """Tell whether a directory name is VCS metadata, vendored code, build output or a cache."""
    if name in ALWAYS_SKIPPED_DIRS:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _ALWAYS_SKIPPED_DIR_GLOBS)


def read_text(path: Path) -> str:
    """Read a file as UTF-8, replacing undecodable bytes instead of failing.

    A Latin-1 comment in an otherwise fine source file must not keep the file out of the
    index; U+FFFD in place of one accented letter costs retrieval nothing.
    Raises OSError when the file cannot be read.
    """
    return path.read_bytes().decode("utf-8", errors="replace")


class NotIndexable(Exception):
    """A listed file that breaks a rule by the time it is read; the message is the reason."""


REPLACED = "replaced by another file while being read"


class Replaced(NotIndexable):
    """What was opened is not the file the rules judged: judge the path again before reading."""


def read_source(
    path: Path,
    max_bytes: int,
    root: str | None = None,
    identity: tuple[int, int] | None = None,
) -> bytes:
    """Read a listed file for indexing, checking again what the walk checked when listing it.

    Between listing and reading, a file can be replaced: by a FIFO (a plain read would block
    for ever), a directory, a file over the size limit or a binary one, or by a symlink to a
    secret or to a file outside the workspace. The path is resolved once and the resolved file
    opened without following a symlink in its last component (O_NOFOLLOW); the checks then run
    on the open descriptor, so they describe the bytes actually read: it must be the file the
    rules judged (`identity`: device and inode), lie inside `root` (a real path; checked on
    the resolved path and, where /proc tells, on the descriptor itself) and have one name.
    Raises OSError when the file cannot be read, NotIndexable when it may not be indexed.
    """
    real = os.path.realpath(path)
    if root is not None and not _is_within(real, root):
        raise NotIndexable("symlink outside workspace")
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_BINARY", 0)
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        # Linux and macOS say ELOOP, FreeBSD EMLINK, for a last component that is a symlink.
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise NotIndexable("replaced by a symlink while being read") from exc
        raise
    with open(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotIndexable("not a regular file")
        if identity is not None and (st.st_dev, st.st_ino) != identity:
            raise Replaced(REPLACED)
        if root is not None:
            opened = _opened_path(fd)
            if opened is not None and not _is_within(opened, root):
                raise NotIndexable("outside workspace (a directory was replaced while reading)")
        if st.st_nlink > 1:
            raise NotIndexable(HARD_LINK)
        if st.st_size > max_bytes:
            raise NotIndexable(too_large(st.st_size, max_bytes))
        data = handle.read(max_bytes + 1)  # one byte more tells a file that grew since
    if len(data) > max_bytes:
        raise NotIndexable(too_large(len(data), max_bytes))
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        raise NotIndexable("binary")
    return data


def _opened_path(fd: int) -> str | None:
    """The path an open descriptor really refers to, where the system tells (Linux /proc)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def too_large(size: int, limit: int) -> str:
    """The skip reason of a file over `index.max_file_bytes`, naming the setting to change."""
    return f"larger than index.max_file_bytes ({size} > {limit} bytes)"


def reason_kind(reason: str) -> str:
    """A skip reason without its details, for counting: "unreadable: ..." -> "unreadable"."""
    return reason.split(":", 1)[0].split(" (", 1)[0]


def printable(rel: str) -> str:
    r"""A path safe to log and print: name bytes that are not UTF-8 shown as `\xff`."""
    try:
        return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate no file name byte produced: show it escaped
        return rel.encode("utf-8", "backslashreplace").decode("utf-8")


def is_utf8(name: str) -> bool:
    """Tell whether a file name decoded cleanly (no undecodable bytes smuggled in)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_within(path: str, ancestor: str) -> bool:
    """Tell whether `path` is `ancestor` or lies below it (both absolute and normalised)."""
    return path == ancestor or path.startswith(ancestor.rstrip(os.sep) + os.sep)


def _read_lines(path: Path) -> list[str]:
    """Read an ignore file's lines; a missing or unreadable one simply contributes nothing."""
    try:
        return read_text(path).splitlines()
    except OSError:
        return []


def _signature(path: Path) -> tuple[int, int] | None:
    """Cheap change detector for an ignore file: its mtime and size, or None if absent."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


#: The ignore rules in force for a directory: (directory rel path, its spec), root first.
_Chain = tuple[tuple[str, pathspec.GitIgnoreSpec], ...]


class FileFilter:
    """Walks a workspace and decides, file by file, what may be indexed.

    `walk()` streams the indexable files in sorted order and records why others were left
    out in `skipped`; `check()` answers the same question for one path, so that didSave and
    file-watcher events follow exactly the rules of the initial scan.
    """

    def __init__(
        self,
        root: Path,
        exclude: Sequence[str] = (),
        max_file_bytes: int = 1_000_000,
        secret_patterns: Sequence[str] = (),
    ) -> None:
        """Prepare the filter; ignore files are read lazily, per directory, as needed.

        `secret_patterns` add to the built-in secret files (`index.secret_patterns`); raises
        BadSecretPattern for a negation among them.
        """
        self.root = Path(os.path.abspath(root))
        self.real_root = self._real_root = os.path.realpath(self.root)
        self.secrets = secret_files(secret_patterns)
        self.max_file_bytes = max_file_bytes
        self._exclude = pathspec.GitIgnoreSpec.from_lines(list(exclude))
        self._spec_cache: dict[str, tuple[tuple[object, ...], pathspec.GitIgnoreSpec]] = {}
        self.skipped: list[SkippedFile] = []
        self.skipped_count = 0
        self.skipped_kinds: Counter[str] = Counter()  # reason_kind -> count, for summaries

    # ----------------------------------------------------------------- public API

    def walk(self) -> Iterator[DiscoveredFile]:
        """Yield every indexable file under the root, sorted by rel path.

        Directory symlinks are never followed, which rules out symlink loops by
        construction. Problems (unlistable directories, vanishing files) become entries in
        `skipped` rather than exceptions, so one bad file cannot abort a workspace scan.
        """
        self.skipped = []
        self.skipped_count = 0
        self.skipped_kinds = Counter()
        # A stack of (rel, chain) entries; children are pushed in reverse sorted order so
        # popping yields a depth-first walk in sorted rel-path order, lazily.
        stack: list[tuple[str, bool, _Chain]] = [("", True, ())]
        while stack:
            rel, is_dir, chain = stack.pop()
            if is_dir:
                stack.extend(reversed(self._children(rel, self._extend_chain(chain, rel))))
                continue
            found = self._accept_file(rel, chain)
            if found is not None:
                yield found

    def check(self, path: Path) -> str | None:
        """Return why a single file would be skipped, or None if it may be indexed.

        Applies the same rules as `walk()`, including those inherited from ancestor
        directories (ignored or vendored parents, symlinked parents), so the answer for a
        path agrees with whether `walk()` would have yielded it.
        """
        verdict = self.examine(path)
        return verdict if isinstance(verdict, str) else None

    def examine(self, path: Path) -> str | DiscoveredFile:
        """Like `check()`, but an indexable file comes back as `walk()` would yield it."""
        rel = self._rel_of(path)
        if rel is None:
            return "outside workspace"
        if rel == "":
            return "not a file"
        parts = rel.split("/")
        chain: _Chain = self._extend_chain((), "")
        for depth in range(1, len(parts)):
            dir_rel = "/".join(parts[:depth])
            reason = self._ancestor_reason(dir_rel, chain)
            if reason is not None:
                return reason
            chain = self._extend_chain(chain, dir_rel)
        return self._judge(rel, chain)

    # ----------------------------------------------------------------- walking

    def _children(self, dir_rel: str, chain: _Chain) -> list[tuple[str, bool, _Chain]]:
        """List a directory's entries that survive the directory-level rules, sorted.

        Sorting uses `name/` for directories so that the depth-first walk yields rel paths
        in plain lexicographic order (`a.txt` before `a/b.txt`, as a string sort has it).
        """
        try:
            with os.scandir(self._abs(dir_rel)) as it:
                entries = sorted(it, key=lambda e: e.name + ("/" if _entry_is_dir(e) else ""))
        except OSError as exc:
            self._skip(dir_rel + "/", f"unreadable: {exc.strerror or exc}")
            return []
        children: list[tuple[str, bool, _Chain]] = []
        for entry in entries:
            rel = f"{dir_rel}/{entry.name}" if dir_rel else entry.name
            if not _entry_is_dir(entry):
                children.append((rel, False, chain))
                continue
            reason = self._dir_reason(rel, chain)
            if reason is None:
                children.append((rel, True, chain))
            else:
                self._skip(rel + "/", reason)
        return children

    def _accept_file(self, rel: str, chain: _Chain) -> DiscoveredFile | None:
        """Apply the file rules to one walked entry, recording it as skipped if it fails."""
        verdict = self._judge(rel, chain)
        if isinstance(verdict, str):
            self._skip(rel, verdict)
            return None
        return verdict

    def record_skip(self, rel: str, reason: str) -> None:
        """Count and log a listed file the indexer gave up on when it came to read it."""
        self._skip(rel, reason)

    def _skip(self, rel: str, reason: str) -> None:
        """Log and record a skipped path, keeping only the first MAX_SKIPPED_RECORDS of them."""
        shown = printable(rel)
        level = logging.DEBUG if reason in ROUTINE_REASONS else logging.INFO
        log.log(level, "skipped %s: %s", shown, reason)
        self.skipped_count += 1
        self.skipped_kinds[reason_kind(reason)] += 1
        if len(self.skipped) < MAX_SKIPPED_RECORDS:
            self.skipped.append(SkippedFile(rel=shown, reason=reason))

    # ----------------------------------------------------------------- rules

    def _dir_reason(self, rel: str, chain: _Chain) -> str | None:
        """Why a real (non-symlink) directory is not descended, or None to descend it."""
        name = rel.rsplit("/", 1)[-1]
        if not is_utf8(name):
            return NOT_UTF8_NAME
        if is_always_skipped_dir(name):
            return "always-skipped directory"
        if self._is_ignored(rel, chain, is_dir=True):
            return "ignored"
        return None

    def _ancestor_reason(self, dir_rel: str, chain: _Chain) -> str | None:
        """Why a file's ancestor directory would have stopped `walk()` from reaching it."""
        abs_dir = self._abs(dir_rel)
        if abs_dir.is_symlink():
            return "inside a symlinked directory (not followed)"
        return self._dir_reason(dir_rel, chain)

    def _judge(self, rel: str, chain: _Chain) -> str | DiscoveredFile:
        """Why one directory entry is not an indexable file, or the file as the rules saw it.

        A symlink is judged on its own name and on its target: the target's path must not be
        a secret and the target must pass every rule itself, so a link cannot give a secret
        or an ignored file an innocent name. The identity recorded is that of the file the
        rules looked at (the target, not re-resolved), so the reader can tell a link re-pointed
        or a file swapped after this from the file judged here (`read_source`).
        """
        if not is_utf8(rel.rsplit("/", 1)[-1]):
            return NOT_UTF8_NAME
        path = self._abs(rel)
        try:
            st = path.lstat()
        except OSError as exc:
            return f"unreadable: {exc.strerror or exc}"
        if stat.S_ISLNK(st.st_mode):
            reason = self._symlink_reason(path)
            if reason is not None:
                return reason
            if self.secrets.match(rel):
                return "secret"
            target = os.path.realpath(path)
            target_rel = Path(os.path.relpath(target, self._real_root)).as_posix()
            if self.secrets.match(target_rel):
                return SYMLINK_TO_SECRET
            reason = self.check(Path(target))
            if reason is not None:
                return f"symlink to a skipped file ({reason})"
            try:
                st = os.lstat(target)
            except OSError as exc:
                return f"unreadable: {exc.strerror or exc}"
        elif stat.S_ISDIR(st.st_mode):
            return "not a file"
        reason = self._file_reason(path, rel, chain, st)
        if reason is not None:
            return reason
        return DiscoveredFile(path=path, rel=rel, size=st.st_size, identity=(st.st_dev, st.st_ino))

    def _symlink_reason(self, path: Path) -> str | None:
        """Follow a symlink only if it names a file inside the workspace."""
        target = os.path.realpath(path)
        if os.path.isdir(target):
            if _is_within(os.path.realpath(path.parent), target):
                return "symlink loop"
            return "directory symlink (not followed)"
        if not os.path.exists(target):
            return "symlink loop" if _is_symlink_loop(path) else "unreadable: broken symlink"
        if not _is_within(target, self._real_root):
            return "symlink outside workspace"
        return None

    def _file_reason(self, path: Path, rel: str, chain: _Chain, st: os.stat_result) -> str | None:
        """Apply the name, ignore, type, links, size and content rules to one file.

        `st` describes the file itself (a symlink's target), not followed again here.
        """
        name = path.name
        if self.secrets.match(rel):
            return "secret"
        if self._is_ignored(rel, chain, is_dir=False):
            return "ignored"
        if is_generated(name):
            return "lockfile or generated file"
        if path.suffix.lower() in BINARY_EXTENSIONS:
            return "binary"
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file"  # FIFOs and devices would block or never end
        if st.st_nlink > 1:
            return HARD_LINK
        if st.st_size > self.max_file_bytes:
            return too_large(st.st_size, self.max_file_bytes)
        return _sniff_binary(path)

    # ----------------------------------------------------------------- ignore files

    def _is_ignored(self, rel: str, chain: _Chain, *, is_dir: bool) -> bool:
        """Apply the exclude patterns, then ignore files from the deepest directory up.

        The configured `exclude` patterns win outright; otherwise the deepest ignore file
        with a matching pattern decides, as git does, so a nested `!keep.py` re-includes a
        file its parent's `.gitignore` excluded. Directories are matched with a trailing
        slash so that `build/` patterns apply to directories only.
        """
        suffix = "/" if is_dir else ""
        verdict = self._exclude.check_file(rel + suffix).include
        if verdict is not None:
            return verdict
        for base, spec in reversed(chain):
            sub = rel[len(base) + 1 :] if base else rel
            verdict = spec.check_file(sub + suffix).include
            if verdict is not None:
                return verdict
        return False

    def _extend_chain(self, chain: _Chain, dir_rel: str) -> _Chain:
        """Add a directory's own ignore rules, if it has any, to those inherited."""
        spec = self._spec_for(dir_rel)
        return chain if spec is None else (*chain, (dir_rel, spec))

    def _spec_for(self, dir_rel: str) -> pathspec.GitIgnoreSpec | None:
        """Load a directory's `.gitignore` and `.ignore` (plus `.git/info/exclude` at root).

        Lines are concatenated lowest precedence first (info/exclude, .gitignore, .ignore),
        since in gitignore semantics the last matching pattern wins. Results are cached and
        re-read when an ignore file's mtime or size changes, so edits to `.gitignore` take
        effect for later `check()` calls without restarting.
        """
        sources = self._ignore_sources(dir_rel)
        signature = tuple(_signature(p) for p in sources)
        if all(s is None for s in signature):
            return None
        cached = self._spec_cache.get(dir_rel)
        if cached is not None and cached[0] == signature:
            return cached[1]
        lines = [line for p in sources for line in _read_lines(p)]
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
        self._spec_cache[dir_rel] = (signature, spec)
        return spec

    def _ignore_sources(self, dir_rel: str) -> list[Path]:
        """The ignore files that apply from a directory, lowest precedence first."""
        directory = self._abs(dir_rel)
        sources = [directory / name for name in _IGNORE_FILE_NAMES]
        if dir_rel == "":
            sources.insert(0, directory / ".git" / "info" / "exclude")
        return sources

    # ----------------------------------------------------------------- paths

    def _abs(self, rel: str) -> Path:
        """The absolute path of a rel path (not resolving symlinks)."""
        return self.root / rel if rel else self.root

    def _rel_of(self, path: Path) -> str | None:
        """Express a path relative to the root, or None if it lies outside.

        Tries the root as given and then its real path, since editors may report either.
        """
        absolute = os.path.abspath(path if path.is_absolute() else self.root / path)
        for base in (str(self.root), self._real_root):
            if _is_within(absolute, base):
                rel = os.path.relpath(absolute, base)
                return "" if rel == "." else Path(rel).as_posix()
        return None


def _entry_is_dir(entry: os.DirEntry[str]) -> bool:
    """Tell whether a scandir entry is a real directory (symlinks count as files here).

    Symlinks are handed to the file rules, which explain why a directory symlink is not
    followed; an entry that vanished reads as a file and is then skipped as unreadable.
    """
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_symlink_loop(path: Path) -> bool:
    """Tell whether resolving a symlink runs in circles (`self -> self`, `a -> b -> a`)."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _sniff_binary(path: Path) -> str | None:
    """Return "binary" if the first 8 KiB hold a NUL byte, or why the file can't be read."""
    try:
        with path.open("rb") as handle:
            head = handle.read(BINARY_SNIFF_BYTES)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    return "binary" if b"\0" in head else None
