#!/usr/bin/env bash
# The test command (README): installs the pinned tools (a no-op when they are present),
# starts a Docker engine if none answers and builds the kind node image and the fixture
# images (no-ops when present), checks formatting and lints, runs every test with helm 4
# (the integration suite on a local control plane it starts itself, the kind tests on
# kind clusters), then runs the suites once more through cargo-nextest with helm 3, the
# integration trials sharing one multi-node kind cluster that nextest's setup script
# starts (.config/nextest.toml) and this script removes.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

NEXTEST_VERSION=0.9.151

step() { printf '\n== %s\n' "$*"; }

step "pinned tools"
cargo build --locked -p chart-harness --bin chart-harness
target/debug/chart-harness tools install --all

step "docker engine, kind node image, fixture images"
# Stopped at exit, with the shared cluster (below) removed first.
trap 'ci/docker-engine.sh stop' EXIT
ci/docker-engine.sh start
# This machine's workarounds, applied only where their cause is detected
# (ci/machine-quirks/README.md); a GitHub runner gets none.
eval "$(ci/machine-quirks/detect.sh env)"
CHART_HARNESS=target/debug/chart-harness ci/kind-node/build.sh >"${TMPDIR:-/tmp}/kind-node-image"
CHART_HARNESS_KIND_NODE_IMAGE=$(tail -n 1 "${TMPDIR:-/tmp}/kind-node-image")
export CHART_HARNESS_KIND_NODE_IMAGE
ci/fixture-images.sh

step "format and lints"
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
# The workflows chart repositories copy, and action.yml through ci/actionlint/uses-action.yml:
# actionlint checks a local action's inputs (`uses: ./`) only inside a project, a directory
# with both .git and .github/workflows, and this repository has no .github. So that one file
# is linted in a stand-in project whose workflows directory and action.yml are symlinks to
# the real ones (ci/actionlint/README.md). actionlint also runs shellcheck on `run:` scripts
# when shellcheck is on PATH.
.tools/bin/actionlint ci/workflows/*.yml
actionlint_project=target/actionlint-project
rm -rf "$actionlint_project"
mkdir -p "$actionlint_project/.git" "$actionlint_project/.github"
ln -s "$PWD/ci/actionlint" "$actionlint_project/.github/workflows"
ln -s "$PWD/action.yml" "$actionlint_project/action.yml"
.tools/bin/actionlint "$actionlint_project"/.github/workflows/*.yml
rm -rf "$actionlint_project"

step "tests and suites (helm 4, local control plane; kind where a test asks for it)"
# The suites' own default would now find Docker and the node image and pick kind; this
# step is the local control plane's, and the kind tests name their provider themselves.
CHART_HARNESS_CLUSTER=local cargo test --locked --workspace

step "tests on kind and on test servers in containers (real containers)"
# Ignored by a plain `cargo test` (they need Docker, the node image and the fixture
# images); here they must run.
cargo test --locked -p chart-harness --test kind_cluster --test kind_backup_restore --test baseline_servers --test release_flow -- --ignored

step "suites through cargo-nextest (helm 3, one multi-node kind cluster)"
if [ "$(cargo nextest --version 2>/dev/null | awk 'NR==1 {print $2}')" != "$NEXTEST_VERSION" ]; then
  cargo install --locked cargo-nextest --version "$NEXTEST_VERSION"
fi
trap 'target/debug/chart-harness cluster down; ci/docker-engine.sh stop' EXIT
# Every registered suite is a `--test` target of the same name (harness/src/registry.rs).
suites=$(target/debug/chart-harness suites)
suite_targets=()
for suite in $suites; do suite_targets+=(--test "$suite"); done
CHART_HARNESS_HELM=3 CHART_HARNESS_CLUSTER=kind CHART_HARNESS_KIND_CONFIG=multi-node \
  cargo nextest run --locked "${suite_targets[@]}"
