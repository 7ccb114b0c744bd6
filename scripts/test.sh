#!/usr/bin/env bash
# Installs what the test suite needs and runs all of it: the README's test line, and CI's.
# Safe to re-run: the virtual environment and pip's wheel cache are reused.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests exercise (ctags for the symbol table, Chromium for the VS Code chat
# view, strace for the no-network test). Installed only as root with apt available; elsewhere the tests that need them say how
# to get them and skip.
need_apt=()
command -v ctags >/dev/null 2>&1 || need_apt+=(universal-ctags)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v strace >/dev/null 2>&1 || need_apt+=(strace)
if [ ${#need_apt[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "== installing ${need_apt[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

py=${PYTHON:-python3.11}
command -v "$py" >/dev/null 2>&1 || py=python3
[ -x .venv/bin/python ] || "$py" -m venv .venv
echo "== installing lsp-ai and test tools (llama-cpp-python compiles on first install: ~6 min)"
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
bash scripts/install-llama-cpp.sh .venv/bin/python
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

echo "== lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy

echo "== VS Code extension: types, build, tests (webview in headless Chromium), .vsix"
if command -v npm >/dev/null 2>&1; then
  (cd clients/vscode && npm ci --no-audit --no-fund --loglevel=error && npm run ci)
else
  echo "npm not found: the VS Code extension was not built or tested (install Node.js 20+)"
fi

echo "== tests"
exec .venv/bin/python -m pytest "$@"
