#!/usr/bin/env bash
# run_checks.sh manifests|dockerfile|alert_rules|dashboard: the offline checks of deploy/ (see
# tests/k8s/check.mjs), with the tools found by CMake in AGENTD_NODE, AGENTD_KUBECTL,
# AGENTD_PROMTOOL and the build's agentd in AGENTD_BIN, plugins in AGENTD_PLUGINS.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
check="$root/tests/k8s/check.mjs"
need() {
  if [ -z "${!1:-}" ] || [[ "${!1}" == *NOTFOUND ]] || [ ! -x "${!1}" ]; then
    echo "FAIL: $2 is not installed (scripts/test.sh installs it)" >&2
    exit 1
  fi
}
need AGENTD_NODE node
if [ ! -d "$root/tests/k8s/node_modules/kubernetes-models" ]; then
  echo "FAIL: tests/k8s/node_modules is missing: run tests/k8s/install.sh (scripts/test.sh does)" >&2
  exit 1
fi
tmp="$(mktemp -d "${AGENTD_TMP:-/tmp}/k8s_$1.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
case "$1" in
  manifests)
    need AGENTD_KUBECTL kubectl
    "$AGENTD_NODE" "$check" manifests --kubectl "$AGENTD_KUBECTL" --agentd "$AGENTD_BIN" \
      --plugin-dir "$AGENTD_PLUGINS" --tmp "$tmp"
    ;;
  dockerfile)
    "$AGENTD_NODE" "$check" dockerfile --agentd "$AGENTD_BIN" --plugin-dir "$AGENTD_PLUGINS"
    ;;
  alert_rules)
    need AGENTD_PROMTOOL promtool
    "$AGENTD_NODE" "$check" rules "$tmp/agentd-rules.yaml"
    "$AGENTD_PROMTOOL" check rules "$tmp/agentd-rules.yaml"
    cp "$root/tests/k8s/alerts_test.yaml" "$tmp/"
    "$AGENTD_PROMTOOL" test rules "$tmp/alerts_test.yaml"
    ;;
  dashboard)
    "$AGENTD_NODE" "$check" dashboard
    ;;
  *)
    echo "usage: $0 manifests|dockerfile|alert_rules|dashboard" >&2
    exit 2
    ;;
esac
