#!/usr/bin/env bash
# Builds the images the good fixture charts run on a real (kind) cluster, from
# fixtures/images/, with Docker's legacy builder (BuildKit is not available here and nothing
# can be pulled from a registry, so every image starts FROM scratch or from a local import).
#
#   chart-harness.local/fixture-busybox:1   test hooks (sh, wget, grep); base of web and api
#   chart-harness.local/fixture-web:1       busybox httpd: web, shop's storefront
#   chart-harness.local/fixture-api:1       whoami stand-in: api, the cart subchart
#   chart-harness.local/fixture-debian:1    debootstrap minbase, the base of kvstore
#   chart-harness.local/fixture-kvstore:1   Debian's redis-server and redis-tools
#
# Idempotent: each image carries the label chart-harness.fixture-hash, a hash of its recipe
# directory, the pins it uses (fixtures/images/versions.env) and its base's hash. An image
# whose label matches is left alone (one `docker image inspect` each), so a run with nothing
# changed takes well under 2 s; a changed recipe or pin rebuilds that image and the ones on it.
# The tags never change, so the charts and chart-harness.yaml's `images:` never need to.
#
# Downloads (busybox-static's .deb, the debootstrap rootfs tarball and redis's .debs) are kept
# in ${XDG_CACHE_HOME:-~/.cache}/chart-harness/fixture-images/, so a rebuild fetches nothing.
#
# Environment: FIXTURE_IMAGES_REBUILD=1 rebuilds every image (downloads stay cached).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s.%N)
recipes=fixtures/images
registry=chart-harness.local
tag=1
label=chart-harness.fixture-hash
cache="${XDG_CACHE_HOME:-$HOME/.cache}/chart-harness/fixture-images"
mkdir -p "$cache"
# Two runs at once would race on the cache and the tags: the second waits.
exec 9>"$cache/.lock"
flock 9

# shellcheck source=../fixtures/images/versions.env
. "$recipes/versions.env"
# shellcheck source=../fixtures/images/debian/debootstrap.env
. "$recipes/debian/debootstrap.env"

