"""Hostile repositories and secrets: no credential reaches the index or a prompt.

Secret files by name and by path (the families secret scanners know), links that give a
secret another name, a file swapped for a symlink while the crawl reads it, and keys pasted
into ordinary source files (masked, not dropped). Real parts: the file filter, the index
service on LanceDB under tmp_path, the assistant facade; the models are the stand-ins of
tests/fakes.py (a hashing embedder, counting text models that keep every prompt).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from lsp_ai.assistant import ActionQuery, Assistant, ChatQuery
from lsp_ai.config import load_config
from lsp_ai.index.discover import (
    HARD_LINK,
    SYMLINK_TO_SECRET,
    DiscoveredFile,
    FileFilter,
    NotIndexable,
    read_source,
)
from lsp_ai.index.service import IndexService
from lsp_ai.redaction import find_secrets, redact
from tests.fakes import CountingModel, HashEmbedder, private_workspace, stand_ins

# Built from parts so that this file holds no key a scanner (or lsp-ai itself) would flag.
AWS_KEY_ID = "AKIA" + "Q3EXAMPLEKEY7XYZ"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
MARKER = "zanzibarsecretmarker"

# Twelve secret files that were indexed before (each holds MARKER + its number), and one key
# pasted into a source file: the thirteen examples of the issue.
SECRET_FILES = [
    ".envrc",
    ".env-prod",
    "prod.env",
    "config/secrets.yaml",
    ".aws/credentials",
    ".git-credentials",
    ".pgpass",
    "terraform.tfvars",
    "infra/terraform.tfstate",
    ".docker/config.json",
    ".kube/config",
    "android/release.jks",
]
SOURCE_WITH_KEY = (
    "import boto3\n"
    "\n"
    f'AWS_ACCESS_KEY_ID = "{AWS_KEY_ID}"\n'
    f'aws_secret_access_key = "{AWS_SECRET}"\n'
    "\n"
    "def client():\n"
    "    return boto3.client('s3')\n"
)


def service(root: Path, db: Path, secret_patterns: Sequence[str] = ()) -> IndexService:
    return IndexService(
        [root],
        embedder=HashEmbedder,
        db_path=str(db),
        use_ctags=False,
        secret_patterns=secret_patterns,
    )


def chunk_texts(svc: IndexService) -> str:
    """Everything the index holds as text: chunk text and the text that was embedded."""
    (idx,) = svc.iter_roots()
    return "\n".join(f"{c.span.text}\n{c.embed_text}" for c in idx.store.all_chunks())


def indexed(svc: IndexService) -> set[str]:
    (idx,) = svc.iter_roots()
    return set(idx.store.all_files())


# -- secret files by name and path ----------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexService]:
    tmp = tmp_path_factory.mktemp("secrets")
    root = tmp / "repo"
    for n, rel in enumerate(SECRET_FILES):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"value = {MARKER}{n}\n")
    (root / "app.py").write_text(SOURCE_WITH_KEY)
    (root / "readme.md").write_text("nothing secret here\n")
    svc = service(root, tmp / "db")
    svc.build()
    yield svc
    svc.close()


@pytest.mark.parametrize("rel", SECRET_FILES)
def test_a_common_secret_file_is_never_indexed(built: IndexService, rel: str) -> None:
    n = SECRET_FILES.index(rel)
    assert rel not in indexed(built)
    assert f"{MARKER}{n}" not in chunk_texts(built)
    assert built.private_reason(built.roots[0] / rel) == "a secret file"


def test_an_aws_key_in_a_source_file_is_masked_in_the_index(built: IndexService) -> None:
    assert {"app.py", "readme.md"} <= indexed(built)  # the file stays, its key does not
    text = chunk_texts(built)
    assert AWS_KEY_ID not in text and AWS_SECRET not in text
    assert "AWS_ACCESS_KEY_ID" in text  # the code around it is still there to find
    hits = built.search(AWS_KEY_ID, 5, "fts") + built.search(AWS_SECRET, 5, "fts")
    assert all(AWS_KEY_ID not in h.span.text and AWS_SECRET not in h.span.text for h in hits)
    (idx,) = built.iter_roots()
    spans = [c.span for c in idx.store.all_chunks() if c.span.path == "app.py"]
    last = max(spans, key=lambda span: span.end_line)  # line numbers still match the file
    assert last.end_line == len(SOURCE_WITH_KEY.splitlines()) - 1
    assert last.text.endswith("return boto3.client('s3')")


def test_secret_patterns_setting_adds_to_the_list_and_cannot_remove(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "deploy").mkdir(parents=True)
    (root / "deploy" / "prod.private.yml").write_text(f"db: {MARKER}\n")
    (root / "main.py").write_text("print('hi')\n")
    svc = service(root, tmp_path / "db", secret_patterns=["*.private.yml"])
    try:
        svc.build()
        assert indexed(svc) == {"main.py"}
        assert svc.private_reason(root / "deploy" / "prod.private.yml") == "a secret file"
    finally:
        svc.close()
    cfg, problems = load_config(tmp_path, init_options={"index": {"secretPatterns": ["!.env"]}})
    assert cfg.index.secret_patterns == ()
    assert any("secret_patterns" in p and "negation" in p for p in problems), problems
    cfg, problems = load_config(tmp_path, init_options={"index": {"secretPatterns": ["*.x"]}})
    assert cfg.index.secret_patterns == ("*.x",) and problems == []


# -- links that give a secret another name --------------------------------------------------


def make_link(root: Path, kind: str) -> Path:
    """`notes.txt` as another name of `.env`: a symlink or a hard link."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".env").write_text(f"API_TOKEN={MARKER}\n")
    (root / "main.py").write_text("def main():\n    return 1\n")
    link = root / "notes.txt"
    if kind == "symlink":
        link.symlink_to(".env")
    else:
        os.link(root / ".env", link)
    return link


