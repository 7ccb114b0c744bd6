"""The in-process llama.cpp backend (llama-cpp-python).

One `LlamaCppModel` per role, each with its own weights and KV cache, so a chat never evicts
the completion prompt from its cache and the two never wait on one lock. Generation is our own
token loop over `Llama.generate` (which reuses the longest cached prompt prefix), checking the
cancel token after every token; an abort callback also stops a long prompt evaluation.
"""

from __future__ import annotations

import codecs
import ctypes
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from lsp_ai.concurrency import Cancelled, CancelToken
from lsp_ai.governor import cores, free_threads
from lsp_ai.inference.base import ChatMessage, FimTokens, GenerationParams, ModelError, Usage

log = logging.getLogger(__name__)

# llama-cpp-python swaps fds 1 and 2 for /dev/null while it loads a model and swaps them back
# after; two loads at once can restore each other's /dev/null for good. One load at a time.
_LOAD_LOCK = threading.Lock()
_WARNED_OPENMP = threading.Event()
CLOSE_WAIT_S = 5.0

# Candidate FIM token spellings, checked against the model's vocabulary.
_FIM_SPELLINGS = (
    FimTokens("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "qwen"),
    FimTokens("<fim_prefix>", "<fim_suffix>", "<fim_middle>", "starcoder"),
    FimTokens("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "deepseek"),
    FimTokens("<PRE>", "<SUF>", "<MID>", "codellama"),
)


@functools.cache
def uses_openmp() -> bool:
    """Whether this llama.cpp build runs its CPU threads with OpenMP (see the install script).

    Cached, and first asked under the load lock: llama.cpp builds the answer in a static
    buffer, and two threads asking at once read each other's half-written bytes.
    """
    import llama_cpp

    with _LOAD_LOCK:
        return "OPENMP = 1" in llama_cpp.llama_print_system_info().decode("utf-8", "replace")


def load_llama(
    path: Path,
    role: str,
    *,
    n_ctx: int,
    n_batch: int,
    n_gpu_layers: int,
    n_threads: int,
    **extra: Any,
) -> Any:
    """Load a GGUF with llama-cpp-python, one load at a time, failing with the config key."""
    from llama_cpp import Llama  # heavy import, kept off the server's start-up path

    threads = n_threads or cores()
    if uses_openmp() and not _WARNED_OPENMP.is_set():
        _WARNED_OPENMP.set()
        log.warning(
            "llama-cpp-python is built with OpenMP: with completion and chat on their own "
            "threads every completion runs ~1.6x slower; `lsp-ai doctor` says how to rebuild"
        )
    try:
        with _LOAD_LOCK:
            return Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_ubatch=n_batch,
                n_gpu_layers=n_gpu_layers,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
                **extra,
            )
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(
            f"models.{role}.model: llama.cpp could not load {path} ({exc}); the file may be "
            "corrupt, truncated or of an architecture this llama.cpp does not know"
        ) from exc


def close_when_idle(llm: Any, busy: threading.Lock) -> None:
    """Free a llama.cpp model once no call holds `busy`.

    On shutdown a cancelled generation may still be inside llama_decode for a moment;
    freeing the context under it crashes the process. If it does not let go within a few
    seconds, the memory is left to the process exit instead.
    """
    if busy.acquire(timeout=CLOSE_WAIT_S):
        try:
            llm.close()
        finally:
            busy.release()


def _kv_cache_args(kind: str) -> dict[str, Any]:
    """Llama() arguments for a KV-cache precision; a quantised V cache needs flash attention."""
    import llama_cpp

    types = {"q8_0": llama_cpp.GGML_TYPE_Q8_0, "q4_0": llama_cpp.GGML_TYPE_Q4_0}
    if kind not in types:
        return {}
    return {"type_k": types[kind], "type_v": types[kind], "flash_attn": True}


class _StopScanner:
    """Holds back just enough text to catch stop strings split across tokens."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.keep = max((len(s) for s in self.stops), default=1) - 1
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Returns (text safe to emit, whether a stop string was hit)."""
        self.pending += text
        hits = [i for s in self.stops if (i := self.pending.find(s)) >= 0]
        if hits:
            out, self.pending = self.pending[: min(hits)], ""
            return out, True
        cut = len(self.pending) - self.keep
        if cut <= 0:
            return "", False
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out, False

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


class LlamaCppModel:
    """A GGUF model loaded in this process for one role."""

    def __init__(
        self,
        path: Path,
        *,
        role: str,
        n_ctx: int,
        n_gpu_layers: int = 0,
        n_threads: int = 0,
        n_batch: int = 128,
        kv_cache_type: str = "f16",
        adapt_threads: bool = False,
    ) -> None:
        """Load `path` for `role`.

        `adapt_threads` (auto mode, `n_threads = 0`): before each generation, leave out the
        cores other processes keep busy. An explicit thread count stays as given.
        """
        self.name = path.name
        self.path = path
        self.role = role
        self._lock = threading.Lock()
        self._cancel: CancelToken | None = None
        self.last_usage = Usage()
        self._most_threads = self.threads = n_threads or cores()
        self._adapt_threads = adapt_threads
        # A small n_batch keeps each llama_decode short, so cancellation lands quickly even
        # between abort-callback checks.
        self._llm = load_llama(
            path,
            role,
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_gpu_layers=n_gpu_layers,
            n_threads=self.threads,
            **_kv_cache_args(kv_cache_type),
        )
        self._install_abort_callback()
        self._chat_formatter = self._make_chat_formatter()

    # -- introspection ---------------------------------------------------------------------

    @property
    def n_ctx(self) -> int:
        return int(self._llm.n_ctx())

    def describe(self) -> dict[str, object]:
        meta = self._llm.metadata
        return {
            "backend": "llama_cpp",
            "path": str(self.path),
            "architecture": meta.get("general.architecture", "?"),
            "n_ctx": self.n_ctx,
            "fim": (fim.style if (fim := self.fim_tokens()) else None),
            "threads": self.threads,
        }

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode(), add_bos=False, special=False))

    def fim_tokens(self) -> FimTokens | None:
        """FIM tokens are real only when each spelling tokenizes to a single vocabulary id."""
        if not hasattr(self, "_fim"):
            self._fim = self._find_fim_tokens()
        return self._fim

    def _find_fim_tokens(self) -> FimTokens | None:
        for cand in _FIM_SPELLINGS:
            if all(
                len(self._llm.tokenize(t.encode(), add_bos=False, special=True)) == 1
                for t in (cand.prefix, cand.suffix, cand.middle)
            ):
                return cand
        return None

    # -- generation ------------------------------------------------------------------------

    def stream(self, prompt: str, params: GenerationParams, cancel: CancelToken) -> Iterator[str]:
        tokens = self._llm.tokenize(prompt.encode(), add_bos=True, special=True)
        return self._generate(tokens, params, cancel)

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Iterator[str]:
        if self._chat_formatter is None:
            text = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
            return self.stream(text, params, cancel)
        rendered = self._chat_formatter(messages=list(messages))
        stops = tuple(params.stop) + tuple(rendered.stop or ())
        tokens = self._llm.tokenize(rendered.prompt.encode(), add_bos=False, special=True)
        return self._generate(tokens, replace(params, stop=stops), cancel)

    def _generate(
        self, tokens: list[int], params: GenerationParams, cancel: CancelToken
    ) -> Iterator[str]:
        if not tokens:
            return  # an empty prompt (a completion at the very start of a file, prefix-only)
        room = self.n_ctx - len(tokens)
        if room <= 0:
            raise ModelError(
                f"models.{self.role}: the prompt has {len(tokens)} tokens but n_ctx is "
                f"{self.n_ctx}; raise models.{self.role}.n_ctx"
            )
        max_tokens = min(params.max_tokens, room)
        with self._lock:
            if self._adapt_threads:
                self._use_threads(free_threads(self._most_threads))
            self._cancel = cancel
            try:
                yield from self._token_loop(tokens, params, max_tokens, cancel)
            finally:
                self._cancel = None

    def _token_loop(
        self, tokens: list[int], params: GenerationParams, max_tokens: int, cancel: CancelToken
    ) -> Iterator[str]:
        import llama_cpp

        vocab = self._llm._model.vocab
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        scanner = _StopScanner(params.stop)
        generated: list[int] = []
        stopped = False
        cancel.raise_if_cancelled()
        cached = self._cached_prefix(tokens)
        started = time.perf_counter()
        first_ms = 0.0
        self._abort_checks(True)
        try:
            if params.between_batches is not None:
                self._prefill(tokens, cached, params.between_batches, cancel)
            gen = self._llm.generate(
                tokens,
                temp=params.temperature,
                top_k=40 if params.temperature > 0 else 1,
                top_p=0.95,
                min_p=0.05,
                repeat_penalty=params.repeat_penalty,
            )
            for token in gen:
                cancel.raise_if_cancelled()
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    break
                if not generated:
                    first_ms = (time.perf_counter() - started) * 1000
                    self._abort_checks(False)
                piece = self._llm.detokenize([token], prev_tokens=tokens + generated)
                generated.append(token)
                text, stopped = scanner.feed(decoder.decode(piece))
                if text:
                    yield text
                if stopped or len(generated) >= max_tokens:
                    break
        except RuntimeError as exc:
            if cancel.cancelled:  # llama_decode returned "aborted" from our callback
                raise Cancelled(cancel.reason) from exc
            raise ModelError(f"models.{self.role}: llama.cpp failed: {exc}") from exc
        finally:
            self._abort_checks(False)
            total_ms = (time.perf_counter() - started) * 1000
            self.last_usage = Usage(len(tokens), cached, len(generated), first_ms, total_ms)
        cancel.raise_if_cancelled()
        if not stopped:
            text, _ = scanner.feed(decoder.decode(b"", final=True))
            if rest := text + scanner.flush():
                yield rest

    def _prefill(
        self, tokens: list[int], cached: int, pause: Callable[[], None], cancel: CancelToken
    ) -> None:
        """Evaluate the prompt's new tokens a batch at a time, calling `pause` in between.

        `generate` then finds them in the KV cache and evaluates only the last token, which
        it always does to get fresh logits.
        """
        llm = self._llm
        llm.n_tokens = cached  # what generate() would keep: the rest is evaluated here
        end = len(tokens) - 1
        for start in range(cached, end, llm.n_batch):
            pause()
            cancel.raise_if_cancelled()
            llm.eval(tokens[start : min(start + llm.n_batch, end)])

    def _cached_prefix(self, tokens: list[int]) -> int:
        """How many leading prompt tokens the KV cache holds already (as `generate` finds)."""
        import numpy as np

        held = self._llm._input_ids  # prompt and output of the previous generation
        m = min(len(held), len(tokens))
        differ = np.flatnonzero(held[:m] != np.asarray(tokens[:m], dtype=held.dtype))
        n = int(differ[0]) if len(differ) else m
        # generate() always evaluates at least one token to refresh the logits.
        return min(n, len(tokens) - 1)

    # -- plumbing --------------------------------------------------------------------------

    def _use_threads(self, n: int) -> None:
        import llama_cpp

        if n != self.threads:
            llama_cpp.llama_set_n_threads(self._llm.ctx, n, n)
            log.debug("models.%s: %d threads (of %d)", self.role, n, self._most_threads)
            self.threads = n

    def _install_abort_callback(self) -> None:
        import llama_cpp

        def should_abort(_data: Any) -> bool:
            token = self._cancel
            return bool(token and token.cancelled)

        # Keep references: ctypes frees a trampoline when its Python object dies.
        self._abort_cb = llama_cpp.ggml_abort_callback(should_abort)
        self._no_abort_cb = llama_cpp.ggml_abort_callback()  # NULL: no checks
        self._abort_on = True
        self._abort_checks(False)

    def _abort_checks(self, on: bool) -> None:
        """Let a cancel stop prompt evaluation, but not tax every generated token.

        ggml calls the callback once per graph node, some 600 times per token for a small
        model. Each call takes the GIL, and in the server, where other threads want it too,
        that doubled the time per generated token. Generation checks the cancel token after
        every token anyway, so the callback is on only until the first token.
        """
        import llama_cpp

        if on != self._abort_on:
            cb = self._abort_cb if on else self._no_abort_cb
            llama_cpp.llama_set_abort_callback(self._llm.ctx, cb, ctypes.c_void_p(0))
            self._abort_on = on

    def _make_chat_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        meta = self._llm.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            return None

        def token_text(key: str) -> str:
            tid = meta.get(key)
            if tid is None:
                return ""
            return self._llm._model.token_get_text(int(tid))

        return Jinja2ChatFormatter(
            template=template,
            eos_token=token_text("tokenizer.ggml.eos_token_id"),
            bos_token=token_text("tokenizer.ggml.bos_token_id"),
        )

    def close(self) -> None:
        close_when_idle(self._llm, self._lock)


