"""`$/chat`: deltas as `$/progress` on the partial-result token, stages on the work-done one."""

from __future__ import annotations

from typing import Any

from lsprotocol import types as lsp

from lsp_ai.inference.base import ModelError
from lsp_ai.lsp import convert
from lsp_ai.lsp.protocol import CHAT, ChatParams
from lsp_ai.lsp.server import LspAiServer


async def chat(ls: LspAiServer, params: Any) -> dict[str, Any]:
    p = convert.chat_params(params)
    doc = ls.document(p.uri) if p.uri is not None else None
    with ChatProgress(ls, p) as progress:
        try:
            result = await ls.assistant.chat(
                convert.chat_query(p, doc), progress.delta, progress.stage
            )
        except ModelError as exc:
            raise convert.rpc_error(exc) from exc
    return convert.chat_result(result)


class ChatProgress:
    """The two progress streams of one chat; callbacks come from the chat worker thread."""

    def __init__(self, ls: LspAiServer, p: ChatParams) -> None:
        self._ls, self._partial, self._work = ls, p.partial_token, p.work_done_token

    def __enter__(self) -> ChatProgress:
        if self._work is not None:
            begin = lsp.WorkDoneProgressBegin(title="lsp-ai chat", cancellable=True)
            self._ls.work_done_progress.begin(self._work, begin)
        return self

    def __exit__(self, *exc: object) -> None:
        if (work := self._work) is not None:
            progress = self._ls.work_done_progress
            self._ls.post(lambda: progress.end(work, lsp.WorkDoneProgressEnd()))

    def delta(self, text: str) -> None:
        if self._partial is not None:
            value = lsp.ProgressParams(token=self._partial, value={"delta": text})
            self._ls.post(lambda: self._ls.protocol.notify(lsp.PROGRESS, value))

    def stage(self, message: str) -> None:
        if (work := self._work) is not None:
            report = lsp.WorkDoneProgressReport(message=message)
            self._ls.post(lambda: self._ls.work_done_progress.report(work, report))


def register(server: LspAiServer) -> None:
    server.feature(CHAT)(chat)