@dataclass
class Setup:
    assistant: Assistant
    completion: CountingModel
    chat: CountingModel

    @property
    def root(self) -> Path:
        return self.assistant.roots[0]

    def prompts(self) -> str:
        """Every prompt either model was given."""
        return "\n".join([*self.completion.prompts, *self.chat.prompts])


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    root = private_workspace(tmp_path, monkeypatch)
    models = stand_ins("1", "It reads a setting.")
    assistant = Assistant([root], models=models.by_role())
    yield Setup(assistant, models.completion, models.chat)
    assistant.close()


@pytest.mark.parametrize("kind", ["symlink", "hard link"])
async def test_another_name_for_a_secret_is_not_indexed_or_prompted(
    setup: Setup, kind: str
) -> None:
    root, assistant = setup.root, setup.assistant
    link = make_link(root, kind)
    file_filter = FileFilter(root)
    assert [f.rel for f in file_filter.walk()] == ["main.py"]
    reasons = {s.rel: s.reason for s in file_filter.skipped}
    assert reasons["notes.txt"] == (SYMLINK_TO_SECRET if kind == "symlink" else HARD_LINK)

    await assistant.index()
    assert MARKER not in chunk_texts(assistant.wiring.index)
    assert "notes.txt" not in indexed(assistant.wiring.index)

    text = link.read_text()
    uri = link.as_uri()
    doc = assistant.document_opened(uri, text)
    assert doc.private is not None
    assert await assistant.complete(uri, text, 0, 5, invoked=True) is None
    await assistant.chat(ChatQuery("what does this set?", uri=uri, text=text, line=0, character=0))
    other = (root / "main.py").as_uri()
    assistant.document_opened(other, "def main():\n    return 1\n")
    await assistant.complete(other, "def main():\n    return 1\n", 1, 11, invoked=True)
    assert MARKER not in setup.prompts()


# -- a file swapped while the crawl reads it -------------------------------------------------


@pytest.mark.parametrize("target", ["outside", ".env"])
def test_a_file_swapped_for_a_symlink_during_the_crawl_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text("def harmless():\n    return 0\n")
    (root / ".env").write_text(f"TOKEN={MARKER}\n")
    outside = tmp_path / "outside.txt"
    outside.write_text(f"password {MARKER}\n")
    listing = FileFilter.walk

    def walk_then_swap(self: FileFilter) -> Iterator[DiscoveredFile]:
        yield from listing(self)
        # The listing judged app.py a harmless regular file; now it names something else.
        (root / "app.py").unlink()
        (root / "app.py").symlink_to(outside if target == "outside" else root / ".env")

    monkeypatch.setattr(FileFilter, "walk", walk_then_swap)
    svc = service(root, tmp_path / "db")
    try:
        svc.build()
        assert MARKER not in chunk_texts(svc)
        assert indexed(svc) == set()
    finally:
        svc.close()


