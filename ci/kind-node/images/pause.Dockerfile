# The pod sandbox: build/pause/linux/pause.c of the pinned Kubernetes module, built static.
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
