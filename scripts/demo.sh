#!/usr/bin/env bash
# demo.sh — builds the examples with the release preset and runs each of them.
#
# Installs the Debian packages it needs when they are missing (as root;
# otherwise it prints the apt-get line to run and stops), configures
# build/release, builds only the example programs (-j2), then runs every
# examples/<name>.cpp as build/release/examples/<name>, after printing what it
# does (the comment at the top of its source). Exits non-zero if one fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh

em_ensure_packages "${EM_BUILD_PACKAGES[@]}"

preset=release
names=()
for source in examples/*.cpp; do
  names+=("$(basename "$source" .cpp)")
done

em_log "Configuring the $preset preset (build/$preset)"
cmake --preset "$preset" >/dev/null
em_log "Building the examples: ${names[*]}"
cmake --build --preset "$preset" -j2 --target "${names[@]}"

failed=()
for name in "${names[@]}"; do
  em_log "Example $name (examples/$name.cpp)"
  # The opening comment block of the source says what the example does.
  sed -n '/^\/\//!q; s|^// \{0,1\}|    |p' "examples/$name.cpp"
  echo
  if "build/$preset/examples/$name"; then
    echo "--- $name finished: OK"
  else
    echo "--- $name FAILED (exit status $?)"
    failed+=("$name")
  fi
done

echo
if ((${#failed[@]} > 0)); then
  echo "demo: ${#failed[@]} of ${#names[@]} examples failed: ${failed[*]}"
  exit 1
fi
echo "demo: all ${#names[@]} examples ran successfully"
