#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite; exits non-zero on any failure.
# Extra arguments are passed to ctest (e.g. -R plugin).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# promtool (package prometheus) checks the metrics exposition in the tests; python3 runs the
# fake model server (tests/support/fake_model_server.py) of the llm tests.
install_packages "${AGENTD_BUILD_PKGS[@]}" prometheus python3 clang-format
# Style: every C and C++ source follows .clang-format (Google, 100 columns).
(cd "$AGENTD_ROOT" && git ls-files -z '*.c' '*.cc' '*.h' '*.hpp' |
  xargs -0 clang-format --dry-run --Werror)
bash "$AGENTD_ROOT/tests/mcp/install.sh"  # MCP test servers and conformance suite (npm ci)
# deploy/ checks: kubectl (kustomize), Prometheus and promtool, Node.js and tests/k8s (npm ci)
bash "$AGENTD_ROOT/tests/k8s/install.sh"
start=$(date +%s)
build
echo "build took $(( $(date +%s) - start )) s"
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@"
