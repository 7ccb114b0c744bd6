"""The frame parser on its own: any split of the stream, any garbage, the messages after it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lsp_ai.lsp.transport import MAX_DEPTH, FrameParser, FramingError, Message, _deeper_than
from tests.harness.lsp_client import encode, frame

messages = st.lists(
    st.fixed_dictionaries(
        {"jsonrpc": st.just("2.0"), "id": st.integers(0, 10**6), "method": st.text(max_size=30)}
    ),
    min_size=1,
    max_size=5,
)


def run(parser: FrameParser, stream: bytes, cuts: list[int]) -> list[Any]:
    events = []
    last = 0
    for cut in [*sorted({c % (len(stream) + 1) for c in cuts}), len(stream)]:
        events += parser.feed(stream[last:cut])
        last = cut
    return events


@settings(max_examples=300)
@given(msgs=messages, cuts=st.lists(st.integers(0, 10**6), max_size=8))
def test_any_split_of_the_stream_gives_the_same_messages(msgs: list[Any], cuts: list[int]) -> None:
    stream = b"".join(encode(m) for m in msgs)
    events = run(FrameParser(), stream, cuts)
    assert events == [Message(m) for m in msgs]


@settings(max_examples=300)
@given(
    garbage=st.binary(max_size=200).filter(lambda b: b"ength" not in b.lower()),
    after=messages,
)
def test_garbage_then_messages_recovers_every_message(garbage: bytes, after: list[Any]) -> None:
    parser = FrameParser()
    events = parser.feed(garbage + b"\r\n\r\n" + b"".join(encode(m) for m in after))
    got = [e.data for e in events if isinstance(e, Message)]
    assert got[-len(after) :] == after


@given(msg=messages, extra=st.integers(1, 10_000))
def test_a_content_length_too_large_loses_neither_message(msg: list[Any], extra: int) -> None:
    first, second = json.dumps(msg[0]).encode(), encode({"jsonrpc": "2.0", "id": "next"})
    parser = FrameParser()
    events = parser.feed(b"Content-Length: %d\r\n\r\n" % (len(first) + extra) + first + second)
    if len(events) < 2:
        events += parser.stalled()  # the body stopped arriving: the reader's timeout fired
    # The first message is whole, only its length was wrong: both are read.
    assert events == [Message(msg[0]), Message({"jsonrpc": "2.0", "id": "next"})]


@given(msg=messages, short=st.integers(1, 20))
def test_a_content_length_too_small_is_a_parse_error_then_in_step(
    msg: list[Any], short: int
) -> None:
    body = json.dumps(msg[0]).encode()
    parser = FrameParser()
    stream = b"Content-Length: %d\r\n\r\n" % max(1, len(body) - short) + body
    events = parser.feed(stream + encode({"jsonrpc": "2.0", "id": "next"}))
    assert isinstance(events[0], FramingError) and events[0].code == -32700
    assert events[-1] == Message({"jsonrpc": "2.0", "id": "next"})


def test_an_oversized_message_is_refused_without_buffering_it() -> None:
    parser = FrameParser(max_bytes=100)
    events = parser.feed(b"Content-Length: 5000\r\n\r\n" + b"x" * 5000)
    events += parser.feed(encode({"jsonrpc": "2.0", "id": 1}))
    assert isinstance(events[0], FramingError) and "limit" in events[0].message
    assert events[-1] == Message({"jsonrpc": "2.0", "id": 1})
    assert len(parser._buf) == 0


def test_header_names_are_case_insensitive_and_other_headers_ignored() -> None:
    body = b'{"jsonrpc": "2.0", "id": 3}'
    stream = b"content-type: application/json\r\ncontent-length:%d\r\n\r\n" % len(body) + body
    assert FrameParser().feed(stream) == [Message({"jsonrpc": "2.0", "id": 3})]


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(0, 5000), kind=st.sampled_from(["[", '{"a":']))
def test_any_nesting_depth_is_a_message_or_a_parse_error_never_an_exception(
    depth: int, kind: str
) -> None:
    close = "]" if kind == "[" else "}"
    body = '{"jsonrpc": "2.0", "id": 1, "params": ' + kind * depth + "0" + close * depth + "}"
    events = FrameParser().feed(frame(body.encode()) + encode({"jsonrpc": "2.0", "id": "next"}))
    assert events[-1] == Message({"jsonrpc": "2.0", "id": "next"})
    assert isinstance(events[0], Message | FramingError)


def test_a_message_deeper_than_the_limit_is_refused_before_anything_walks_it() -> None:
    assert not _deeper_than({"a": [[{"b": 1}]]}, MAX_DEPTH)
    deep: Any = 0
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    assert _deeper_than(deep, MAX_DEPTH)
    (event,) = FrameParser().feed(frame(b"[" * 3000 + b"]" * 3000))
    assert isinstance(event, FramingError) and event.code == -32700 and "nest" in event.message


@given(text=st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010)))
def test_lone_surrogate_escapes_become_replacement_characters_of_the_same_length(
    text: str,
) -> None:
    """JSON may escape half a surrogate pair alone; no string that leaves the reader keeps one."""
    escaped = json.dumps({"jsonrpc": "2.0", "method": "m", "params": {"text": text}})
    (event,) = FrameParser().feed(frame(escaped.encode()))
    assert isinstance(event, Message)
    got = event.data["params"]["text"]
    got.encode("utf-8")  # encodable: no lone surrogate left
    decoded = json.loads(escaped)["params"]["text"]  # pairs already joined into characters
    assert len(got) == len(decoded)
    assert all(g == d or g == "\ufffd" for g, d in zip(got, decoded, strict=True))


def test_a_proper_surrogate_pair_is_the_character_it_encodes() -> None:
    body = b'{"jsonrpc": "2.0", "method": "m", "params": {"t": "\\ud83d\\ude00 \\ud800"}}'
    (event,) = FrameParser().feed(frame(body))
    assert isinstance(event, Message) and event.data["params"]["t"] == "\U0001f600 \ufffd"
