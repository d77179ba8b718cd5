#!/usr/bin/env bash
# Builds a kind node image offline, from the pins in ci/tools.toml and the recipe in this
# directory, and prints its tag on the last line of stdout:
#
#   chart-harness.local/kind-node:v<kubernetes>-<hash>
#
# Why: no image can be pulled on this project's machines, so `kind build node-image`
# (which pulls a base image and every image kubeadm needs) cannot run. Every part comes
# from the Go module proxy (built by `chart-harness tools install`, cached machine-wide)
# or from Debian's packages:
#   - a Debian trixie root filesystem by debootstrap, with kind's own base files from the
#     pinned kind module on top (base.Dockerfile);
#   - the images kubeadm asks for (`kubeadm config images list`), the local-path
#     provisioner and a busybox, built small from those binaries (images/);
#   - a CNI DaemonSet of our own in place of kindnet (manifests/default-cni.yaml).
# This machine's quirks (ci/machine-quirks) are applied when detected, and are part of
# the hash.
#
# The hash covers every pin and recipe that goes into the image, so a second run finds
# the tag present and returns in well under 2 s, and a changed pin rebuilds. The built
# image is also saved to the machine cache, so a new Docker engine loads it instead of
# rebuilding.
#
# Environment: CHART_HARNESS (default target/debug/chart-harness, built if missing),
# XDG_CACHE_HOME. Needs root for debootstrap (as CI has).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
pins=$repo/ci/tools.toml
cache=${XDG_CACHE_HOME:-$HOME/.cache}/chart-harness/kind-node
node_tools=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler
  kube-proxy crictl coredns local-path-provisioner node-etcd)

log() { printf 'kind-node: %s\n' "$*" >&2; }
fail() { printf 'kind-node: error: %s\n' "$*" >&2; exit 1; }
# Every docker call is bounded: a wedged engine must not hang CI.
dock() { timeout "${DOCK_TIMEOUT:-600}" docker "$@"; }

