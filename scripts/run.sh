#!/usr/bin/env bash
# Installs what is missing, builds, and runs `agentd serve` on the embedded default config.
# Extra arguments are passed to `agentd serve` (e.g. --metrics-listen 127.0.0.1:0).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_packages "${AGENTD_BUILD_PKGS[@]}"
build
cd "$AGENTD_ROOT"
exec "$BUILD_DIR/bin/agentd" serve --config "$AGENTD_ROOT/config/agentd.toml" "$@"
