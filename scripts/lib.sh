# Shared by run.sh, test.sh and bench.sh: install what is missing, then configure and build.
# Sourced, not executed.

AGENTD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${AGENTD_BUILD_DIR:-$AGENTD_ROOT/build}"

# Debian 12 packages the build needs.
AGENTD_BUILD_PKGS=(g++ cmake ninja-build ccache pkg-config git binutils
  libboost-dev libtomlplusplus-dev libcurl4-openssl-dev rapidjson-dev prometheus-cpp-dev
  libcli11-dev libspdlog-dev libfmt-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# install_packages PKG...: installs the packages that are not installed yet (idempotent).
install_packages() {
  local missing=()
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  echo "installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

# build [TARGET...]: configures build/ (Ninja, ccache) and builds.
build() {
  local jobs
  jobs="$(nproc)"
  cmake -S "$AGENTD_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  if [ $# -gt 0 ]; then
    cmake --build "$BUILD_DIR" -j "$jobs" --target "$@"
  else
    cmake --build "$BUILD_DIR" -j "$jobs"
  fi
}
