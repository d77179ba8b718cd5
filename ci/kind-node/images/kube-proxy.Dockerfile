# kube-proxy programs iptables, so it runs on the node's Debian root filesystem, with the
# wrapper that picks the iptables backend (legacy or nft) the node itself uses.
ARG ROOTFS_IMAGE
FROM ${ROOTFS_IMAGE}
COPY kube-proxy /usr/local/bin/kube-proxy
COPY iptables-wrapper /usr/sbin/iptables-wrapper
RUN chmod 0755 /usr/sbin/iptables-wrapper \
    && for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do \
         ln -sf /usr/sbin/iptables-wrapper /usr/sbin/$tool; done
ENTRYPOINT ["/usr/local/bin/kube-proxy"]
