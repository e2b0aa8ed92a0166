#!/usr/bin/env bash
# diagram.sh — regenerates docs/architecture.svg from docs/architecture.dot.
#
# Installs Graphviz when it is missing (as root; otherwise it prints the
# apt-get line to run and stops). Commit both files: the SVG is what
# docs/DESIGN.md shows, the .dot file is its source.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh

em_ensure_packages graphviz
dot -Tsvg docs/architecture.dot -o docs/architecture.svg
em_log "Wrote docs/architecture.svg"
