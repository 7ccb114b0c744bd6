"""Embeddings on sentence-transformers (the embedded all-MiniLM-L6-v2 by default)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from lsp_ai.inference.base import ModelError


class SentenceTransformerEmbedder:
    """Wraps a local SentenceTransformer folder; never reaches the Hugging Face hub."""

    def __init__(
        self,
        model_dir: Path,
        *,
        query_prefix: str = "",
        document_prefix: str = "",
        batch_size: int = 32,
        n_threads: int = 0,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no progress bars on stderr
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # stderr belongs to our logs
        if n_threads:
            torch.set_num_threads(n_threads)
        try:
            self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"models.embedding.model: cannot load a sentence-transformers model from "
                f'{model_dir} ({exc}); give a local model folder or "default"'
            ) from exc
        # Must match factory.embedder_name, which names the model without loading it.
        self.name = model_dir.name if model_dir.name != "model" else model_dir.parent.name
        self._prefix = {"query": query_prefix, "document": document_prefix}
        self._batch_size = batch_size
        self._lock = threading.Lock()
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        self._dimension = int(dim or len(self.embed(["x"], "document")[0]))

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str], kind: Literal["query", "document"]) -> list[list[float]]:
        prefix = self._prefix[kind]
        with self._lock:
            vectors = self._model.encode(
                [prefix + t for t in texts],
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return [list(map(float, v)) for v in vectors]
