#!/usr/bin/env bash
# demo.sh — builds the device host with the release preset and runs it.
#
#   ./scripts/demo.sh [device_host flags]   the device host (examples/device_host/): about
#                                           5 seconds of load, a live progress line, then a
#                                           summary table; see --help for its flags
#   ./scripts/demo.sh --examples            the small examples (examples/*.cpp), one by one
#
# Installs the Debian packages it needs when they are missing (as root;
# otherwise it prints the apt-get line to run and stops), configures
# build/release and builds only the programs it runs (-j2). Exits with the
# program's status (the device host checks its own invariants), or non-zero if
# one of the small examples fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh

em_ensure_packages "${EM_BUILD_PACKAGES[@]}"

preset=release

if [[ "${1:-}" != "--examples" ]]; then
  em_log "Configuring the $preset preset (build/$preset)"
  cmake --preset "$preset" >/dev/null
  em_log "Building the device host (examples/device_host/)"
  cmake --build --preset "$preset" -j2 --target device_host
  em_log "Running build/$preset/examples/device_host $*"
  exec "build/$preset/examples/device_host" "$@"
fi

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
