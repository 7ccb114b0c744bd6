"""What the tests and the benchmarks share to drive lsp-ai from outside.

- `tests.harness.lsp_client`: the one LSP client (the server on stdio pipes);
- `tests.harness.env`: the one isolated environment for a server, CLI or benchmark child;
- `tests.harness.llama_server`: a real OpenAI-compatible model server on 127.0.0.1.

Nothing here imports pytest: the benchmarks use it without the test dependencies.
"""
