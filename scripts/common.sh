# common.sh — shared by every script in scripts/ (source it; do not run it).
#
# em_ensure_packages PKG...  installs the Debian packages that are missing. As
#   root it runs `apt-get update` once (only if something is missing) and then
#   `apt-get install`; as another user it prints the exact command and exits 1.
# em_log MESSAGE             prints a step heading.

# What building the library, its tests and examples needs (GCC 12, CMake 3.25, Ninja, GoogleTest).
EM_BUILD_PACKAGES=(cmake ninja-build g++ pkg-config libgtest-dev libgmock-dev)
# What scripts/test.sh needs on top: Clang 19 with its sanitizer runtimes and libFuzzer, valgrind.
# What the libFuzzer target needs (scripts/fuzz.sh).
EM_FUZZ_PACKAGES=("${EM_BUILD_PACKAGES[@]}" clang-19 libclang-rt-19-dev libfuzzer-19-dev)
# What the benchmark suite and its report need (scripts/bench.sh); the peers are benchmark-only.
EM_BENCH_PACKAGES=("${EM_BUILD_PACKAGES[@]}" python3 libbenchmark-dev libevent-dev libev-dev libuv1-dev
  gnuplot-nox valgrind strace)
# What scripts/test.sh needs: all of the above (it also checks that the benchmarks compile),
# and Doxygen for the API reference (the docs preset).
EM_TEST_PACKAGES=("${EM_FUZZ_PACKAGES[@]}" "${EM_BENCH_PACKAGES[@]:${#EM_BUILD_PACKAGES[@]}}" doxygen)

em_log() {
  printf '\n==> %s\n' "$*"
}

em_package_installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]]
}

em_ensure_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    em_log "dpkg-query not found (not Debian?): assuming these are installed: $*"
    return 0
  fi
  local missing=() package
  for package in "$@"; do
    em_package_installed "$package" || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then
    em_log "All needed packages are installed"
    return 0
  fi
  local install=(apt-get install -y --no-install-recommends "${missing[@]}")
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them as root, then run this script again:" >&2
    echo "  apt-get update && ${install[*]}" >&2
    exit 1
  fi
  em_log "Installing missing packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -q
  apt-get -o DPkg::Lock::Timeout=300 -q "${install[@]:1}" </dev/null
}
