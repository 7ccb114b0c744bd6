"""Optional second-stage reranking of index hits with a local cross-encoder: the model seam.

The first stage (FTS + vectors) scores the query and each chunk independently, so it is fast
but coarse. A cross-encoder reads query and chunk together and orders the top candidates much
better, at the price of one transformer pass per candidate; that is why it only sees the top
``top_n`` hits and is off by default (``[models.reranker] enabled = false``). This module loads
the model and scores pairs; which hits it sees and how its scores reorder them is decided in
`lsp_ai.index.search` (`rerank_head`).

The model is a sentence-transformers ``CrossEncoder`` folder on disk. Nothing here may reach
the network: the Hub is switched to offline mode before sentence-transformers is imported and
the model is opened with ``local_files_only=True``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsp_ai.index.hits import SearchHit
from lsp_ai.index.search import RERANK_TOP_N, Rerank, rerank_head
from lsp_ai.inference.base import ModelError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

log = logging.getLogger(__name__)

# huggingface_hub reads these once, at import time, so they must be set before the lazy
# import in `_load`; setdefault leaves a user's explicit choice alone.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

_KEY = "models.reranker.model"
_FIX = "give the path of a local sentence-transformers CrossEncoder folder"

# Chunks can be whole files' worth of code; the model truncates to its own token limit anyway
# (512 for the usual MiniLM/BERT rerankers, roughly 2,000 characters of code), so cutting
# the text first only saves tokenizing characters that would be thrown away.
DEFAULT_MAX_CHARS = 2000
DEFAULT_TOP_N = RERANK_TOP_N


class CrossEncoderReranker:
    """Reorders search hits by a cross-encoder's relevance score, best first.

    Callable as ``reranker(query, hits)``, the shape `IndexService` takes for ``rerank``.
    The model is loaded on first use rather than at construction so that enabling the
    reranker costs nothing until someone actually searches, and a server start stays fast.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        top_n: int = DEFAULT_TOP_N,
        max_chars: int = DEFAULT_MAX_CHARS,
        device: str | None = "cpu",
    ) -> None:
        """Remember where the model lives; nothing is read from disk yet.

        ``device`` defaults to the CPU, like the embedder, so the reranker never competes
        with the generative models for GPU memory unless asked to.
        """
        if top_n < 1:
            raise ValueError(f"top_n must be at least 1, got {top_n}")
        if max_chars < 1:
            raise ValueError(f"max_chars must be at least 1, got {max_chars}")
        self.model_dir = Path(model_dir).expanduser()
        # Named like the embedder: the folder, unless it is a generic "model" subfolder.
        d = self.model_dir
        self.name = d.name if d.name != "model" else d.parent.name
        self.top_n = top_n
        self.max_chars = max_chars
        self._device = device
        self._model: CrossEncoder | None = None
        self._error: ModelError | None = None
        self._load_lock = threading.Lock()
        # One forward pass at a time: torch already uses every core for a single batch, and
        # concurrent searches would only oversubscribe the CPU and race on device moves.
        self._predict_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded (for status reports; never triggers a load)."""
        return self._model is not None

    def model(self) -> CrossEncoder:
        """The loaded CrossEncoder, loading it on the first call.

        Double-checked locking: concurrent first searches load the model once, and later
        calls take no lock. A failed load is remembered and re-raised without retrying,
        because the folder will not fix itself and each retry would cost seconds per query.
        """
        model = self._model
        if model is not None:
            return model
        with self._load_lock:
            if self._model is None:
                if self._error is not None:
                    raise self._error
                try:
                    self._model = self._load()
                except ModelError as exc:
                    self._error = exc
                    raise
            return self._model

    def _load(self) -> CrossEncoder:
        if not self.model_dir.is_dir():
            raise ModelError(f"{_KEY}: {self.model_dir} is not a folder; {_FIX}")
        try:
            from sentence_transformers import CrossEncoder
            from transformers.utils import logging as hf_logging
        except ImportError as exc:  # pragma: no cover - both ship with the project
            raise ModelError(f"{_KEY}: sentence-transformers is not installed ({exc})") from exc
        hf_logging.disable_progress_bar()  # "Loading weights" bars would land in our stderr log
        try:
            model = CrossEncoder(str(self.model_dir), device=self._device, local_files_only=True)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise ModelError(
                f"{_KEY}: cannot load a CrossEncoder from {self.model_dir} ({exc}); {_FIX}"
            ) from exc
        if model.num_labels != 1:
            # A classifier with several labels has no single "relevance" score to sort by,
            # and guessing which label means relevant would silently rank garbage.
            raise ModelError(
                f"{_KEY}: {self.model_dir} has {model.num_labels} output labels; a reranker "
                f"must output one relevance score per pair; {_FIX} with num_labels = 1"
            )
        log.info("reranker: loaded %s on %s", self.model_dir, model.device)
        return model

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        """Cross-encoder scores for (query, text) pairs, in the order given.

        Everything goes in one ``predict`` batch: there are at most ``top_n`` short pairs, and
        one padded forward pass is cheaper than several small ones on a CPU.
        """
        if not texts:
            return []
        model = self.model()
        pairs = [(query, t[: self.max_chars]) for t in texts]
        with self._predict_lock:
            raw: Any = model.predict(
                pairs,
                batch_size=len(pairs),
                show_progress_bar=False,  # predict turns one on when logging is at INFO
                convert_to_numpy=True,
            )
        return [float(s) for s in raw.reshape(-1)]

    def __call__(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        """Every hit: the first ``top_n`` re-sorted by cross-encoder score, then the rest.

        Reranked hits carry the cross-encoder score in ``score``; see `rerank_head`.
        """
        return rerank_head(query, hits, self.scores, self.top_n)


def make_reranker(cfg: Any, *, top_n: int = DEFAULT_TOP_N) -> Rerank | None:
    """The ``rerank`` hook for `IndexService` from ``[models.reranker]``, or None when off.

    Checks the configuration eagerly so a typo in the model path is reported at start-up
    with the key to fix, while the model itself still loads lazily on the first search.
    """
    if not getattr(cfg, "enabled", False):
        return None
    model = str(getattr(cfg, "model", "") or "").strip()
    if not model:
        raise ModelError(
            f"{_KEY} is empty but models.reranker.enabled is true; {_FIX}, "
            "or set models.reranker.enabled = false"
        )
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ModelError(
            f"{_KEY}: {folder} is not a folder; {_FIX}, or set models.reranker.enabled = false"
        )
    return CrossEncoderReranker(folder, top_n=top_n)