def test_the_reader_refuses_what_the_filter_did_not_judge(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_text("a = 1\n")
    (root / "b.py").write_text("b = 2\n")
    outside = tmp_path / "outside.py"
    outside.write_text(f"x = '{MARKER}'\n")
    file_filter = FileFilter(root)
    found = {f.rel: f for f in file_filter.walk()}
    real_root = file_filter.real_root
    a = found["a.py"]
    assert read_source(a.path, 1000, real_root, a.identity) == b"a = 1\n"
    (root / "a.py").unlink()
    (root / "a.py").symlink_to(outside)  # resolves outside the workspace
    with pytest.raises(NotIndexable, match="outside workspace"):
        read_source(a.path, 1000, real_root, a.identity)
    os.replace(root / "b.py", root / "c.py")
    (root / "b.py").write_text("b = 3\n")  # same name, another file than the one judged
    with pytest.raises(NotIndexable, match="replaced"):
        read_source(found["b.py"].path, 1000, real_root, found["b.py"].identity)


# -- keys pasted into the document being edited ---------------------------------------------


async def test_an_aws_key_is_masked_in_completion_and_chat_prompts(setup: Setup) -> None:
    root, assistant = setup.root, setup.assistant
    text = SOURCE_WITH_KEY + "s3 = "
    (root / "app.py").write_text(text)
    uri = (root / "app.py").as_uri()
    assistant.document_opened(uri, text)
    last = text.count("\n")
    await assistant.complete(uri, text, last, len("s3 = "), invoked=True)
    completion = setup.completion
    assert completion.prompts, "the model was not asked"
    assert completion.prompts[0].endswith("s3 = ")  # the cursor still points at the same place
    assert "*" * len(AWS_KEY_ID) in completion.prompts[0]
    await assistant.chat(ChatQuery("what key?", uri=uri, text=text, line=last, character=5))
    assert AWS_KEY_ID not in setup.prompts() and AWS_SECRET not in setup.prompts()


async def test_a_refactor_of_masked_code_gives_the_user_back_their_key(
    setup: Setup,
) -> None:
    root, assistant = setup.root, setup.assistant
    text = f'def connect():\n    key = "{AWS_KEY_ID}"\n    return key\n'
    (root / "conn.py").write_text(text)
    chat = setup.chat
    chat.answer = f'```python\ndef connect():\n    return "{"*" * len(AWS_KEY_ID)}"\n```'
    result = await assistant.run_action(
        ActionQuery("refactor", (root / "conn.py").as_uri(), text, 0, 2)
    )
    assert AWS_KEY_ID not in chat.prompts[0]
    assert result.edit is not None
    assert f'return "{AWS_KEY_ID}"' in result.edit.new_text


# -- what the content detection finds -------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        f'key = "{AWS_KEY_ID}"',
        "ASIA" + "Q3EXAMPLEKEY7XYZ",
        f"aws_secret_access_key = {AWS_SECRET}",
        "token = 'ghp_" + "a" * 18 + "B" * 18 + "'",
        "GITHUB=github_pat_" + "11ABCDEFG0" * 3,
        "slack: xoxb-" + "1234567890-abcdefghij",
        'maps = "AIza' + "SyA1234567890abcdefghijklmnopqrstuv" + '"',
        "stripe.api_key = 'sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + "'",
        'db_password: str = "c0rrect-h0rse"',
        "export API_KEY=ab12cd34ef56",
        "DB_PASSWORD=s3cr3tPass99",
        "  github_token: ab12cd34ef56gh",
        "DATABASE_URL=postgres://app:" + "S3cretPass" + "@db:5432/app",
    ],
)
def test_keys_and_tokens_are_masked_in_place(line: str) -> None:
    text = f"before = 1\n{line}\nafter = 2\n"
    masked = redact(text)
    assert masked != text and len(masked) == len(text)
    assert masked.split("\n")[0] == "before = 1" and masked.split("\n")[2] == "after = 2"
    assert [len(x) for x in masked.split("\n")] == [len(x) for x in text.split("\n")]


def test_a_private_key_block_is_masked_line_for_line() -> None:
    body = "MIIEowIBAAKCAQEA" + "x7Yz" * 10 + "\n" + "abcd" * 16 + "\n" + "q+w/e=="
    text = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\nx = 1\n"
    masked = redact(text)
    assert "MIIE" not in masked and "q+w/e==" not in masked
    assert masked.splitlines()[0] == "-----BEGIN RSA PRIVATE KEY-----"
    assert masked.splitlines()[-1] == "x = 1"
    assert [len(x) for x in masked.split("\n")] == [len(x) for x in text.split("\n")]
    cut = text.split("-----END")[0]  # no END line yet: the base64 lines are masked all the same
    assert "MIIE" not in redact(cut) and len(redact(cut)) == len(cut)


@pytest.mark.parametrize(
    "line",
    [
        "max_tokens = 64",
        'tokenizer_path = "models/tokenizer.json"',
        'password = os.environ["DB_PASSWORD"]',
        'password = "${DB_PASSWORD}"',
        'token = f"lsp-ai-index-{uuid.uuid4().hex[:8]}"',
        "token: Optional[str] = None",
        "def check_password(password: str) -> bool:",
        "# connect with scheme://user:password@host",
        'SECRET_KEY = "changeme-in-production"',
        'if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n    return parse(line)\n',
    ],
)
def test_ordinary_code_is_left_alone(line: str) -> None:
    assert find_secrets(line) == []
