"""Named GGUF downloads for `lsp-ai models pull` and `lsp-ai setup`.

Sizes are approximate (the hub's own size, read before downloading, is what the free-disk
check uses); they are here so `setup` can say how much it would fetch before asking.
Completion presets are base models, which were trained with the FIM tokens; chat presets
are the instruct models.
"""

from __future__ import annotations

from dataclasses import dataclass

GB = 1_000_000_000


@dataclass(frozen=True)
class Preset:
    name: str
    role: str  # completion | chat | next_edit | embedding
    repo: str
    filename: str
    size: int  # bytes, approximate
    note: str = ""


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "qwen2.5-coder-0.5b-q8_0",
            "completion",
            "ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF",
            "qwen2.5-coder-0.5b-q8_0.gguf",
            int(0.53 * GB),
            "FIM, fastest on CPU",
        ),
        Preset(
            "qwen2.5-coder-1.5b-q4_k_m",
            "completion",
            "bartowski/Qwen2.5-Coder-1.5B-GGUF",
            "Qwen2.5-Coder-1.5B-Q4_K_M.gguf",
            int(0.99 * GB),
            "FIM, CPU with 16 GB RAM",
        ),
        Preset(
            "qwen2.5-coder-1.5b-q8_0",
            "completion",
            "ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF",
            "qwen2.5-coder-1.5b-q8_0.gguf",
            int(1.65 * GB),
            "FIM, GPU with 8 GB+",
        ),
        Preset(
            "qwen2.5-coder-3b-q8_0",
            "completion",
            "ggml-org/Qwen2.5-Coder-3B-Q8_0-GGUF",
            "qwen2.5-coder-3b-q8_0.gguf",
            int(3.29 * GB),
            "FIM, GPU",
        ),
        Preset(
            "qwen2.5-coder-7b-q4_k_m",
            "completion",
            "bartowski/Qwen2.5-Coder-7B-GGUF",
            "Qwen2.5-Coder-7B-Q4_K_M.gguf",
            int(4.68 * GB),
            "FIM, GPU with 24 GB+",
        ),
        Preset(
            "qwen2.5-coder-3b-instruct-q4_k_m",
            "chat",
            "Qwen/Qwen2.5-Coder-3B-Instruct-GGUF",
            "qwen2.5-coder-3b-instruct-q4_k_m.gguf",
            int(2.10 * GB),
            "chat, CPU with 16 GB RAM",
        ),
        Preset(
            "qwen2.5-coder-7b-instruct-q4_k_m",
            "chat",
            "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF",
            "qwen2.5-coder-7b-instruct-q4_k_m.gguf",
            int(4.68 * GB),
            "chat, GPU with 8 GB",
        ),
        Preset(
            "qwen2.5-coder-14b-instruct-q4_k_m",
            "chat",
            "Qwen/Qwen2.5-Coder-14B-Instruct-GGUF",
            "qwen2.5-coder-14b-instruct-q4_k_m.gguf",
            int(8.99 * GB),
            "chat, GPU with 12-16 GB",
        ),
        Preset(
            "qwen2.5-coder-32b-instruct-q4_k_m",
            "chat",
            "Qwen/Qwen2.5-Coder-32B-Instruct-GGUF",
            "qwen2.5-coder-32b-instruct-q4_k_m.gguf",
            int(19.9 * GB),
            "chat, GPU with 24 GB+",
        ),
        Preset(
            "zeta-q8_0",
            "next_edit",
            "zed-industries/zeta-GGUF",
            "zeta-q8_0.gguf",
            int(7.6 * GB),
            "next-edit prediction (Zeta format)",
        ),
        Preset(
            "nomic-embed-text-v1.5-q8_0",
            "embedding",
            "nomic-ai/nomic-embed-text-v1.5-GGUF",
            "nomic-embed-text-v1.5.Q8_0.gguf",
            int(0.146 * GB),
            "code and text embeddings",
        ),
    )
}
