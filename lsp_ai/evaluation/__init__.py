"""`lsp-ai eval`: retrieval and completion tasks built from the user's own repository.

`docs` finds documented functions, `imports` lines that use imported names, `tasks` builds
both in a temporary copy, `metrics` scores them (shared with the benchmarks), `run` runs them.
"""
