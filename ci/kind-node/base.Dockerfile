# kind's images/base "base" stage, on a Debian trixie root filesystem made by debootstrap
# (build.sh imports it as ROOTFS_IMAGE) instead of debian:trixie-slim, which cannot be
# pulled here. The context holds kind's images/base/files from the pinned kind module.
ARG ROOTFS_IMAGE
FROM ${ROOTFS_IMAGE}
COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/etc/ /etc/
# The same clean-up and units as kind's Dockerfile; then kind's paths for the binaries
# Debian installs elsewhere, and the base OCI spec with kind's product-files hook.
RUN chmod 0755 /usr/local/bin/* /kind /kind/bin /kind/bin/* \
    && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \
    && rm -f /lib/systemd/system/multi-user.target.wants/* \
    && rm -f /etc/systemd/system/*.wants/* \
    && rm -f /lib/systemd/system/local-fs.target.wants/* \
    && rm -f /lib/systemd/system/sockets.target.wants/*udev* \
    && rm -f /lib/systemd/system/sockets.target.wants/*initctl* \
    && rm -f /lib/systemd/system/basic.target.wants/* \
    && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \
    && ln -sf /usr/bin/containerd /usr/local/bin/containerd \
    && ln -sf /usr/bin/containerd-shim-runc-v2 /usr/local/bin/containerd-shim-runc-v2 \
    && ln -sf /usr/bin/ctr /usr/local/bin/ctr \
    && mkdir -p /opt/cni/bin /etc/kubernetes/manifests \
    && for plugin in host-local loopback ptp portmap bridge; do ln -sf /usr/lib/cni/$plugin /opt/cni/bin/$plugin; done \
    && ctr oci spec \
       | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
       | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \
    && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \
    && systemctl mask systemd-binfmt.service
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
