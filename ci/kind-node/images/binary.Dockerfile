# One statically built Go binary (a control-plane component, etcd, coredns or the
# local-path provisioner) on busybox, which gives it a shell and /tmp as upstream images
# give theirs. The entrypoint is the binary itself (coredns's Deployment passes only
# args); it goes through sh because an exec-form ENTRYPOINT cannot name a build argument.
ARG BUSYBOX_IMAGE
FROM ${BUSYBOX_IMAGE}
ARG BINARY
ARG INSTALL_PATH
COPY ${BINARY} ${INSTALL_PATH}
ENV IMAGE_BINARY=${INSTALL_PATH}
ENTRYPOINT ["/bin/sh", "-c", "exec \"$IMAGE_BINARY\" \"$@\"", "--"]