class LlamaCppEmbedder:
    """A GGUF embedding model (e.g. nomic-embed-text) run by llama.cpp, mean-pooled."""

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int = 512,
        n_gpu_layers: int = 0,
        n_threads: int = 0,
        query_prefix: str = "",
        document_prefix: str = "",
    ) -> None:
        from llama_cpp import LLAMA_POOLING_TYPE_MEAN

        self._llm = load_llama(
            path,
            "embedding",
            n_ctx=n_ctx,
            n_batch=n_ctx,
            n_gpu_layers=n_gpu_layers,
            n_threads=n_threads,
            embedding=True,
            pooling_type=LLAMA_POOLING_TYPE_MEAN,
        )
        self.name = path.stem
        self._prefix = {"query": query_prefix, "document": document_prefix}
        self._lock = threading.Lock()
        self._dimension = int(self._llm.n_embd())

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str], kind: str) -> list[list[float]]:
        prefix = self._prefix[kind]
        # Texts longer than the window are cut to it rather than failing the whole batch.
        limit = self._llm.n_ctx() - 8
        out: list[list[float]] = []
        with self._lock:
            for text in texts:
                tokens = self._llm.tokenize((prefix + text).encode(), add_bos=True)[:limit]
                clipped = self._llm.detokenize(tokens).decode("utf-8", "replace")
                vec = self._llm.embed(clipped, normalize=True)
                out.append([float(x) for x in vec])
        return out

    def close(self) -> None:
        close_when_idle(self._llm, self._lock)
