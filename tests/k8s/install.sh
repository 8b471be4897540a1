#!/usr/bin/env bash
# Installs what the deploy/ checks need: kubectl (Debian's kubernetes-client, for `kubectl
# kustomize`; any kubectl already on the PATH does), Prometheus and promtool, Node.js, and the
# npm packages of package-lock.json (kubernetes-models, the Prometheus Operator models, yaml).
# Skips npm ci when node_modules already matches the lock file.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
dir="$AGENTD_ROOT/tests/k8s"
install_packages prometheus python3
if ! command -v kubectl >/dev/null; then install_packages kubernetes-client; fi
if ! command -v npm >/dev/null; then install_packages nodejs npm; fi
stamp="$dir/node_modules/.agentd-lock-stamp"
if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$stamp"
fi
