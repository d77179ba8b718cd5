#!/usr/bin/env bash
# The test command (README): installs the pinned tools (a no-op when they are present),
# checks formatting and lints, runs every test with helm 4 (the integration suite on a
# local control plane it starts itself), then runs the suites once more through
# cargo-nextest with helm 3, the integration trials sharing one cluster that nextest's
# setup script starts (.config/nextest.toml) and this script removes.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

NEXTEST_VERSION=0.9.151

step() { printf '\n== %s\n' "$*"; }

step "pinned tools"
cargo build --locked -p chart-harness --bin chart-harness
target/debug/chart-harness tools install --all

step "format and lints"
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings

step "tests and suites (helm 4, local control plane)"
cargo test --locked --workspace

step "suites through cargo-nextest (helm 3)"
if [ "$(cargo nextest --version 2>/dev/null | awk 'NR==1 {print $2}')" != "$NEXTEST_VERSION" ]; then
  cargo install --locked cargo-nextest --version "$NEXTEST_VERSION"
fi
trap 'target/debug/chart-harness cluster down' EXIT
# Every registered suite is a `--test` target of the same name (harness/src/registry.rs).
suites=$(target/debug/chart-harness suites)
suite_targets=()
for suite in $suites; do suite_targets+=(--test "$suite"); done
CHART_HARNESS_HELM=3 cargo nextest run --locked "${suite_targets[@]}"
