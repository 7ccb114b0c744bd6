"""Mask keys, tokens and private keys in ordinary files before a model or the index sees them.

Secret files are kept out by name (`lsp_ai.index.secret_files`); this catches the credential
that sits in `settings.py` or a test. Detection follows the rules secret scanners use
(gitleaks, detect-secrets, trufflehog): token formats with a fixed prefix, AWS secret keys
and generic `password = "..."` assignments, URLs with a password, and PEM private-key blocks.

A secret is replaced by `*` characters one for one, newlines kept: every line keeps its length
and every (line, character) position stays where it was, so a completion's cursor, a chunk's
line numbers and a code action's selection still point at the same code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MASK = "*"

# A token that starts with a known prefix: the prefix says what it is, so no context is needed.
# The lookarounds keep a match from starting or ending inside a longer word.
_TOKEN_FORMATS = (
    r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",  # AWS access key id
    r"gh[pousr]_[A-Za-z0-9]{36,255}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{22,255}",  # GitHub fine-grained token
    r"glpat-[A-Za-z0-9_\-]{20,}",  # GitLab personal access token
    r"xox[baprse]-[A-Za-z0-9-]{10,}",  # Slack tokens
    r"AIza[0-9A-Za-z_\-]{35}",  # Google API key
    r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}",  # Stripe secret and restricted keys
    r"sk-(?:proj-|ant-[a-z0-9]+-)?[A-Za-z0-9_\-]{32,}",  # OpenAI and Anthropic keys
    r"hf_[A-Za-z0-9]{34,}",  # Hugging Face token
    r"npm_[A-Za-z0-9]{36}",  # npm token
    r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}",  # PyPI upload token
    r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",  # SendGrid key
    r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",  # a signed JWT
    r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}",  # Slack webhook
)
_TOKEN = re.compile(r"(?<![A-Za-z0-9_\-])(?:" + "|".join(_TOKEN_FORMATS) + r")(?![A-Za-z0-9_\-])")

# PEM private keys of every kind (RSA, EC, OPENSSH, ENCRYPTED, PGP ... BLOCK). The body is
# masked, the BEGIN and END lines kept. The body may only hold what a key in a file or in
# string literals holds (base64, PEM headers, `\n` escapes, quotes, whitespace), so code that
# merely mentions the BEGIN line (a PEM parser) is left alone. A block whose END is missing
# (still being typed, or cut off) is masked over the base64 lines that follow it.
_BEGIN = r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
# The body never holds five dashes in a row: so each BEGIN's scan for its END stops at the next
# PEM line, and a file of many BEGIN lines costs linear time, not quadratic (7,000 took 19 s).
_PRIVATE_KEY = re.compile(
    _BEGIN
    + r"(?P<body>(?:(?!-----)[A-Za-z0-9+/=\s:,\-\\\"'])*?)"
    + r"-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
)
_PRIVATE_KEY_CUT = re.compile(
    _BEGIN + r"(?P<body>(?:[ \t]*(?:\\n)?\r?\n[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*)+)"
)

# The 40-character AWS secret access key has no prefix: it is recognised by its name nearby.
_AWS_SECRET = re.compile(
    r"(?i:aws)[\w.\-]{0,20}?(?i:secret)[\w.\-\"']{0,20}?\s*(?:=|:=|=>|:)\s*[\"']?"
    r"(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)

# `password = "..."` and its kin: a name that ends in a credential word, an assignment, a
# value. Quoted values count from 8 characters; unquoted ones (`.env`-style, YAML) only when
# they look like a literal rather than code: letters and digits mixed, no call or attribute.
_KEY_WORDS = (
    r"password|passwd|passphrase|secret|token|api[_\-]?key|access[_\-]?key|"
    r"private[_\-]?key|client[_\-]?secret|auth[_\-]?token|credentials?"
)
# Only the end of the name is matched (`db_password`, `SECRET_KEY`): a scan for the words is
# several times faster than one for whole identifiers that end in them.
# The lookahead on the words' first letters lets the scan skip most positions (4x faster).
_NAME = r"(?=[ptsacPTSAC])(?i:" + _KEY_WORDS + r")(?:[_\-]?(?i:key|base))?(?![\w\-])"
_ASSIGN = r"[\"']?\s*(?::\s*[A-Za-z_][\w\[\]., |]*?\s*=|=>|:=|=|:)\s*"  # also `name: str = ...`
_GENERIC_QUOTED = re.compile(
    _NAME + _ASSIGN + r"[rbuf]?(?P<quote>[\"'`])(?P<value>[^\s\"'`{}]{8,})(?P=quote)"
)
_GENERIC_BARE = re.compile(
    r"(?m)^[ \t]*(?:export[ \t]+)?[\w.\-]*?"  # the whole name, from the start of the line
    + _NAME
    + r"[ \t]*(?:=|:)[ \t]*(?P<value>(?=[^\s]*[0-9])(?=[^\s]*[A-Za-z])[A-Za-z0-9+/=_\-!@%^&*~]{8,})"
    + r"[ \t]*(?:#.*)?$"
)

# A password in a URL: scheme://user:password@host.
# The lookbehind starts a scheme only where a word starts: without it, every position of a
# long run of letters began a scan to the run's end, quadratic in the run (a 100 kB minified
# line took 24 s).
_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@\"']+:(?P<value>[^/\s@\"']+)@"
)


_PLACEHOLDER_WORDS = frozenset({"password", "passwd", "secret", "token", "pass", "pwd"})


def _placeholder(value: str) -> bool:
    """Tell whether an assigned value is a stand-in, not a secret: `${VAR}`, `xxxx`, `<key>`."""
    if len(set(value)) <= 1 or value.lower() in _PLACEHOLDER_WORDS:
        return True
    return value.startswith(("${", "{{", "<", "%(", "$(")) or value.lower().startswith(
        ("your", "change", "example", "placeholder", "dummy")
    )


@dataclass(frozen=True)
class Redacted:
    """A text with its secrets masked, and where they were."""

    text: str
    spans: tuple[tuple[int, int], ...]  # [start, end) offsets of each masked secret

    @property
    def found(self) -> bool:
        return bool(self.spans)


def find_secrets(text: str) -> list[tuple[int, int]]:
    """The [start, end) spans of the secrets in `text`, sorted and merged."""
    spans: list[tuple[int, int]] = []
    if "PRIVATE KEY" in text:  # cheap test first: the block regex is the slow one
        spans += [m.span("body") for m in _PRIVATE_KEY.finditer(text)]
        spans += [m.span("body") for m in _PRIVATE_KEY_CUT.finditer(text)]
    spans += [m.span() for m in _TOKEN.finditer(text)]
    for regex in (_AWS_SECRET, _GENERIC_QUOTED, _GENERIC_BARE, _URL_PASSWORD):
        for m in regex.finditer(text):
            if not _placeholder(m.group("value")):
                spans.append(m.span("value"))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _mask(part: str) -> str:
    """`*` for every character but line breaks, so lines keep their number and length."""
    return re.sub(r"[^\r\n]", MASK, part)


def redact_text(text: str) -> Redacted:
    """`text` with every secret found masked one character for one."""
    spans = find_secrets(text)
    if not spans:
        return Redacted(text, ())
    out: list[str] = []
    at = 0
    for start, end in spans:
        out.append(text[at:start])
        out.append(_mask(text[start:end]))
        at = end
    out.append(text[at:])
    return Redacted("".join(out), tuple(spans))


def redact(text: str) -> str:
    """`text` with every secret masked; the same length, line for line."""
    return redact_text(text).text


def restore(new_text: str, original: str, redacted: Redacted, first: int, last: int) -> str:
    """Put the secrets of lines `first..last` back where a model's rewrite kept their masks.

    A refactor replaces the selected lines with what the model wrote from the masked text; a
    mask it kept would otherwise overwrite the user's real key with asterisks. Each run of
    `*` as long as a masked piece of those lines takes the next such piece back, in order.
    """
    starts = [0]
    for line in original.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    lo, hi = starts[min(first, len(starts) - 1)], starts[min(last + 1, len(starts) - 1)]
    pieces: dict[int, list[str]] = {}
    for start, end in redacted.spans:
        start, end = max(start, lo), min(end, hi)
        if start >= end:
            continue
        for piece in re.findall(r"[^\r\n]+", original[start:end]):
            pieces.setdefault(len(piece), []).append(piece)
    if not pieces:
        return new_text

    def put_back(m: re.Match[str]) -> str:
        queue = pieces.get(len(m.group()))
        return queue.pop(0) if queue else m.group()

    return re.sub(r"\*+", put_back, new_text)
