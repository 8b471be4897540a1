#!/usr/bin/env bash
# Installs what the MCP tests need: the npm packages of package-lock.json (real MCP servers, the
# conformance suite, the TypeScript SDK, Node 22 for the suite's CLI) and iproute2 (`ip`, to
# bring up loopback in the conformance suite's network namespace). Skips npm ci when
# node_modules already matches the lock file.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
dir="$AGENTD_ROOT/tests/mcp"
install_packages iproute2 util-linux
if ! command -v npm >/dev/null; then install_packages nodejs npm; fi
stamp="$dir/node_modules/.agentd-lock-stamp"
if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$stamp"
fi
