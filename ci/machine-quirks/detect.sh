#!/usr/bin/env bash
# Detects this machine's quirks (see README.md next to this file).
#   detect.sh list   the detected quirk names, one a line (none: no output)
#   detect.sh env    shell code that applies the PATH-level workarounds, for `eval`
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

lacks_cap_sys_resource() {
  local bounding
  bounding=$(awk '/^CapBnd:/ {print $2}' /proc/self/status 2>/dev/null) || return 1
  [ -n "$bounding" ] || return 1
  # CAP_SYS_RESOURCE is capability 24.
  (( (16#$bounding >> 24 & 1) == 0 ))
}

list() {
  if lacks_cap_sys_resource; then echo no-cap-sys-resource; fi
}

case "${1:-}" in
  list) list ;;
  env)
    if list | grep -qx no-cap-sys-resource; then
      case ":$PATH:" in
        *":$here/no-cap-sys-resource:"*) ;;
        *) printf 'export PATH=%q:"$PATH"\n' "$here/no-cap-sys-resource" ;;
      esac
    fi
    ;;
  *) echo "usage: $0 list|env" >&2; exit 2 ;;
esac
