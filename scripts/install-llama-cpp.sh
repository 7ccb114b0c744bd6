#!/usr/bin/env bash
# Installs llama-cpp-python built without OpenMP into the given Python's environment.
#
# With OpenMP, llama.cpp gives each calling thread its own OpenMP team, and once two threads
# have run a model (lsp-ai runs completion and chat on threads of their own) libgomp counts
# more threads than cores and stops spinning between graph steps: measured here, every
# completion then takes 1.6x as long. ggml's own thread pool has no such penalty.
# The wheel is kept in ~/.cache/lsp-ai/wheels, apart from pip's cache (which would otherwise
# hand back a wheel built with OpenMP), so only the first install compiles (~6 min).
set -euo pipefail
py=${1:-python3}
case "$py" in */*) py=$(cd "$(dirname "$py")" && pwd)/$(basename "$py") ;; esac
cd "$(dirname "$0")/.."
spec=$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)
version=${spec#*==}
if "$py" - "$version" <<'PY' 2>/dev/null; then exit 0; fi
import sys
import llama_cpp
ok = llama_cpp.__version__ == sys.argv[1]
ok = ok and "OPENMP = 1" not in llama_cpp.llama_print_system_info().decode()
sys.exit(0 if ok else 1)
PY
wheels=${LSP_AI_WHEELS:-$HOME/.cache/lsp-ai/wheels/$version-no-openmp}
wheel=$(ls "$wheels"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  echo "== building $spec without OpenMP (first time only: ~6 min on 2 cores)"
  CMAKE_ARGS="${CMAKE_ARGS:-} -DGGML_OPENMP=OFF" "$py" -m pip wheel -q --disable-pip-version-check \
    --no-deps --no-cache-dir --no-binary llama-cpp-python -w "$wheels" "$spec"
  wheel=$(ls "$wheels"/llama_cpp_python-"$version"-*.whl | head -n 1)
fi
"$py" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$wheel"
