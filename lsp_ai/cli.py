"""The `lsp-ai` command line: the server, and the same services for a terminal.

Every subcommand reports a problem as one line on stderr and a non-zero exit; `--debug`
shows the traceback as well.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import struct
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from lsp_ai import __version__

log = logging.getLogger("lsp_ai.cli")


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line naming the problem and the fix, instead of argparse's usage dump.
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lsp-ai", description="Local-first AI coding assistant (language server).")
    p.add_argument("--version", action="version", version=f"lsp-ai {__version__}")
    p.add_argument("--debug", action="store_true", help="verbose logs and tracebacks")
    p.add_argument("-v", "--verbose", action="store_true", help="info-level logs on stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("serve", help="run the language server on stdio")
    s.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    s.add_argument("--stdio", action="store_true", help="stdio transport (the default)")

    s = sub.add_parser(
        "acp",
        help="the Agent Client Protocol on stdio, for Zed's agent panel and JetBrains AI chat",
    )
    s.add_argument(
        "--root",
        default=".",
        type=Path,
        help="workspace for sessions whose cwd is not a folder (default .)",
    )

    s = sub.add_parser(
        "mcp", help="serve the workspace index to coding agents over MCP (stdio by default)"
    )
    s.add_argument(
        "--root",
        action="append",
        type=Path,
        metavar="DIR",
        help="a workspace root (repeat for several; default: the current folder)",
    )
    s.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve streamable HTTP instead of stdio, e.g. 127.0.0.1:8765 (loopback only "
        "unless --allow-remote)",
    )
    s.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --http listen on an address other machines reach; needs a token",
    )
    s.add_argument(
        "--token",
        help="bearer token every HTTP request must carry (better: the LSP_AI_MCP_TOKEN "
        "environment variable, which other users cannot see in the process list)",
    )

    s = sub.add_parser("index", help="build or update the index of ROOT")
    s.add_argument("root", nargs="?", default=".", type=Path)

    s = sub.add_parser("search", help="search the index")
    s.add_argument("query")
    s.add_argument("--root", default=".", type=Path)
    s.add_argument("-k", type=int, default=8, help="number of hits (default 8)")
    s.add_argument("--json", action="store_true", help="print hits as a JSON array")

    s = sub.add_parser("ask", help="ask a question about the code in ROOT")
    s.add_argument("question")
    s.add_argument("--root", default=".", type=Path)
    s.add_argument("--session", help="continue the conversation with this id (printed after)")

    s = sub.add_parser("complete", help="one completion at a 0-based position")
    s.add_argument("file", type=Path)
    s.add_argument("--line", type=int, required=True)
    s.add_argument("--character", type=int, required=True)
    s.add_argument(
        "--root",
        type=Path,
        help="workspace root (default: the file's folder); its index, "
        "if built, gives the model the signatures the file uses",
    )

    s = sub.add_parser("models", help="the model each role resolves to, and local GGUF files")
    s.add_argument("--root", default=".", type=Path)
    s.add_argument("--json", action="store_true")
    pull = s.add_subparsers(dest="models_command", metavar="pull", parser_class=_Parser)
    s = pull.add_parser("pull", help="download a preset or hf:OWNER/REPO/FILE.gguf, checked")
    s.add_argument(
        "name", help="a preset name (a wrong one lists them) or hf:OWNER/REPO/FILE.gguf[@REVISION]"
    )
    s.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("setup", help="pick models for this machine, pull them, write the config")
    s.add_argument("--yes", action="store_true", help="accept the proposal without asking")
    s.add_argument("--reconfigure", action="store_true", help="choose again when already set up")

    s = sub.add_parser("doctor", help="check models, grammars, ctags and the index folder")
    s.add_argument("--root", default=".", type=Path)

    s = sub.add_parser(
        "trust",
        help="let ROOT's .lsp-ai.toml, as it is now, set servers, keys, model paths, index folder",
    )
    s.add_argument("root", nargs="?", default=".", type=Path, help="the repository (default .)")
    s.add_argument("--revoke", action="store_true", help="withdraw the trust given to ROOT")

    s = sub.add_parser(
        "decisions",
        aliases=["trace"],  # its first name, kept for scripts
        help="what became of recent completions and chats, and why",
    )
    s.add_argument("-n", type=int, default=10, help="how many past decisions (default 10)")
    s.add_argument("-f", "--follow", action="store_true", help="keep printing new ones")
    s.add_argument("--kind", choices=["completion", "chat"])
    s.add_argument("--root", type=Path, help="only servers running on this workspace")
    s.add_argument("--json", action="store_true", help="one JSON object per line")

    s = sub.add_parser(
        "eval", help="score retrieval and completion on tasks built from ROOT's own code"
    )
    s.add_argument("root", nargs="?", default=".", type=Path, help="the repository (default .)")
    s.add_argument("--limit", type=int, default=50, help="tasks per kind (default 50)")
    s.add_argument("--seed", type=int, default=0, help="seed of the task sampling (default 0)")
    s.add_argument("-k", type=int, default=10, help="search depth: Recall@k, MRR@k (default 10)")
    s.add_argument(
        "--tasks", choices=("all", "retrieval", "completion"), default="all", help="kinds to run"
    )
    s.add_argument(
        "--config", type=Path, metavar="FILE", help="a TOML file applied over the usual config"
    )
    s.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return p


# -- helpers --------------------------------------------------------------------------------


def _root(path: Path) -> Path:
    root = path.expanduser()
    if not root.is_dir():
        raise CliError(f"{path} is not a folder; pass the root of a workspace")
    return root.resolve()


def _config(root: Path | None) -> Any:
    from lsp_ai.config import load_config

    cfg, problems = load_config(root)
    for problem in problems:
        print(f"lsp-ai: config: {problem}", file=sys.stderr)
    return cfg


def _say(level: Any, message: str) -> None:
    """The assistant's notices, on stderr."""
    print(message if message.startswith("lsp-ai") else f"lsp-ai: {message}", file=sys.stderr)