# The lines of ci/tools.toml that go into the image: the Kubernetes version, kind's pin
# (its base files), and every node tool's table.
pinned_lines() {
  awk -v tools=" kind ${node_tools[*]} " '
    /^\[/ {
      table = $0; gsub(/^\[|\]$/, "", table)
      name = table; sub(/^tools\./, "", name); sub(/\..*$/, "", name)
      keep = (table == "kubernetes") || (table ~ /^tools\./ && index(tools, " " name " "))
    }
    keep && !/^#/ && NF' "$pins"
}

pin_of() { # tool -> its pinned version
  awk -v table="[tools.$1]" '$0 == table {found = 1; next} /^\[/ {found = 0}
    found && $1 == "version" {gsub(/"/, "", $3); print $3; exit}' "$pins"
}

kube_version=v$(awk '$0 == "[kubernetes]" {found = 1; next} /^\[/ {found = 0}
  found && $1 == "version" {gsub(/"/, "", $3); print $3; exit}' "$pins")
quirks=$("$repo/ci/machine-quirks/detect.sh" list)
hash=$(
  {
    pinned_lines
    echo "quirks: $quirks"
    (cd "$repo" && find ci/kind-node ci/machine-quirks -type f | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -c1-12
)
tag=chart-harness.local/kind-node:$kube_version-$hash
saved=$cache/kind-node-$kube_version-$hash.tar

if dock image inspect "$tag" >/dev/null 2>&1; then
  log "$tag is present"
  echo "$tag"
  exit 0
fi
if [ -f "$saved" ]; then
  log "loading $tag from $saved"
  dock load -i "$saved" >/dev/null
  echo "$tag"
  exit 0
fi

started=$(date +%s)
log "building $tag (quirks: ${quirks:-none})"
mkdir -p "$cache"
work=$(mktemp -d "${TMPDIR:-/tmp}/chart-harness-kind-node.XXXXXX")
build_container=chart-harness-kind-node-build-$$
cleanup() {
  docker rm -f "$build_container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- binaries, from the Go module proxy (a no-op when installed) ---------------------
harness=${CHART_HARNESS:-$repo/target/debug/chart-harness}
[ -x "$harness" ] || (cd "$repo" && cargo build --locked -q -p chart-harness --bin chart-harness)
"$harness" tools install --repo "$repo" "${node_tools[@]}" >&2
bin=$repo/.tools/bin

# kubeadm names the images it will run; the coredns and etcd pins must be what it asks.
mapfile -t kubeadm_images < <("$bin/kubeadm" config images list --kubernetes-version "$kube_version")
image_named() { printf '%s\n' "${kubeadm_images[@]}" | grep -m1 "/$1:"; }
coredns_image=$(image_named coredns)
etcd_image=$(image_named etcd)
pause_image=$(image_named pause)
[ "${coredns_image##*:}" = "$(pin_of coredns)" ] ||
  fail "kubeadm $kube_version runs $coredns_image, but ci/tools.toml pins coredns $(pin_of coredns): pin that version"
case "${etcd_image##*:}" in
  "$(pin_of node-etcd | sed 's/^v//')"-*) ;;
  *) fail "kubeadm $kube_version runs $etcd_image, but ci/tools.toml pins node-etcd $(pin_of node-etcd): pin that version" ;;
esac

# --- the root filesystem, from Debian (cached by its package list) -------------------
packages=$(grep -v '^#' "$here/rootfs-packages" | xargs | tr ' ' ',')
rootfs_tar=$cache/rootfs-trixie-$(printf '%s' "$packages" | sha256sum | cut -c1-12).tar
if [ ! -f "$rootfs_tar" ]; then
  command -v debootstrap >/dev/null ||
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq debootstrap >/dev/null
  log "debootstrap trixie (a few minutes)"
  timeout 1200 debootstrap --variant=minbase --include="$packages" trixie "$work/rootfs" \
    http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; fail "debootstrap failed; its log is above"; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -cf "$rootfs_tar.partial" . && mv "$rootfs_tar.partial" "$rootfs_tar"
  rm -rf "$work/rootfs"
fi
rootfs_image=chart-harness.local/kind-node-rootfs:$hash
dock import "$rootfs_tar" "$rootfs_image" >/dev/null

# Debian's busybox-static (cached .deb).
busybox_deb=$(ls "$cache"/busybox-static_*.deb 2>/dev/null | tail -n 1 || true)
if [ -z "$busybox_deb" ]; then
  (cd "$cache" && timeout 300 apt-get download -qq busybox-static >&2)
  busybox_deb=$(ls "$cache"/busybox-static_*.deb | tail -n 1)
fi

# --- images ---------------------------------------------------------------------------
build() { # tag dockerfile context [build args...]
  local tag=$1 dockerfile=$2 context=$3
  shift 3
  local args=()
  for arg in "$@"; do args+=(--build-arg "$arg"); done
  # The legacy builder: BuildKit is not part of Debian's docker.io here.
  # Its deprecation notice is noise; the log is shown when a build fails.
  DOCKER_BUILDKIT=0 dock build -q "${args[@]}" -t "$tag" -f "$dockerfile" "$context" \
    >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "docker build of $tag failed"; }
}
context() { rm -rf "$work/ctx/$1" && mkdir -p "$work/ctx/$1" && echo "$work/ctx/$1"; }

module_dir() { # module@version -> its directory in the module cache (downloaded if needed)
  (cd "$work" && GOFLAGS=-mod=mod timeout 300 go mod download -json "$1") |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}
kind_module=$(module_dir "sigs.k8s.io/kind@$(pin_of kind)")
ctx=$(context base)
cp -r "$kind_module/images/base/files" "$ctx/files"
chmod -R u+w "$ctx/files"
base_image=chart-harness.local/kind-node-base:$hash
build "$base_image" "$here/base.Dockerfile" "$ctx" "ROOTFS_IMAGE=$rootfs_image"

ctx=$(context busybox)
dpkg-deb -x "$busybox_deb" "$ctx/deb"
cp "$ctx/deb/bin/busybox" "$ctx/busybox"
busybox_version=$(dpkg-deb -f "$busybox_deb" Version | sed 's/[^A-Za-z0-9_.-]/_/g')
busybox_image=chart-harness.local/busybox:$busybox_version
build "$busybox_image" "$here/images/busybox.Dockerfile" "$ctx"

kube_module=$(module_dir "k8s.io/kubernetes@$kube_version")
ctx=$(context pause)
gcc -Os -static -o "$ctx/pause" "$kube_module/build/pause/linux/pause.c"
build "$pause_image" "$here/images/pause.Dockerfile" "$ctx"

binary_image() { # tag tool install-path
  local ctx
  ctx=$(context "$2")
  cp "$bin/$2" "$ctx/$2"
  build "$1" "$here/images/binary.Dockerfile" "$ctx" \
    "BUSYBOX_IMAGE=$busybox_image" "BINARY=$2" "INSTALL_PATH=$3"
}
for component in kube-apiserver kube-controller-manager kube-scheduler; do
  binary_image "$(image_named "$component")" "$component" "/usr/local/bin/$component"
done
binary_image "$etcd_image" node-etcd /usr/local/bin/etcd
binary_image "$coredns_image" coredns /coredns
provisioner_image=chart-harness.local/local-path-provisioner:$(pin_of local-path-provisioner)
binary_image "$provisioner_image" local-path-provisioner /usr/local/bin/local-path-provisioner

ctx=$(context kube-proxy)
cp "$bin/kube-proxy" "$here/images/iptables-wrapper" "$ctx/"
build "$(image_named kube-proxy)" "$here/images/kube-proxy.Dockerfile" "$ctx" "ROOTFS_IMAGE=$rootfs_image"

# kind's storage manifest, from the pinned kind module, pointed at our provisioner and
# helper images (kind's own are pulled from docker.io).
perl -0777 -ne '
  my %images = /const (\w+Image) = "([^"]+)"/g;
  my ($manifest) = /const defaultStorageManifest = `(.*)`/s or die "no storage manifest\n";
  $manifest =~ s/` \+ (\w+) \+ `/$images{$1} \/\/ die "unknown constant $1\n"/ge;
  print $manifest;' "$kind_module/pkg/build/nodeimage/const_storage.go" |
  sed -e "s#docker.io/kindest/local-path-provisioner:[^ ]*#$provisioner_image#" \
    -e "s#docker.io/kindest/local-path-helper:[^ ]*#$busybox_image#" >"$work/default-storage.yaml"
grep -q "$provisioner_image" "$work/default-storage.yaml" ||
  fail "kind $(pin_of kind)'s storage manifest no longer names its provisioner image the way this script expects"
sed "s#BUSYBOX_IMAGE#$busybox_image#" "$here/manifests/default-cni.yaml" >"$work/default-cni.yaml"

# --- the node -------------------------------------------------------------------------
dock run -d --name "$build_container" --security-opt seccomp=unconfined --entrypoint sleep "$base_image" infinity >/dev/null
for tool in kubeadm kubelet kubectl; do dock cp "$bin/$tool" "$build_container:/usr/bin/$tool"; done
dock cp "$bin/crictl" "$build_container:/usr/local/bin/crictl"
dock cp "$work/default-cni.yaml" "$build_container:/kind/default-cni.yaml"
dock cp "$work/default-storage.yaml" "$build_container:/kind/default-storage.yaml"
entrypoint='["/usr/local/bin/entrypoint", "/sbin/init"]'
if printf '%s\n' "$quirks" | grep -qx no-cap-sys-resource; then
  # ci/machine-quirks/README.md: the node runs without --privileged here.
  dock cp "$repo/ci/machine-quirks/no-cap-sys-resource/entrypoint-cgroups-rw" \
    "$build_container:/usr/local/bin/entrypoint-cgroups-rw"
  dock exec "$build_container" sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' \
    /etc/containerd/config.toml
  entrypoint='["/usr/local/bin/entrypoint-cgroups-rw", "/sbin/init"]'
fi
dock exec "$build_container" bash -ec "
  mkdir -p /kind/manifests
  mv /kind/default-cni.yaml /kind/default-storage.yaml /kind/manifests/
  chmod 0755 /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl /usr/local/bin/crictl /usr/local/bin/entrypoint*
  echo -n $kube_version > /kind/version"

# containerd's image store inside the node holds every image a node runs, so nothing is
# pulled when the cluster starts: import them through a containerd started for this.
dock exec "$build_container" bash -ec '
  containerd >/tmp/containerd.log 2>&1 &
  for _ in $(seq 1 30); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.5; done
  cat /tmp/containerd.log; exit 1'
sandbox_image=$(dock exec "$build_container" sed -n 's/^ *sandbox_image *= *"\(.*\)"/\1/p' /etc/containerd/config.toml)
preloaded=("${kubeadm_images[@]}" "$provisioner_image" "$busybox_image")
if [ "$sandbox_image" != "$pause_image" ]; then
  dock tag "$pause_image" "$sandbox_image"
  preloaded+=("$sandbox_image")
fi
for image in "${preloaded[@]}"; do
  dock save "$image" | dock exec -i "$build_container" ctr --namespace=k8s.io images import \
    --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - >/dev/null
done
dock exec "$build_container" bash -c 'kill $(pidof containerd); sleep 1; rm -rf /tmp/* /run/containerd'
dock commit --change "ENTRYPOINT $entrypoint" "$build_container" "$tag" >/dev/null
dock rm -f "$build_container" >/dev/null

# The preloaded images under registry.k8s.io names were only a vehicle into the node;
# they are our builds, so they do not stay in the host's engine under those names.
for image in "${kubeadm_images[@]}" "$sandbox_image"; do dock rmi "$image" >/dev/null 2>&1 || true; done
dock rmi "$rootfs_image" "$base_image" >/dev/null 2>&1 || true

rm -f "$cache"/kind-node-*.tar
dock save -o "$saved.partial" "$tag" && mv "$saved.partial" "$saved"
# Earlier builds (1.5 GB each) go; one a running cluster still uses stays (rmi refuses).
dock images chart-harness.local/kind-node --format '{{.Repository}}:{{.Tag}}' | grep -vx "$tag" |
  xargs -r docker rmi >/dev/null 2>&1 || true
log "built $tag in $(($(date +%s) - started)) s (saved to $saved)"
echo "$tag"
