"""The crawl's `Indexing` work-done progress: create, begin (cancellable), report, end."""

from __future__ import annotations

import uuid

from lsprotocol import types as lsp

from lsp_ai.live_index import CrawlProgress
from lsp_ai.lsp.server import LspAiServer


async def crawl_progress(ls: LspAiServer) -> CrawlProgress:
    """Progress for one crawl; the progress bar's cancel button stops it."""
    caps = ls.client_capabilities.window
    if not (caps and caps.work_done_progress):
        return CrawlProgress()
    token = f"lsp-ai-index-{uuid.uuid4().hex[:8]}"
    progress, shown = ls.work_done_progress, CrawlProgress()
    try:
        await progress.create_async(token)
        progress.begin(
            token, lsp.WorkDoneProgressBegin(title="Indexing", percentage=0, cancellable=True)
        )
    except Exception:
        return shown
    if (created := progress.tokens.get(token)) is not None:
        created.add_done_callback(lambda f: shown.stop.set() if f.cancelled() else None)
    last = [-1]

    def report(done: int, total: int) -> None:
        pct = int(done * 100 / total) if total else 100
        if pct != last[0]:
            last[0] = pct
            msg = lsp.WorkDoneProgressReport(message=f"{done}/{total} files", percentage=pct)
            ls.post(lambda: progress.report(token, msg))

    shown.report = report
    shown.end = lambda message: progress.end(token, lsp.WorkDoneProgressEnd(message=message))
    return shown