export DOCKER_BUILDKIT=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log() { printf 'fixture-images: %s\n' "$*" >&2; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# hash_of DIR EXTRA...: the recipe's files (names, contents and executable bits) and the
# extra strings (pins, the base's hash).
hash_of() {
  local dir=$1
  shift
  {
    (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    (cd "$dir" && find . -type f -perm -u+x | sort)
    printf '%s\n' "$@"
  } | sha256sum | cut -c1-16
}

# current_hash IMAGE: the label of the local image, empty when there is none.
current_hash() {
  docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true
}

built=()
fresh=()
# What this run had to download (the cache did not have it).
fetched=()
# needs_build NAME HASH: true when the image is missing, stale or a rebuild is forced.
needs_build() {
  local image="$registry/fixture-$1:$tag"
  if [ "${FIXTURE_IMAGES_REBUILD:-}" != 1 ] && [ "$(current_hash "$image")" = "$2" ]; then
    fresh+=("$1")
    return 1
  fi
  old_id=$(docker image inspect -f '{{ .Id }}' "$image" 2>/dev/null || true)
  return 0
}
# done_build NAME: records the build and drops the image the tag pointed at before, if nothing
# else uses it (an image still under another tag or a child image is kept by docker).
done_build() {
  built+=("$1")
  if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{ .Id }}' "$registry/fixture-$1:$tag")" ]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true
  fi
}

# docker_build NAME HASH CONTEXT [BUILD ARGS...]
docker_build() {
  local name=$1 hash=$2 context=$3 t0
  shift 3
  t0=$(date +%s.%N)
  docker build --quiet --label "$label=$hash" --tag "$registry/fixture-$name:$tag" "$@" "$context" >/dev/null
  log "built $registry/fixture-$name:$tag ($hash) in $(elapsed "$t0") s"
}

# busybox-static's binary, from the cached .deb (downloaded once, checked by apt).
busybox_binary() {
  local debs="$cache/debs/bookworm" deb
  deb="$debs/busybox-static_${BUSYBOX_STATIC_VERSION#*:}_amd64.deb"
  if [ ! -f "$deb" ]; then
    mkdir -p "$debs"
    log "downloading busybox-static $BUSYBOX_STATIC_VERSION"
    fetched+=(busybox-static)
    (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "busybox-static=$BUSYBOX_STATIC_VERSION")
    # apt-get download escapes the epoch's colon as %3a; the cache uses the plain name.
    mv "$work"/busybox-static_*.deb "$deb"
  fi
  dpkg-deb -x "$deb" "$work/busybox-deb"
  cp "$work/busybox-deb/bin/busybox" "$1"
}

# The debootstrap rootfs tarball, from the cache or made once (needs root for debootstrap).
debian_rootfs() {
  local key=$1 tarball="$cache/rootfs/debian-$DEBIAN_SUITE-$DEBOOTSTRAP_VARIANT-$1.tar" dir
  if [ ! -f "$tarball" ]; then
    [ "$(id -u)" = 0 ] || { log "debootstrap needs root: run this script as root once"; exit 1; }
    mkdir -p "$cache/rootfs" "$cache/debootstrap-debs"
    dir="$work/rootfs"
    log "debootstrap --variant=$DEBOOTSTRAP_VARIANT $DEBIAN_SUITE (its .debs cached too)"
    touch "$work/fetched-rootfs"
    debootstrap --variant="$DEBOOTSTRAP_VARIANT" ${DEBOOTSTRAP_INCLUDE:+--include="$DEBOOTSTRAP_INCLUDE"} \
      --cache-dir="$cache/debootstrap-debs" "$DEBIAN_SUITE" "$dir" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 ||
      { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    # Nothing in the image uses apt's lists or downloaded archives, or the docs.
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
      "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/*
    find "$dir/usr/share/doc" -type f ! -name copyright -delete
    cp "$recipes/debian/nodoc.cfg" "$dir/etc/dpkg/dpkg.cfg.d/01-fixture-nodoc"
    tar --numeric-owner -C "$dir" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
  fi
  printf '%s\n' "$tarball"
}

# Debian packages and the libraries the base lacks: resolved and downloaded once by
# apt-get inside the base image (default bridge network), then kept in the cache.
# debian_debs CONTEXT KEY NAME PACKAGE=VERSION...: copies them into CONTEXT/debs.
debian_debs() {
  local context=$1 base="$registry/fixture-debian:$tag" debs="$cache/debs/$3-$2" name=$3
  shift 3
  if [ ! -f "$debs/.complete" ]; then
    rm -rf "$debs"
    mkdir -p "$debs"
    log "downloading $* and their dependencies"
    fetched+=("$name")
    docker run --rm --user 0 -v "$debs:/out" "$base" sh -ec "
      apt-get update -qq
      apt-get install -qq --download-only --no-install-recommends $* >/dev/null
      cp /var/cache/apt/archives/*.deb /out/
      chown $(id -u):$(id -g) /out/*.deb" >&2
    touch "$debs/.complete"
  fi
  mkdir -p "$context/debs"
  cp "$debs"/*.deb "$context/debs/"
}

# --- busybox -----------------------------------------------------------------------------
busybox_hash=$(hash_of "$recipes/busybox" "$BUSYBOX_STATIC_VERSION")
if needs_build busybox "$busybox_hash"; then
  cp -r "$recipes/busybox" "$work/busybox.ctx"
  busybox_binary "$work/busybox.ctx/busybox"
  docker_build busybox "$busybox_hash" "$work/busybox.ctx"
  done_build busybox
fi

# --- web and api (FROM fixture-busybox) ---------------------------------------------------
for name in web api; do
  hash=$(hash_of "$recipes/$name" "$busybox_hash")
  if needs_build "$name" "$hash"; then
    docker_build "$name" "$hash" "$recipes/$name" --build-arg "BASE=$registry/fixture-busybox:$tag"
    done_build "$name"
  fi
done

# --- debian (debootstrap, docker import) --------------------------------------------------
debian_hash=$(hash_of "$recipes/debian" "$DEBIAN_SUITE" "$DEBIAN_MIRROR")
if needs_build debian "$debian_hash"; then
  t0=$(date +%s.%N)
  tarball=$(debian_rootfs "$debian_hash")
  # debian_rootfs runs in a subshell, which cannot add to fetched.
  [ ! -f "$work/fetched-rootfs" ] || fetched+=(rootfs)
  docker import --change "LABEL $label=$debian_hash" --change 'CMD ["bash"]' \
    "$tarball" "$registry/fixture-debian:$tag" >/dev/null
  log "imported $registry/fixture-debian:$tag ($debian_hash) in $(elapsed "$t0") s"
  done_build debian
fi

# --- kvstore (FROM fixture-debian) ---------------------------------------------------------
kvstore_hash=$(hash_of "$recipes/kvstore" "$debian_hash" "$REDIS_VERSION")
if needs_build kvstore "$kvstore_hash"; then
  cp -r "$recipes/kvstore" "$work/kvstore.ctx"
  debian_debs "$work/kvstore.ctx" "$(printf '%s\n' "$debian_hash" "$REDIS_VERSION" | sha256sum | cut -c1-16)" \
    kvstore "redis-server=$REDIS_VERSION" "redis-tools=$REDIS_VERSION"
  docker_build kvstore "$kvstore_hash" "$work/kvstore.ctx" \
    --build-arg "BASE=$registry/fixture-debian:$tag" --build-arg "REDIS_VERSION=$REDIS_VERSION"
  done_build kvstore
fi

# --- registry (FROM fixture-debian) --------------------------------------------------------
registry_hash=$(hash_of "$recipes/registry" "$debian_hash" "$REGISTRY_VERSION")
if needs_build registry "$registry_hash"; then
  cp -r "$recipes/registry" "$work/registry.ctx"
  debian_debs "$work/registry.ctx" "$(printf '%s\n' "$debian_hash" "$REGISTRY_VERSION" | sha256sum | cut -c1-16)" \
    registry "docker-registry=$REGISTRY_VERSION"
  docker_build registry "$registry_hash" "$work/registry.ctx" \
    --build-arg "BASE=$registry/fixture-debian:$tag" --build-arg "REGISTRY_VERSION=$REGISTRY_VERSION"
  done_build registry
fi

# --- timings ------------------------------------------------------------------------------
# Cold: the last run that built every image and downloaded what it needed (an empty cache);
# warm: the last run that had nothing to build. Both are kept in the cache so that every run
# can print them.
took=$(elapsed "$started")
if [ "${#built[@]}" -eq 6 ] && [ "${#fetched[@]}" -eq 4 ]; then
  printf '%s s on %s\n' "$took" "$(date -u +%FT%TZ)" >"$cache/cold-build-time"
elif [ "${#built[@]}" -eq 0 ]; then
  printf '%s s on %s\n' "$took" "$(date -u +%FT%TZ)" >"$cache/warm-build-time"
fi
log "built: ${built[*]:-none}; up to date: ${fresh[*]:-none}; downloaded: ${fetched[*]:-nothing}; this run: $took s"
log "cold build (every image, empty cache): $(cat "$cache/cold-build-time" 2>/dev/null || echo 'not measured yet')"
log "warm build (nothing to do): $(cat "$cache/warm-build-time" 2>/dev/null || echo 'not measured yet')"
for name in busybox web api debian kvstore registry; do
  docker image inspect -f "$registry/fixture-$name:$tag {{ .Size }}" "$registry/fixture-$name:$tag" |
    awk '{ printf "fixture-images:   %-40s %6.1f MB\n", $1, $2 / 1e6 }' >&2
done
