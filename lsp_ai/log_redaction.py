"""Masking of credentials in any text that leaves the process as a log line or a message.

Two nets, because neither alone is enough:

* by shape: the value after a key that names a credential (``api_key``, ``apiKey``,
  ``token``, ``password``, ``secret``), in the forms Python's ``repr``, JSON, TOML and HTTP
  headers write it, and the token after ``Bearer``. This catches what third-party code
  logs, such as pygls printing a whole ``initialize`` request at debug level.
* by value: every credential the configuration loaded is remembered, and any occurrence of
  it is masked wherever it appears, even where no key name stands next to it (a server
  that echoes the key back in its error message).
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

# A value shorter than this is not remembered: masking "a" or "xy" everywhere would garble
# every log line, and a key that short protects nothing anyway.
_MIN_REMEMBERED = 6

_KEY_NAMES = (
    r"api[_-]?key|x-api-key|access[_-]?token|auth[_-]?token|refresh[_-]?token|token"
    r"|password|passwd|secret|client[_-]?secret"
)
# `\b` keeps `max_tokens` and `prompt_tokens` out: `_` is a word character, so no boundary.
_BY_KEY = re.compile(
    rf"(?P<key>\b(?:{_KEY_NAMES})\b)(?P<sep>[\"']?\s*[:=]\s*)"
    r"(?:(?P<quote>[\"'])(?:\\.|(?!(?P=quote)).)*(?P=quote)|[^\s,;&)}\]\"']+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)

_remembered: set[str] = set()
_lock = threading.Lock()


def remember_secret(value: str) -> None:
    """Mask ``value`` from now on wherever it appears (a credential the config loaded)."""
    if isinstance(value, str) and len(value) >= _MIN_REMEMBERED:
        with _lock:
            _remembered.add(value)


def mask_credentials(text: str) -> str:
    """``text`` with every credential, by shape or remembered value, replaced by ``***``."""
    with _lock:
        known = sorted(_remembered, key=len, reverse=True)  # longest first: no partial leftovers
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    text = _BY_KEY.sub(_mask_value, text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)


def _mask_value(match: re.Match[str]) -> str:
    quote = match.group("quote") or ""
    return f"{match.group('key')}{match.group('sep')}{quote}{MASK}{quote}"


class RedactingFormatter(logging.Formatter):
    """A formatter whose output, message, arguments and traceback alike, is redacted.

    Masking the formatted line rather than ``record.msg`` is what covers everything: the
    arguments of a third-party call, an exception's text and a stack all end up in it.
    """

    def format(self, record: logging.LogRecord) -> str:
        return mask_credentials(super().format(record))
