"""What the tests and the benchmarks share to drive lsp-ai from outside.

- `tests.harness.lsp_client`: the one LSP client (the server on stdio pipes);
- `tests.harness.env`: the one isolated environment for a server, CLI or benchmark child;

Nothing here imports pytest: the benchmarks use it without the test dependencies.
"""
