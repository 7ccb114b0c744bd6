"""What a GGUF file is, read from its header without loading the model.

The `gguf` package's reader builds an object per tensor and per vocabulary entry, which
took ~3 s for a 49k-token vocabulary here; `lsp-ai models` may look at dozens of files.
This reads the metadata key/value section only, straight from a memory map, and checks
the vocabulary for fill-in-the-middle tokens as it walks past it. The quantisation names
come from the `gguf` package's own table.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Vocabulary entries that mark each FIM style (its "middle" token; CodeLlama's vocabulary
# spells it with SentencePiece's word mark).
FIM_MARKERS: dict[str, tuple[bytes, ...]] = {
    "qwen": (b"<|fim_middle|>",),
    "starcoder": (b"<fim_middle>",),
    "deepseek": ("<｜fim▁end｜>".encode(),),
    "codellama": (b"<MID>", "▁<MID>".encode()),
}
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


class GgufError(ValueError):
    pass


@dataclass(frozen=True)
class GgufInfo:
    architecture: str
    name: str
    context_length: int | None
    quantization: str
    fim: str | None  # a style from FIM_MARKERS, or None
    has_chat_template: bool


class _Cursor:
    def __init__(self, buf: Any) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> bytes:
        n = self.take("<Q")
        if n > 1 << 24:
            raise GgufError("string length out of range: not a GGUF file, or a damaged one")
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    def value(self, kind: int, keep_strings: set[bytes] | None = None) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, count = self.take("<I"), self.take("<Q")
            if item == _STRING:
                found = []
                for _ in range(count):
                    s = self.string()
                    if keep_strings is not None and s in keep_strings:
                        found.append(s)
                return found
            if item in _SCALARS:
                self.pos += struct.calcsize(_SCALARS[item]) * count
                return None
            for _ in range(count):
                self.value(item)
            return None
        raise GgufError(f"unknown GGUF value type {kind}")


def read_gguf_info(path: Path) -> GgufInfo:
    """Architecture, context length, quantisation and FIM tokens of a GGUF file."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if mm[:4] != b"GGUF":
            raise GgufError(f"{path} is not a GGUF file")
        cur = _Cursor(mm)
        cur.pos = 4
        version = cur.take("<I")
        if version < 2:
            raise GgufError(f"{path}: GGUF version {version} is too old to read")
        cur.take("<Q")  # tensor count
        kv_count = cur.take("<Q")
        meta: dict[str, Any] = {}
        markers = {m for spellings in FIM_MARKERS.values() for m in spellings}
        for _ in range(kv_count):
            key = cur.string().decode("utf-8", "replace")
            kind = cur.take("<I")
            wanted = markers if key == "tokenizer.ggml.tokens" else None
            meta[key] = cur.value(kind, wanted)
    arch = _text(meta.get("general.architecture")) or "?"
    tokens = set(meta.get("tokenizer.ggml.tokens") or [])
    fim = next((style for style, marks in FIM_MARKERS.items() if tokens & set(marks)), None)
    ctx = meta.get(f"{arch}.context_length")
    return GgufInfo(
        architecture=arch,
        name=_text(meta.get("general.name")),
        context_length=int(ctx) if isinstance(ctx, int) else None,
        quantization=_file_type(meta.get("general.file_type")),
        fim=fim,
        has_chat_template="tokenizer.chat_template" in meta,
    )


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _file_type(value: Any) -> str:
    if not isinstance(value, int):
        return "?"
    try:
        from gguf import LlamaFileType

        return LlamaFileType(value).name.removeprefix("MOSTLY_")
    except (ImportError, ValueError):
        return f"type {value}"
