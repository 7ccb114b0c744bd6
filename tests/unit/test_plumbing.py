"""Cancellation tokens, latest-wins, the stop-string scanner and `$/chat` param checks."""

from __future__ import annotations

import threading

import pytest

from lsp_ai.concurrency import Cancelled, CancelToken, CompletionFirst, LatestWins
from lsp_ai.inference.llama_cpp import _StopScanner
from lsp_ai.lsp.protocol import parse_chat_params


def test_newer_request_supersedes_older_on_same_document() -> None:
    latest = LatestWins()
    first = latest.start("file:///a.py")
    other = latest.start("file:///b.py")
    second = latest.start("file:///a.py")
    assert first.cancelled and first.reason == "superseded"
    assert not second.cancelled and not other.cancelled
    latest.finish("file:///a.py", first)  # finishing a stale token leaves the live one
    third = latest.start("file:///a.py")
    assert second.cancelled and not third.cancelled


def test_cancel_token_raises_once_cancelled() -> None:
    token = CancelToken()
    token.raise_if_cancelled()
    token.cancel("stop")
    with pytest.raises(Cancelled, match="stop"):
        token.raise_if_cancelled()


def test_chat_waits_while_a_completion_runs() -> None:
    first = CompletionFirst()
    passed = threading.Event()
    with first:
        t = threading.Thread(target=lambda: (first.wait_for_completions(), passed.set()))
        t.start()
        assert not passed.wait(0.1)
    t.join(2)
    assert passed.is_set()


def test_background_work_waits_while_an_answer_generates() -> None:
    first = CompletionFirst()
    passed = threading.Event()
    with first.answering():
        first.wait_for_completions()  # an answer does not wait for itself
        t = threading.Thread(target=lambda: (first.wait_for_foreground(), passed.set()))
        t.start()
        assert not passed.wait(0.1)
    t.join(2)
    assert passed.is_set()


def test_waiting_for_completions_returns_on_cancel() -> None:
    first, token = CompletionFirst(), CancelToken()
    with first:
        token.cancel()
        first.wait_for_completions(token)  # does not block


def test_stop_scanner_catches_stops_split_across_tokens() -> None:
    scanner = _StopScanner(["<|end|>"])
    out = []
    for piece in ["hello <|", "en", "d|> ignored"]:
        text, stopped = scanner.feed(piece)
        out.append(text)
        if stopped:
            break
    assert "".join(out) == "hello "


def test_stop_scanner_without_stops_streams_everything() -> None:
    scanner = _StopScanner([])
    assert scanner.feed("abc") == ("abc", False)
    assert scanner.flush() == ""


def test_chat_params_validation() -> None:
    p = parse_chat_params(
        {
            "message": "hi",
            "sessionId": "s",
            "textDocument": {"uri": "file:///x.py"},
            "position": {"line": 1, "character": 2},
            "partialResultToken": 7,
        }
    )
    assert (p.session_id, p.uri, p.line, p.character, p.partial_token) == (
        "s",
        "file:///x.py",
        1,
        2,
        7,
    )
    for bad, needle in [
        (None, "message"),
        ({"message": ""}, "message"),
        ({"message": "x", "sessionId": 3}, "sessionId"),
        ({"message": "x", "position": {"line": -1, "character": 0}}, "position"),
        ({"message": "x", "partialResultToken": [1]}, "partialResultToken"),
    ]:
        with pytest.raises(ValueError, match=needle):
            parse_chat_params(bad)
