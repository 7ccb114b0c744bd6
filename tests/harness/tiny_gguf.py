"""A tiny llama-architecture GGUF with Qwen2.5-Coder's FIM and repository tokens.

No FIM-trained model ships with the project, so tests write one with gguf-py's GGUFWriter
and run it through the real llama.cpp. The weights are set by hand so that its output
proves where the prompt's parts went:

- after `<|fim_middle|>` it writes the digit that appears in the prompt (one attention head
  whose query, from `<|fim_middle|>` only, matches a key that only digits carry), so a test
  that puts the only digit in the suffix sees that the suffix reached the model;
- after a digit it writes `<|endoftext|>`, except after `9`, where it writes `<|file_sep|>`:
  both must stop generation;
- after any other token it writes `<|endoftext|>`.

The tokenizer is GPT-2 byte-level BPE (every byte is a token, so any text tokenizes) with
the special tokens marked as control tokens, as llama.cpp's converter writes Qwen's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPECIAL = (
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    "<|im_start|>",
    "<|im_end|>",
)

# Residual-stream layout (n_embd = 32, one head of 32 dims).
N_EMBD = 32
EOS_DIR, FSEP_DIR, QUERY_DIR, KEY_DIR = 10, 11, 12, 13  # dims 0-9: one per digit
# llama's RoPE rotates the pair (2i, 2i+1) by pos * base^(-2i/d); with a huge base the last
# pair barely turns over thousands of positions, so a query and key placed there compare
# content, not position.
QK_HEAD_DIM = 30
ROPE_BASE = 1e9


def _byte_tokens() -> list[str]:
    """GPT-2's bytes_to_unicode: the printable stand-in for each of the 256 bytes."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 256))
    chars = keep[:]
    n = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    table = dict(zip(keep, chars, strict=True))
    return [chr(table[b]) for b in range(256)]


def vocabulary() -> list[str]:
    return [*_byte_tokens(), "ĠĠ", *SPECIAL]


def token_id(text: str) -> int:
    return vocabulary().index(text)


def write_tiny_fim_gguf(path: Path) -> Path:
    """Write the model to `path` (about 100 KB) and return it."""
    import gguf

    tokens = vocabulary()
    n_vocab = len(tokens)
    ids = {t: i for i, t in enumerate(tokens)}
    byte_ids = {b: i for i, b in enumerate(range(256))}
    digits = [byte_ids[ord(str(d))] for d in range(10)]

    emb = np.zeros((n_vocab, N_EMBD), dtype=np.float32)
    emb[:, EOS_DIR] = 10.0  # by default: end of text next
    for d, tid in enumerate(digits):
        emb[tid] = 0.0
        emb[tid, d] = 1.0  # which digit (copied by the head's value)
        emb[tid, KEY_DIR] = 1.0  # "I am a digit" (matched by <|fim_middle|>'s query)
        emb[tid, FSEP_DIR if d == 9 else EOS_DIR] = 10.0  # what follows a digit
    mid = ids["<|fim_middle|>"]
    emb[mid] = 0.0
    emb[mid, QUERY_DIR] = 1.0
    emb[mid, EOS_DIR] = 0.5  # no digit in the prompt: end of text

    # Weight matrices in GGUF are stored (out, in), as numpy arrays of that shape.
    wq = np.zeros((N_EMBD, N_EMBD), dtype=np.float32)
    wq[QK_HEAD_DIM, QUERY_DIR] = 10.0
    wk = np.zeros((N_EMBD, N_EMBD), dtype=np.float32)
    wk[QK_HEAD_DIM, KEY_DIR] = 10.0
    wv = np.zeros((N_EMBD, N_EMBD), dtype=np.float32)
    for d in range(10):
        wv[d, d] = 1.0
    wo = np.eye(N_EMBD, dtype=np.float32) * 20.0  # the copied digit outweighs the embedding

    out = np.zeros((n_vocab, N_EMBD), dtype=np.float32)
    for d, tid in enumerate(digits):
        out[tid, d] = 1.0
    out[ids["<|endoftext|>"], EOS_DIR] = 1.0
    out[ids["<|file_sep|>"], FSEP_DIR] = 1.0

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-fim-test")
    w.add_context_length(4096)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(1)
    w.add_feed_forward_length(N_EMBD)
    w.add_head_count(1)
    w.add_head_count_kv(1)
    w.add_rope_dimension_count(N_EMBD)
    w.add_rope_freq_base(ROPE_BASE)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)

    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    types = [gguf.TokenType.NORMAL] * (n_vocab - len(SPECIAL))
    w.add_token_types(types + [gguf.TokenType.CONTROL] * len(SPECIAL))
    w.add_token_merges(["Ġ Ġ"])
    w.add_eos_token_id(ids["<|endoftext|>"])
    w.add_bos_token_id(ids["<|endoftext|>"])
    w.add_pad_token_id(ids["<|endoftext|>"])
    w.add_add_bos_token(False)

    ones = np.ones(N_EMBD, dtype=np.float32)
    zeros_ff = np.zeros((N_EMBD, N_EMBD), dtype=np.float32)
    w.add_tensor("token_embd.weight", emb)
    w.add_tensor("blk.0.attn_norm.weight", ones)
    w.add_tensor("blk.0.attn_q.weight", wq)
    w.add_tensor("blk.0.attn_k.weight", wk)
    w.add_tensor("blk.0.attn_v.weight", wv)
    w.add_tensor("blk.0.attn_output.weight", wo)
    w.add_tensor("blk.0.ffn_norm.weight", ones)
    w.add_tensor("blk.0.ffn_gate.weight", zeros_ff)
    w.add_tensor("blk.0.ffn_up.weight", zeros_ff)
    w.add_tensor("blk.0.ffn_down.weight", zeros_ff)
    w.add_tensor("output_norm.weight", ones)
    w.add_tensor("output.weight", out)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
