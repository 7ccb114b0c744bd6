"""`lsp-ai models pull`: fetch a GGUF into the Hugging Face cache, checked before use.

huggingface_hub does the transfer (resuming within the call when the connection drops, its
own progress bar on stderr) into the cache `lsp-ai models` already scans. What it leaves to
us: a free-disk check before starting, the SHA-256 check (an LFS file's ETag is its SHA-256,
and huggingface_hub does not compare them), and turning each failure into one line.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from lsp_ai.inference.discovery import hf_cache_dir
from lsp_ai.inference.presets import PRESETS

DEFAULT_ENDPOINT = "https://huggingface.co"
# Room kept free besides the file, so a download never fills the disk to the last byte.
DISK_MARGIN = 100_000_000
_SHA256 = re.compile(r"[0-9a-f]{64}")
TIMEOUT_S = 10.0


class PullError(Exception):
    """A failed pull; the message is the one line the user sees."""


@dataclass(frozen=True)
class Source:
    repo: str
    filename: str
    revision: str = "main"


@dataclass(frozen=True)
class Pulled:
    path: Path  # the snapshot path in the cache (a link to the blob)
    size: int
    sha256: str  # empty when the hub gave no SHA-256 to check against (a non-LFS file)


def parse_source(name: str) -> Source:
    """A preset name, or `hf:OWNER/REPO/FILE.gguf` (optionally `@REVISION`)."""
    if name in PRESETS:
        p = PRESETS[name]
        return Source(p.repo, p.filename)
    if name.startswith("hf:"):
        spec, _, revision = name[3:].partition("@")
        parts = spec.split("/", 2)
        if len(parts) == 3 and all(parts) and parts[2].endswith(".gguf"):
            return Source(f"{parts[0]}/{parts[1]}", parts[2], revision or "main")
    names = ", ".join(PRESETS)
    raise PullError(f"unknown model {name!r}: use one of {names}, or hf:OWNER/REPO/FILE.gguf")


def endpoint() -> str:
    """Read at call time: huggingface_hub reads HF_ENDPOINT once, when it is first imported."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def by_hand_hint(src: Source) -> str:
    return (
        f"to place it by hand, download {src.filename} from {src.repo} and put it in "
        f"{hf_cache_dir()} or a folder listed in models.paths (`lsp-ai models` lists them)"
    )


def free_bytes(folder: Path) -> int:
    """Free space on the disk that holds `folder` (or its nearest existing parent)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _remove(path: Path) -> None:
    """Drop a downloaded file: the blob and the snapshot link that points at it."""
    blob = path.resolve()
    for p in (path, blob):
        p.unlink(missing_ok=True)


def pull(name: str, *, cache_dir: Path | None = None, progress: bool = True) -> Pulled:
    """Download `name` (see parse_source); raises PullError with a one-line message."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if not progress:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    src = parse_source(name)
    cache = cache_dir or hf_cache_dir()
    hub = endpoint()
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise PullError(f"offline (HF_HUB_OFFLINE is set): not downloading; {by_hand_hint(src)}")
    url = hf_hub_url(src.repo, src.filename, revision=src.revision, endpoint=hub)
    missing = (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError)
    try:
        meta = get_hf_file_metadata(url, timeout=TIMEOUT_S)
    except missing:
        raise PullError(f"{hub} has no {src.filename} in {src.repo}@{src.revision}") from None
    except Exception as exc:  # connection refused, DNS, TLS, timeouts: the hub is unreachable
        raise PullError(f"cannot reach {hub} ({_reason(exc)}); {by_hand_hint(src)}") from None
    size = meta.size or 0
    free = free_bytes(cache)
    if size + DISK_MARGIN > free:
        raise PullError(
            f"not enough disk space for {src.filename}: {size / 1e9:.2f} GB needed, "
            f"{free / 1e9:.2f} GB free in {cache}"
        )
    try:
        path = Path(
            hf_hub_download(
                src.repo,
                src.filename,
                revision=src.revision,
                cache_dir=cache,
                endpoint=hub,
                etag_timeout=TIMEOUT_S,
            )
        )
    except missing:
        raise PullError(f"{hub} has no {src.filename} in {src.repo}@{src.revision}") from None
    except (LocalEntryNotFoundError, HfHubHTTPError) as exc:
        raise PullError(f"download from {hub} failed ({_reason(exc)})") from None
    except OSError as exc:  # a full disk, a read-only cache, a cut transfer that did not resume
        raise PullError(f"download of {src.filename} failed: {_reason(exc)}") from None
    except Exception as exc:  # the http library's own errors after huggingface_hub's retries
        raise PullError(f"download from {hub} failed ({_reason(exc)})") from None
    expected = (meta.etag or "").lower()
    if not _SHA256.fullmatch(expected):
        return Pulled(path, path.stat().st_size, "")
    actual = sha256_of(path)
    if actual != expected:
        _remove(path)
        raise PullError(
            f"checksum mismatch for {src.filename}: the hub says sha256 {expected[:12]}…, the "
            f"download is {actual[:12]}…; removed it, run the pull again"
        )
    return Pulled(path, path.stat().st_size, actual)


def _reason(exc: BaseException) -> str:
    """The first line of an error, without huggingface_hub's multi-line explanations."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
