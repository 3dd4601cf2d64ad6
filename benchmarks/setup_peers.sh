#!/usr/bin/env bash
# Create benchmarks/.venv-peers: a virtual environment that sees the main environment's packages
# (torch, numpy, scipy, pdloss) through a .pth file and adds the peers of benchmarks/requirements-peers.txt.
#   bash benchmarks/setup_peers.sh            # then: benchmarks/.venv-peers/bin/python -m pdloss bench ...
# MAIN_VENV (default .venv) is the environment whose packages are reused.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
main_venv="${MAIN_VENV:-$root/.venv}"
peers="$root/benchmarks/.venv-peers"
main_python="$main_venv/bin/python"
[ -x "$main_python" ] || { echo "no Python at $main_python: create the main environment first (README)" >&2; exit 1; }
main_site="$("$main_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
"$main_python" -m venv "$peers"
peers_site="$("$peers/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# addsitedir (not a bare path) so that the main site's own .pth files (the editable pdloss) apply too.
echo "import site; site.addsitedir('$main_site')" > "$peers_site/_pdloss_main_env.pth"
# -c constraints.txt pins torch to the build already installed: pip never fetches another one.
"$peers/bin/python" -m pip install --quiet -c "$root/constraints.txt" -r "$root/benchmarks/requirements-peers.txt"
"$peers/bin/python" - <<'PY'
import importlib.metadata as m
import torch
print(f"benchmarks/.venv-peers ready: pot {m.version('pot')}, torch {torch.__version__}")
PY
