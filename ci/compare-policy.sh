#!/usr/bin/env bash
# Side-by-side comparison tooling, not part of the product: what pluto and kube-score say
# about the same rendered manifests, next to what chart-harness's deprecations::status says
# (through `cargo run --example api_status`).
#
#   ci/compare-policy.sh CHART_DIR...     e.g. ci/compare-policy.sh fixtures/charts
#
# Each CHART_DIR is a chart or a directory of charts (each child with a Chart.yaml).
# Every application chart is rendered with `.tools/bin/helm4 template --kube-version
# 1.37.2` (dependencies built in a scratch copy first; a chart that cannot render is
# listed with helm's error). Then, per chart, under target/compare-policy/<chart>/:
#   rendered.yaml         helm's output
#   pluto-<k8s>.json      `pluto detect - --target-versions k8s=v<k8s> -o json`
#   status.jsonl          status() of every object at each target
#   kube-score.json       `kube-score score -o json`
#   kube-score-summary.json  per check id, the number of objects at each grade
# and target/compare-policy/summary.md says where pluto and status() disagree.
# `catalog/` does the same for one object of every Kubernetes apiVersion and kind in
# pluto's own data, so the two data sources are compared beyond what charts use.
#
# pluto and kube-score are built into target/compare-policy/tools (never .tools) from the
# Go module proxy at the versions below. When the proxy refuses pluto's module, set
# PLUTO_SRC to a checkout (or bare git directory) of github.com/FairwindsOps/pluto; the
# tag PLUTO_VERSION is built from it.
set -euo pipefail

