#!/usr/bin/env bash
# The upgrade suite's offline prediction (immutable_fields::predict) over the version
# bumps in a chart repository's history, for the figures in a closing note; not part of
# the product, and CI does not run it.
#
#   ci/predict-history.sh <chart repository> [bumps, default 200]
#
# Walks the repository's first-parent history from HEAD, newest first, and takes every
# commit that changes a chart's `version:` in charts/<chart>/Chart.yaml. Each side is
# unpacked with `git archive` and rendered with default values by the pinned helm 4.
# Remote dependencies cannot be fetched here: one this repository has under charts/ is
# taken from the same commit, any other becomes an empty stub chart (so its objects are
# not compared; stubbed.txt lists them). A side that still does not render is counted
# and skipped. Writes one line per bump to target/predict-history/bumps.tsv
# (chart, old, new, major?, result, breaks) and the breaks to breaks.jsonl.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$1" && pwd)
want=${2:-200}
out=$here/target/predict-history
rm -rf "$out" && mkdir -p "$out/work"
cargo build --quiet --manifest-path "$here/Cargo.toml" -p chart-harness --example predict_breaks
predict=$here/target/debug/examples/predict_breaks
helm=$here/.tools/bin/helm4
[ -x "$helm" ] || helm=$(ls -d "${XDG_CACHE_HOME:-$HOME/.cache}"/chart-harness/tools/helm4-*/helm4 2>/dev/null | head -n 1)
[ -x "$helm" ] || { echo "no pinned helm 4: run chart-harness tools install helm4" >&2; exit 2; }
export HELM_CACHE_HOME=$out/work/helm-cache HELM_CONFIG_HOME=$out/work/helm-config HELM_DATA_HOME=$out/work/helm-data

version_at() { git -C "$repo" show "$1:$2" 2>/dev/null | sed -n 's/^version:[[:space:]]*["'\'']\{0,1\}\([^"'\'' ]*\).*/\1/p' | head -n 1; }

# Prints `name version` for each dependency of <Chart.yaml> that is not file:// and not
# already under its charts/.
remote_dependencies() {
  python3 - "$1" <<'PY'
import os, re, sys, yaml
path = sys.argv[1]
chart = yaml.safe_load(open(path)) or {}
for dep in chart.get("dependencies") or []:
    repo = str(dep.get("repository") or "")
    name = dep.get("name")
    if not name or repo.startswith("file://") or os.path.isdir(os.path.join(os.path.dirname(path), "charts", name)):
        continue
    if not repo:
        continue
    # The first version the constraint names, padded: "8.14.*" -> 8.14.0.
    found = re.search(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(dep.get("version") or ""))
    parts = [g or "0" for g in found.groups()] if found else ["0", "0", "0"]
    print(name, ".".join(parts))
PY
}

render() { # <commit> <chart dir> <target file>
  local dir=$out/work/src name version
  rm -rf "$dir" && mkdir -p "$dir"
  git -C "$repo" archive "$1" "$2" | tar -x -C "$dir"
  while read -r name version; do
    mkdir -p "$dir/$2/charts/$name"
    if git -C "$repo" cat-file -e "$1:charts/$name/Chart.yaml" 2>/dev/null; then
      git -C "$repo" archive "$1" "charts/$name" | tar -x -C "$dir/$2/charts/$name" --strip-components=2
    else
      printf 'apiVersion: v2\nname: %s\nversion: %s\n' "$name" "$version" >"$dir/$2/charts/$name/Chart.yaml"
      echo "${2#charts/} $name" >>"$out/stubbed.txt"
    fi
  done < <(remote_dependencies "$dir/$2/Chart.yaml")
  timeout 60 "$helm" template r "$dir/$2" --namespace ns >"$3" 2>"$3.err"
}

count=0
printf 'chart\told\tnew\tmajor\tresult\tbreaks\n' >"$out/bumps.tsv"
: >"$out/breaks.jsonl"
while read -r commit; do
  parent=$(git -C "$repo" rev-parse --verify -q "$commit^") || continue
  while read -r file; do
    [[ $file =~ ^charts/[^/]+/Chart\.yaml$ ]] || continue
    chart_dir=${file%/Chart.yaml}
    old=$(version_at "$parent" "$file"); new=$(version_at "$commit" "$file")
    [ -n "$old" ] && [ -n "$new" ] && [ "$old" != "$new" ] || continue
    major=no; [ "${old%%.*}" != "${new%%.*}" ] && major=yes
    if ! render "$parent" "$chart_dir" "$out/work/old.yaml" || ! render "$commit" "$chart_dir" "$out/work/new.yaml"; then
      printf '%s\t%s\t%s\t%s\tnot rendered\t\n' "${chart_dir#charts/}" "$old" "$new" "$major" >>"$out/bumps.tsv"
    else
      breaks=$("$predict" "$out/work/old.yaml" "$out/work/new.yaml")
      n=$(printf '%s' "$breaks" | grep -c . || true)
      printf '%s' "$breaks" | sed "s|^{|{\"chart\":\"${chart_dir#charts/}\",\"from\":\"$old\",\"to\":\"$new\",\"commit\":\"${commit:0:9}\",|" >>"$out/breaks.jsonl"
      [ -n "$breaks" ] && echo >>"$out/breaks.jsonl"
      printf '%s\t%s\t%s\t%s\tpredicted\t%s\n' "${chart_dir#charts/}" "$old" "$new" "$major" "$n" >>"$out/bumps.tsv"
    fi
    count=$((count + 1))
    [ "$count" -ge "$want" ] && break 2
  done < <(git -C "$repo" diff-tree --no-commit-id --name-only -r "$commit")
done < <(git -C "$repo" log --first-parent --format=%H -- 'charts/*/Chart.yaml')

awk -F'\t' 'NR>1 { n++; if ($5=="not rendered") nr++; else { r++; if ($6>0) { b++; if ($4=="yes") bm++ } } }
  END { printf "bumps %d, rendered %d, not rendered %d, predicted to break %d (majors %d)\n", n, r, nr, b, bm }' "$out/bumps.tsv"
