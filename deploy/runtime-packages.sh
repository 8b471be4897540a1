#!/usr/bin/env bash
# runtime-packages.sh ELF...: prints, one per line and sorted, the Debian packages that provide
# the shared libraries the given executables and plugins load (as resolved by ldd on this
# machine). The Dockerfile's build stage runs it on agentd and the plugins it built, and the
# runtime stage installs exactly that list. Fails when a library is missing or owned by no package.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: $0 ELF..." >&2
  exit 2
fi
declare -A libs=()
for elf in "$@"; do
  # Lines look like "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)",
  # "/lib64/ld-linux-x86-64.so.2 (0x...)" or "libbar.so.2 => not found"; linux-vdso has no file.
  out="$(ldd "$elf")"
  if grep -q "not found" <<<"$out"; then
    echo "$elf: $(grep "not found" <<<"$out" | head -n1)" >&2
    exit 1
  fi
  while read -r name arrow path _; do
    if [ "$arrow" != "=>" ]; then path="$name"; fi
    if [[ "$path" == /* ]]; then libs["$path"]=1; fi
  done <<<"$out"
done
# dpkg records paths as packaged; with merged /usr a library ldd reports as /lib/... may be
# recorded as /usr/lib/... or the other way round, so ask for every spelling in one query.
declare -A spellings=()
for lib in "${!libs[@]}"; do
  for s in "$lib" "$(realpath "$lib")" "/usr${lib#/usr}" "${lib#/usr}"; do spellings["$s"]=1; done
done
declare -A owner=()
while IFS= read -r line; do
  # "libfoo1:amd64: /path" or "libfoo1:amd64, libfoo-dbg:amd64: /path"
  path="${line##*: }"
  pkg="${line%%[:,]*}"
  owner["$path"]="$pkg"
done < <(dpkg-query -S "${!spellings[@]}" 2>/dev/null || true)
declare -A pkgs=()
for lib in "${!libs[@]}"; do
  found=""
  for s in "$lib" "$(realpath "$lib")" "/usr${lib#/usr}" "${lib#/usr}"; do
    if [ -n "${owner[$s]:-}" ]; then found="${owner[$s]}"; break; fi
  done
  if [ -z "$found" ]; then
    echo "no Debian package owns $lib" >&2
    exit 1
  fi
  pkgs["$found"]=1
done
printf '%s\n' "${!pkgs[@]}" | sort