PLUTO_VERSION=v5.24.0
KUBE_SCORE_VERSION=v1.20.0
KUBE_VERSION=1.37.2
TARGETS=(1.21.0 1.25.0 1.37.0)

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/target/compare-policy
tools=$out/tools
helm=$root/.tools/bin/helm4
[ $# -gt 0 ] || { echo "usage: $0 CHART_DIR..." >&2; exit 2; }
[ -x "$helm" ] || { echo "$helm is missing; run chart-harness tools install helm4" >&2; exit 2; }
mkdir -p "$tools"
export GOFLAGS=-buildvcs=false

if [ ! -x "$tools/pluto" ]; then
  if ! GOBIN=$tools go install -ldflags "-X main.version=$PLUTO_VERSION" \
      "github.com/fairwindsops/pluto/v5/cmd/pluto@$PLUTO_VERSION"; then
    [ -n "${PLUTO_SRC:-}" ] || {
      echo "the Go module proxy refused pluto; set PLUTO_SRC to a pluto checkout or git directory" >&2
      exit 2
    }
    src=$tools/pluto-src
    rm -rf "$src" && mkdir -p "$src"
    if [ -f "$PLUTO_SRC/go.mod" ]; then
      cp -r "$PLUTO_SRC/." "$src"
    else
      git --git-dir="$PLUTO_SRC" archive "$PLUTO_VERSION" | tar -x -C "$src"
    fi
    (cd "$src" && GOBIN=$tools go install -ldflags "-X main.version=$PLUTO_VERSION" ./cmd/pluto)
  fi
fi
[ -x "$tools/kube-score" ] ||
  GOBIN=$tools go install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"

(cd "$root" && cargo build -q -p chart-harness --example api_status)
api_status=$root/target/debug/examples/api_status

# Runs pluto, status() and kube-score on $1/rendered.yaml.
check() {
  local dir=$1
  for target in "${TARGETS[@]}"; do
    # The --ignore flags stop pluto exiting non-zero for findings; they stay in its output.
    "$tools/pluto" detect - --target-versions "k8s=v$target" -o json \
      --ignore-deprecations --ignore-removals --ignore-unavailable-replacements \
      <"$dir/rendered.yaml" >"$dir/pluto-$target.json"
  done
  "$api_status" "$dir/rendered.yaml" "${TARGETS[@]}" >"$dir/status.jsonl"
  # kube-score exits 1 when a check is critical.
  "$tools/kube-score" score -o json - <"$dir/rendered.yaml" >"$dir/kube-score.json" || [ $? -le 1 ]
}

# Charts are copied with their siblings and their parent's other directories, so
# `file://../x` and `file://../../subcharts/x` dependencies resolve, and
# `helm dependency build` never writes into the charts given.
charts=()
rm -rf "$out/src" "$out/charts"
for arg in "$@"; do
  arg=$(cd "$arg" && pwd)
  if [ -f "$arg/Chart.yaml" ]; then
    charts_dir=$(dirname "$arg")
  else
    charts_dir=$arg
  fi
  parent=$(dirname "$charts_dir")
  copy=$out/src/$(basename "$parent")
  mkdir -p "$copy"
  tar -C "$parent" --exclude=.git -cf - . | tar -C "$copy" -xf -
  copied=$copy/$(basename "$charts_dir")
  if [ -f "$arg/Chart.yaml" ]; then
    charts+=("$copied/$(basename "$arg")")
  else
    for chart in "$copied"/*/; do
      if [ -f "$chart/Chart.yaml" ]; then charts+=("${chart%/}"); fi
    done
  fi
done

for chart in "${charts[@]}"; do
  name=$(basename "$chart")
  dir=$out/charts/$name
  rm -rf "$dir" && mkdir -p "$dir"
  if grep -q '^type: *library' "$chart/Chart.yaml"; then
    echo "library chart" >"$dir/skipped"
    continue
  fi
  if grep -q '^dependencies:' "$chart/Chart.yaml"; then
    HELM_CONFIG_HOME=$out/helm HELM_CACHE_HOME=$out/helm HELM_DATA_HOME=$out/helm \
      "$helm" dependency build "$chart" >"$dir/dependency-build.log" 2>&1 || true
  fi
  # A chart whose defaults do not render (a required value) gets its first CI values file.
  rendered=false
  for values in "" "$chart"/ci/*values.yaml; do
    if "$helm" template "$name" "$chart" --kube-version "$KUBE_VERSION" ${values:+-f "$values"} \
        >"$dir/rendered.yaml" 2>"$dir/render-error.txt"; then
      rendered=true
      echo "${values:-defaults}" >"$dir/values-used"
      break
    fi
  done
  if ! $rendered; then
    echo "$name: render failed: $(head -c 300 "$dir/render-error.txt")" >&2
    continue
  fi
  check "$dir"
done

# One object of every Kubernetes apiVersion and kind pluto knows.
catalog=$out/catalog
rm -rf "$catalog" && mkdir -p "$catalog"
"$tools/pluto" list-versions -o json | python3 -c '
import json, sys
for i, entry in enumerate(json.load(sys.stdin)["deprecated-versions"]):
    if entry["component"] == "k8s":
        print("---\napiVersion: %s\nkind: %s\nmetadata:\n  name: catalog-%d" % (entry["version"], entry["kind"], i))
' >"$catalog/rendered.yaml"
check "$catalog"

python3 - "$out" "${TARGETS[@]}" <<'EOF'
import collections, json, pathlib, sys

out = pathlib.Path(sys.argv[1])
targets = sys.argv[2:]
lines = ["# pluto and deprecations::status() on the same manifests", ""]
disagreements = 0
dirs = sorted((out / "charts").glob("*")) + [out / "catalog"]
for d in dirs:
    name = d.name if d.parent.name == "charts" else "catalog (every k8s entry of pluto's data)"
    if (d / "skipped").exists():
        lines.append(f"## {name}: skipped ({(d / 'skipped').read_text().strip()})\n")
        continue
    if not (d / "status.jsonl").exists():
        error = (d / "render-error.txt").read_text().strip().splitlines()
        lines.append(f"## {name}: not rendered: {error[0] if error else '?'}\n")
        continue
    ours = [json.loads(l) for l in (d / "status.jsonl").read_text().splitlines()]
    lines.append(f"## {name}: {len(ours)} objects\n")
    for target in targets:
        text = (d / f"pluto-{target}.json").read_text().strip()
        items = json.loads(text).get("items") or [] if text.startswith("{") else []
        theirs = {}
        for item in items:
            api = item["api"]
            if api.get("component") != "k8s":
                continue
            state = "removed" if item.get("removed") else "deprecated" if item.get("deprecated") else "current"
            theirs[(api["version"], api["kind"], item["name"])] = (state, api)
        found = []
        for obj in ours:
            key = (obj["apiVersion"], obj["kind"], obj["name"])
            mine = obj["targets"][target]
            pluto_state, api = theirs.pop(key, ("current", None))
            if mine["status"] == "current" and pluto_state == "current":
                continue
            agree = mine["status"] == pluto_state
            disagreements += not agree
            pluto_text = pluto_state if api is None else (
                f"{pluto_state} (deprecated {api['deprecated-in'] or '-'}, removed {api['removed-in'] or '-'}, replacement {api['replacement-api'] or '-'})")
            ours_text = mine["status"] + (f" since {mine['since']}, replacement {mine['replacement'] or '-'}" if mine["status"] != "current" else "")
            found.append(f"| {key[0]} | {key[1]} | {key[2]} | {pluto_text} | {ours_text} | {'yes' if agree else '**no**'} |")
        for key, (state, api) in theirs.items():
            disagreements += 1
            found.append(f"| {key[0]} | {key[1]} | {key[2]} | {state} | (object not seen) | **no** |")
        if found:
            lines += [f"target {target}:", "", "| apiVersion | kind | name | pluto | status() | agree |", "| --- | --- | --- | --- | --- | --- |", *found, ""]
        else:
            lines.append(f"target {target}: nothing deprecated or removed, both agree\n")
    score = json.loads((d / "kube-score.json").read_text() or "null") or []
    summary = collections.defaultdict(collections.Counter)
    for obj in score:
        for check in obj.get("checks") or []:
            grade = "skipped" if check["skipped"] else {10: "ok", 7: "almost-ok", 5: "warning", 1: "critical"}.get(check["grade"], str(check["grade"]))
            summary[check["check"]["id"]][grade] += 1
    (d / "kube-score-summary.json").write_text(json.dumps({k: dict(v) for k, v in sorted(summary.items())}, indent=2) + "\n")
lines.insert(1, f"\n{disagreements} disagreement(s).\n")
(out / "summary.md").write_text("\n".join(lines) + "\n")
print(f"{out / 'summary.md'}: {disagreements} disagreement(s)")
EOF
