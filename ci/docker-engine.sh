#!/usr/bin/env bash
# Makes a Docker engine available for the kind provider, and removes what it started.
#
#   ci/docker-engine.sh start   when `docker info` fails: installs Debian's docker.io if
#                               dockerd is missing, starts dockerd in the background with
#                               its log in a file, and waits (bounded) until it answers
#   ci/docker-engine.sh stop    stops the dockerd that `start` started, and nothing else
#
# Why: CI machines and fresh development machines have the package installable but no
# engine running. A machine where `docker info` already works is left alone, so a GitHub
# runner keeps its own engine.
set -euo pipefail

state_dir=${CHART_HARNESS_DOCKER_STATE:-${TMPDIR:-/tmp}/chart-harness-dockerd}
pid_file=$state_dir/dockerd.pid
log_file=$state_dir/dockerd.log
sysctl_file=$state_dir/host-sysctls
# kubelet in a kind node sets these on the host kernel (as it does on a GitHub runner);
# `stop` puts back what `start` found.
kubelet_sysctls=(kernel.panic kernel.panic_on_oops vm.overcommit_memory)
start_timeout_seconds=60

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

start() {
  if engine_answers; then
    echo "docker engine: already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "docker engine: installing Debian's docker.io"
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    timeout 600 "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 900 "${sudo[@]}" apt-get install -y -qq \
      --no-install-recommends docker.io >/dev/null
  fi
  # A dockerd killed before it could clean up leaves its pid file, and a new one then
  # refuses to start ("pid file found").
  local stale=/var/run/docker.pid
  if [ -f "$stale" ] && ! kill -0 "$(cat "$stale")" 2>/dev/null; then rm -f "$stale"; fi
  mkdir -p "$state_dir"
  sysctl -e "${kubelet_sysctls[@]}" 2>/dev/null | sed 's/ //g' >"$sysctl_file" || true
  # setsid: the engine outlives this script (stop ends it), and a Ctrl-C meant for the
  # test run does not reach it.
  setsid dockerd >"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
  local waited=0
  until engine_answers; do
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
      echo "docker engine: dockerd exited at start; the end of $log_file:" >&2
      tail -n 20 "$log_file" >&2
      return 1
    fi
    if [ "$waited" -ge "$start_timeout_seconds" ]; then
      echo "docker engine: dockerd did not answer within ${start_timeout_seconds}s; see $log_file" >&2
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "docker engine: started dockerd $(docker version --format '{{.Server.Version}}') (log: $log_file)"
}

stop() {
  [ -f "$pid_file" ] || return 0
  local pid
  pid=$(cat "$pid_file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    # dockerd stops its containers first; bounded, then forced.
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
  if [ -s "$sysctl_file" ]; then
    xargs -r sysctl -q -w <"$sysctl_file" 2>/dev/null || true
  fi
  rm -f "$sysctl_file"
  echo "docker engine: stopped the dockerd this script started"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
