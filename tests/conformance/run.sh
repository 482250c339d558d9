#!/usr/bin/env bash
# `make conformance`: run tests/conformance against llama.cpp's server and a LiteLLM
# proxy in front of it, as REALSERVER (default /work/shared/realserver) builds them.
# Starts whichever is not running, and stops only those it started.
set -euo pipefail
REALSERVER="${REALSERVER:-/work/shared/realserver}"
PY="${PY:-.venv/bin/python}"
if [ ! -x "${RS_VENV:-/tmp/realserver/venv}/bin/python" ] || [ ! -x "${LL_VENV:-/tmp/litellm-venv}/bin/litellm" ]; then
  echo "conformance: the real servers are not built. Build them once (about 10 minutes):"
  echo "  bash $REALSERVER/realserver.sh build && bash $REALSERVER/litellm.sh build"
  exit 2
fi
started=()
stop_started() {
  for name in "${started[@]}"; do bash "$REALSERVER/$name.sh" stop || true; done
}
trap stop_started EXIT
if ! bash "$REALSERVER/realserver.sh" status >/dev/null 2>&1; then
  bash "$REALSERVER/realserver.sh" start && started+=(realserver)
fi
if ! bash "$REALSERVER/litellm.sh" status >/dev/null 2>&1; then
  bash "$REALSERVER/litellm.sh" start && started+=(litellm)
fi
"$PY" -m pytest -q -p no:cacheprovider tests/conformance "$@"
