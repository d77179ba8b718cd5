# Debian's busybox-static: the shell and coreutils of the small images below, and kind's
# local-path helper image (which runs `sh` scripts to make and remove volume directories).
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
