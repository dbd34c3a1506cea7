#!/usr/bin/env bash
# Builds and publishes a release of the project.
set -euo pipefail

readonly VERSION="${1:?usage: release.sh VERSION}"
export DIST_DIR=dist

source ./scripts/common.sh

# Builds the wheel and the sdist.
build() {
  python -m build --outdir "$DIST_DIR"
}

function publish {
  twine upload "$DIST_DIR"/*
}

_cleanup() {
  rm -rf "$DIST_DIR"
}

trap _cleanup EXIT
build
publish