def _assistant(root: Path) -> Any:
    """The same assistant the language server runs, for one workspace root."""
    from lsp_ai.assistant import Assistant
    from lsp_ai.records import Recorder, decisions_path

    return Assistant([root], recorder=Recorder(str(root), decisions_path()), notify=_say)


def _run(assistant: Any, call: Any) -> Any:
    """Await one assistant call, then release its workers and models."""
    import asyncio

    try:
        return asyncio.run(call)
    finally:
        assistant.close()


def _progress(label: str) -> Callable[[int, int], None]:
    """A one-line progress bar on a terminal; silent when stderr is not a TTY."""
    if not sys.stderr.isatty():
        return lambda done, total: None

    def show(done: int, total: int) -> None:
        width = 30
        fill = int(width * done / total) if total else width
        sys.stderr.write(f"\r{label} [{'#' * fill}{'.' * (width - fill)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


# -- commands -------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from lsp_ai.lsp.setup import create_server
    from lsp_ai.lsp.transport import serve_stdio, serve_tcp

    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            raise CliError(f"--tcp takes HOST:PORT, got {args.tcp!r}")
        serve_tcp(server, host, int(port))
    else:
        serve_stdio(server, sys.stdin.buffer, _private_stdout())
    return 0


def cmd_acp(args: argparse.Namespace) -> int:
    from lsp_ai.acp_stdio import serve_stdio

    root = _root(args.root)
    serve_stdio(root, _assistant, sys.stdin.buffer, _private_stdout())
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    import asyncio

    from lsp_ai.mcp_http import TOKEN_ENV, BindRefused, check_bind, parse_bind, serve_http
    from lsp_ai.mcp_server import serve_stdio

    roots = [_root(r) for r in args.root or [Path(".")]]
    if args.http is None:
        if args.allow_remote or args.token:
            raise CliError("--allow-remote and --token apply to --http only")
        asyncio.run(serve_stdio(roots))
        return 0
    token = args.token or os.environ.get(TOKEN_ENV) or None
    try:
        bind = parse_bind(args.http)
        check_bind(bind, args.allow_remote, token)
    except BindRefused as exc:
        raise CliError(str(exc)) from exc
    asyncio.run(serve_http(roots, bind, token))
    return 0


def _private_stdout() -> BinaryIO:
    """Give the protocol a stdout of its own and point fd 1 at stderr.

    Native libraries print to fd 1, and llama-cpp-python points fd 1 at /dev/null while it
    loads a model; either would corrupt or swallow LSP or ACP messages written to the real
    stdout.
    """
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return channel


def cmd_index(args: argparse.Namespace) -> int:
    assistant = _assistant(_root(args.root))
    started = time.perf_counter()
    done = _run(assistant, assistant.index(_progress("Indexing")))
    took = time.perf_counter() - started
    if done.read_only:
        # One writer per index: a server on this workspace keeps it current, and two
        # writers would corrupt it. Failing at once beats waiting for a server that may
        # run for days.
        who = f"process {done.writer}" if done.writer else "another process"
        raise CliError(
            f"the index of {assistant.roots[0]} is being written by {who} (an lsp-ai "
            "server on this workspace), which keeps it up to date; nothing was indexed. "
            "Stop that process to index from here."
        )
    crawl = done.crawl
    detail = ""
    if crawl is not None:
        detail = (
            f"; {crawl.changed} changed, {crawl.removed} removed, {crawl.chunks_embedded} chunks "
            f"embedded, {crawl.chunks_reused} reused (parse {crawl.parse_s:.1f}s, embed "
            f"{crawl.embed_s:.1f}s, write {crawl.write_s:.1f}s)"
        )
    print(
        f"indexed {done.files} files, {done.chunks} chunks in {took:.1f}s "
        f"({_skipped_summary(done.skipped)}{detail})"
    )
    return 0


def _skipped_summary(kinds: Any) -> str:
    """`5 skipped: 3 binary, 2 symlink loop`; `-v` logs every skipped file with its reason."""
    listed = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    return f"{sum(kinds.values())} skipped" + (f": {listed}" if listed else "")


def cmd_search(args: argparse.Namespace) -> int:
    if args.k <= 0:
        raise CliError("-k must be a positive integer")
    assistant = _assistant(_root(args.root))
    hits = _run(assistant, assistant.search(args.query, args.k))
    if args.json:
        from lsp_ai.lsp.convert import hits as hits_json  # the same shape as lsp-ai.search

        print(json.dumps(hits_json(hits), indent=2))
        return 0
    if not hits:
        print("no matches")
    for h in hits:
        name = f"  {h.span.symbol}" if h.span.symbol else ""
        print(f"{h.score:8.3f}  {h.span.lines}{name}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from lsp_ai.assistant import ChatQuery

    assistant = _assistant(_root(args.root))

    def write(delta: str) -> None:
        sys.stdout.write(delta)
        sys.stdout.flush()

    try:
        result = _run(assistant, assistant.chat(ChatQuery(args.question, args.session), write))
    except KeyboardInterrupt:  # asyncio.run cancelled the chat, which stopped the model
        print("\n(interrupted)", file=sys.stderr)
        return 130
    print()
    t = result.timings_ms
    print(
        f"({result.prompt_tokens} prompt tokens; retrieval {t.get('retrieval', 0):.0f} ms, "
        f"first token {t.get('first_token', 0) / 1000:.1f} s, "
        f"generation {t.get('generation', 0) / 1000:.1f} s; session {result.session_id})",
        file=sys.stderr,
    )
    if result.sources:
        print("\nSources:")
        for s in result.sources:
            print(f"  {s.span.lines}  (score {s.score:.2f})")
    else:
        print("\nSources: none found in the index")
    return 0


def cmd_complete(args: argparse.Namespace) -> int:
    from lsp_ai.index.discover import read_text

    path = args.file.expanduser()
    if not path.is_file():
        raise CliError(f"{args.file}: no such file")
    if args.line < 0 or args.character < 0:
        raise CliError("--line and --character are 0-based and must be >= 0")
    text = read_text(path)
    assistant = _assistant(_root(args.root) if args.root else path.resolve().parent)
    assistant.use_existing_index()
    uri = path.resolve().as_uri()
    call = assistant.complete(uri, text, args.line, args.character, invoked=True)
    result = _run(assistant, call)
    if result is None and (reason := assistant.documents.private(uri)) is not None:
        raise CliError(f"{args.file} is {reason}; lsp-ai never sends it to a model")
    text = result.text if result is not None else ""
    print(text)
    return 0 if text else 1


def _served_model(role: str, section: Any) -> dict[str, Any]:
    """Ask an OpenAI-compatible server which models it serves, and check ours is one."""
    from lsp_ai.inference.base import ModelError
    from lsp_ai.inference.openai_compat import Endpoint

    out: dict[str, Any] = {"path": section.base_url}
    try:
        listed = Endpoint(section.base_url, section.api_key, role).get_json("/models")
        ids = [str(m.get("id")) for m in listed.get("data", []) if isinstance(m, dict)]
    except (ModelError, AttributeError) as exc:
        return out | {"error": str(exc)}
    out["served"] = ids
    if ids and section.model not in ids:
        out["warning"] = (
            f"models.{role}.model: {section.base_url} lists {', '.join(ids)}, not "
            f"{section.model!r} (llama-server answers to any name; Ollama and vLLM need "
            "one of these)"
        )
    return out


def cmd_models(args: argparse.Namespace) -> int:
    if getattr(args, "models_command", None) == "pull":
        return cmd_models_pull(args)
    from lsp_ai.config import config_to_dict
    from lsp_ai.inference.base import ModelError
    from lsp_ai.inference.discovery import find_gguf_files, resolve_gguf

    cfg = _config(_root(args.root))
    roles: dict[str, Any] = {}
    for role in ("completion", "chat"):
        section = getattr(cfg.models, role)
        entry: dict[str, Any] = {"backend": section.backend, "model": section.model}
        if section.backend == "llama_cpp":
            try:
                found = resolve_gguf(section.model, f"models.{role}.model", cfg.models.paths)
                entry["path"] = str(found)
            except ModelError as exc:
                entry["error"] = str(exc)
        else:
            entry |= _served_model(role, section)
        roles[role] = entry
    emb = cfg.models.embedding
    roles["embedding"] = {"backend": emb.backend, "model": emb.model}
    if emb.backend == "openai":
        roles["embedding"] |= _served_model("embedding", emb)
    elif emb.model == "default":
        from lsp_ai.inference.discovery import embedded_embedding_dir

        try:
            roles["embedding"]["path"] = str(embedded_embedding_dir())
        except ModelError as exc:
            roles["embedding"]["error"] = str(exc)
    files = [(f, _header(f.path)) for f in find_gguf_files(cfg.models.paths)]
    if args.json:
        out = {
            "roles": roles,
            "gguf_files": [
                {"path": str(f.path), "name": f.label, "size": f.size, "source": f.source, **info}
                for f, info in files
            ],
            "config": config_to_dict(cfg),
        }
        print(json.dumps(out, indent=2))
        return 0
    for role, entry in roles.items():
        where = entry.get("error") or entry.get("warning") or entry.get("path", "")
        print(f"{role:<11} {entry['backend']:<22} {entry['model']:<10} {where}")
    print("\nLocal GGUF files (name, size, quantisation, architecture, context, FIM):")
    for f, info in files:
        if "error" in info:
            facts = info["error"]
        else:
            fim = info["fim"] or "no FIM"
            facts = f"{info['quantization']:<7} {info['architecture']:<10} "
            facts += f"ctx {info['context_length'] or '?':<7} {fim}"
        print(f"  {f.label:<34} {f.size / 1e9:6.2f} GB  {facts}  [{f.source}] {f.path}")
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    from lsp_ai.inference.pull import PullError, pull

    try:
        done = pull(args.name, progress=not args.quiet)
    except PullError as exc:
        raise CliError(str(exc)) from None
    checked = f"sha256 {done.sha256[:12]}… verified" if done.sha256 else "no sha256 to check"
    print(f"{done.path}  {done.size / 1e9:.2f} GB, {checked}")
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    from lsp_ai.setup import SetupError, run_setup

    try:
        return run_setup(yes=args.yes, reconfigure=args.reconfigure)
    except SetupError as exc:
        raise CliError(str(exc)) from None


def _header(path: Path) -> dict[str, Any]:
    from lsp_ai.inference.gguf_header import GgufError, read_gguf_info

    try:
        info = read_gguf_info(path)
    except (GgufError, OSError, struct.error) as exc:
        return {"error": f"unreadable GGUF header ({exc})"}
    return {
        "architecture": info.architecture,
        "quantization": info.quantization,
        "context_length": info.context_length,
        "fim": info.fim,
        "chat_template": info.has_chat_template,
    }


def cmd_doctor(args: argparse.Namespace) -> int:
    from lsp_ai.doctor import run_checks

    failed = 0
    for ok, name, detail in run_checks(_root(args.root)):
        failed += not ok
        print(f"[{'ok' if ok else 'FAIL'}] {name}: {detail}")
    return 1 if failed else 0


def cmd_trust(args: argparse.Namespace) -> int:
    from lsp_ai.config import PROJECT_FILE, read_toml_content, without_untrusted
    from lsp_ai.trust import revoke, trust, trust_store_path

    root = _root(args.root)
    if args.revoke:
        if not revoke(root):
            raise CliError(f"{root} was not trusted; nothing to revoke")
        print(f"{root / PROJECT_FILE} is no longer trusted")
        return 0
    path = root / PROJECT_FILE
    if not path.is_file():
        raise CliError(f"{path}: no such file; nothing to trust")
    data, problems, content = read_toml_content(path)
    if problems or content is None:
        raise CliError(problems[0] if problems else f"{path}: no such file; nothing to trust")
    digest = trust(root, content)  # the very bytes listed below, not a later version
    _, guarded = without_untrusted(data)
    sets = f"; it sets {', '.join(guarded)}" if guarded else ""
    print(f"trusted {path} (sha256 {digest[:12]}, recorded in {trust_store_path()}){sets}")
    print("editing the file withdraws the trust until you run `lsp-ai trust` again")
    return 0


def cmd_decisions(args: argparse.Namespace) -> int:
    from lsp_ai.records import decisions_path, explain, follow, read_decisions

    path = decisions_path()
    root = str(_root(args.root)) if args.root else None

    def wanted(entry: dict[str, Any]) -> bool:
        return (args.kind is None or entry["kind"] == args.kind) and (
            root is None or entry.get("root") == root
        )

    def show(entry: dict[str, Any]) -> None:
        print(json.dumps(entry) if args.json else explain(entry), flush=True)

    past = [e for e in read_decisions(path) if wanted(e)]
    if not past and not args.follow:
        raise CliError(
            f"no decisions in {path} yet; start `lsp-ai serve` from an editor and type, "
            "or pass -f to wait for them"
        )
    for entry in past[-args.n :] if args.n > 0 else []:
        show(entry)
    if args.follow:
        for entry in follow(path):
            if wanted(entry):
                show(entry)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from lsp_ai.config import parse_config, read_toml_file
    from lsp_ai.evaluation.run import KINDS, EvalOptions, NoTasks, evaluate, format_report

    if args.limit <= 0 or args.k <= 0:
        raise CliError("--limit and -k must be positive integers")
    root = _root(args.root)
    cfg = _config(root)
    if args.config is not None:  # highest layer: compare models or settings without editing
        if not args.config.is_file():
            raise CliError(f"--config {args.config}: no such file")
        data, problems = read_toml_file(args.config)
        cfg, more = parse_config(data, cfg)
        for problem in problems + [f"{args.config}: {p}" for p in more]:
            print(f"lsp-ai: config: {problem}", file=sys.stderr)
    kinds = KINDS if args.tasks == "all" else (args.tasks,)
    try:
        report = evaluate(cfg, root, EvalOptions(args.limit, args.seed, args.k, kinds), _progress)
    except NoTasks as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": cmd_serve,
    "acp": cmd_acp,
    "mcp": cmd_mcp,
    "index": cmd_index,
    "search": cmd_search,
    "ask": cmd_ask,
    "complete": cmd_complete,
    "models": cmd_models,
    "setup": cmd_setup,
    "doctor": cmd_doctor,
    "trust": cmd_trust,
    "decisions": cmd_decisions,
    "trace": cmd_decisions,
    "eval": cmd_eval,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from lsp_ai.logs import setup_logging

    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    if args.command == "mcp" and not args.debug:
        # An MCP client keeps the server's stderr as its log, never shows it as a terminal:
        # indexing progress belongs there when the client asked for no progress notifications.
        level = logging.INFO
    setup_logging(level, log_file=args.command in ("serve", "acp"))  # long-running ones
    from lsp_ai.inference.base import ModelError

    try:
        return COMMANDS[args.command](args)
    except (CliError, ModelError, OSError) as exc:
        if args.debug:
            raise
        from lsp_ai.log_redaction import mask_credentials  # a backend's error may quote the key

        print(mask_credentials(f"lsp-ai: {exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
