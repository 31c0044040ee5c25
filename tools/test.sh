#!/usr/bin/env bash
# The project's test command (README, CI): system packages, format check, then every test target.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-system-packages.sh
swift format lint --strict --recursive Package.swift Sources Tests Pipelines Plugins
swift build --build-tests
swift test --skip-build
