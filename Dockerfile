# autotunnel: keeps SSH tunnels up; a drop-in replacement for the jnovack/autossh image.
#
#   docker build -t autotunnel .
#   podman build --format docker -t autotunnel .          # docker format keeps the HEALTHCHECK
#   podman build --format docker --build-arg BASE_IMAGE=localhost/autotunnel-base:node24-bookworm -t autotunnel .
#
# Multi-arch (linux/amd64 and linux/arm64; the README has the podman manifest commands):
#   docker buildx build --platform linux/amd64,linux/arm64 -t NAME --push .
#
# BASE_IMAGE is any Debian bookworm image with Node in /usr/local (the official node image's
# layout). Without a registry, container/build-base.sh builds one from Debian's mirror and the
# npm registry. Node 24: the LTS line with the longest support left (to April 2028).
ARG BASE_IMAGE=docker.io/library/node:24-bookworm-slim
# BUILD_IMAGE compiles the JavaScript, on the build machine's own architecture: the output has
# no native code, so every architecture's image gets the same files, compiled once and never
# under emulation. The official image is multi-arch, so BASE_IMAGE serves for both; with
# single-architecture local bases, name the build machine's here
# (--build-arg BUILD_IMAGE=localhost/autotunnel-base:node24-bookworm).
ARG BUILD_IMAGE=${BASE_IMAGE}
# The image's own user (numeric in USER, so that Kubernetes' runAsNonRoot can check it).
ARG APP_UID=10001

# ---------------------------------------------------------------------------------------------
# build: compile the TypeScript and keep only the production dependencies (on the build
# machine's architecture; see BUILD_IMAGE).
FROM --platform=$BUILDPLATFORM ${BUILD_IMAGE} AS build
WORKDIR /src
# Dependencies first: this layer is reused until package*.json change. Behind a TLS-inspecting
# proxy, hand npm the proxy's CA without baking it into a layer:
#   --secret id=extra_ca_certs,src=/etc/ssl/certs/ca-certificates.crt
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=extra_ca_certs,required=false \
    if [ -s /run/secrets/extra_ca_certs ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca_certs; fi; \
    npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund --loglevel=error \
 && mkdir -p node_modules

# ---------------------------------------------------------------------------------------------
# node: the official Node binaries carry their debug info, 18 MB of the 127 that nothing in a
# tunnel container reads. Stripped here so the tools to do it never reach the runtime.
FROM ${BASE_IMAGE} AS node
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends binutils \
 && strip --strip-all -o /node "$(command -v node)" \
 && /node -e 0

# ---------------------------------------------------------------------------------------------
# rootfs: the runtime file system, assembled on the base, then pruned by slim-rootfs.sh. It is
# copied into an empty image below, so what is deleted here is really gone (deleting in a
# layer on top of the base would only hide it).
FROM ${BASE_IMAGE} AS rootfs

# The image's user has its own primary group, but what it must write belongs to group 0 with
# the owner's rights (g=u): an arbitrary uid (docker --user 12345, OpenShift, Kubernetes'
# runAsUser without runAsGroup) runs in group 0 and can write there too, and nothing is
# world-writable. (1777 would also admit uids outside group 0, but would let any uid replace
# the host keys another one trusted.)
ARG APP_UID

COPY --from=node /node /usr/local/bin/node
COPY container/dpkg-excludes.cfg /etc/dpkg/dpkg.cfg.d/autotunnel-excludes
# openssh-client: the ssh that carries the tunnels. tini: PID 1 that forwards signals and reaps
# zombies. libnss-wrapper: a passwd entry for arbitrary uids (see container/entrypoint.sh).
# setpriv comes with util-linux (essential): ssh gets a parent-death signal through it.
# Directories: $HOME (ssh looks into ~/.ssh), the state dir (host keys trusted on first use; a
# volume) and /etc/autotunnel for a mounted tunnels.yaml.
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      openssh-client tini libnss-wrapper; \
    ln -s "$(dpkg -L libnss-wrapper | grep '/libnss_wrapper\.so$')" /usr/local/lib/libnss_wrapper.so; \
    groupadd --gid "$APP_UID" autotunnel; \
    useradd --uid "$APP_UID" --gid "$APP_UID" --home-dir /home/autotunnel \
      --no-create-home --shell /usr/sbin/nologin --comment autotunnel autotunnel; \
    install -d -o "$APP_UID" -g 0 -m 0770 /home/autotunnel /var/lib/autotunnel; \
    install -d -o 0 -g 0 -m 0755 /etc/autotunnel
COPY container/slim-rootfs.sh /tmp/slim-rootfs.sh
RUN sh /tmp/slim-rootfs.sh && rm /tmp/slim-rootfs.sh && ssh -V && setpriv --version && node -e 0

# ---------------------------------------------------------------------------------------------
# The image: the pruned file system in one layer, the application in another (so a code
# change ships a few hundred kB, not the whole system again).
FROM scratch
COPY --from=rootfs / /
COPY --from=build /src/package.json /opt/autotunnel/package.json
COPY --from=build /src/bin /opt/autotunnel/bin
COPY --from=build /src/dist /opt/autotunnel/dist
COPY --from=build /src/node_modules /opt/autotunnel/node_modules
COPY container/entrypoint.sh /usr/local/bin/autotunnel-entrypoint
RUN chmod 0755 /usr/local/bin/autotunnel-entrypoint \
 && ln -s /opt/autotunnel/bin/autotunnel.js /usr/local/bin/autotunnel \
 && autotunnel --version

# The state dir keeps keys trusted on first use (across restarts when a volume is mounted).
# The HTTP status listener, which the HEALTHCHECK asks, stays on loopback: nothing outside the
# container reaches it unless AUTOTUNNEL_HTTP is changed.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/home/autotunnel \
    AUTOTUNNEL_STATE_DIR=/var/lib/autotunnel \
    AUTOTUNNEL_HTTP=127.0.0.1:9810

LABEL org.opencontainers.image.title="autotunnel" \
      org.opencontainers.image.description="Keeps SSH tunnels up (OpenSSH's ssh, supervised); a drop-in replacement for jnovack/autossh" \
      org.opencontainers.image.licenses="MIT"

# Named volumes start as a copy of this directory, ownership and mode included.
VOLUME ["/var/lib/autotunnel"]
# The working directory must be enterable by any uid the container may run as.
WORKDIR /
ARG APP_UID
USER ${APP_UID}

# Healthy = every tunnel is up (its forward really works), not just "the process runs".
# start-period covers the first connection (and a slow server), retries one missed check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=2 \
  CMD ["/usr/local/bin/autotunnel", "health"]

# tini as PID 1: SIGTERM from `docker stop` reaches autotunnel (which stops ssh and exits 0
# within 2 s), and zombies are reaped. Arguments go to autotunnel: none = the SSH_* variables,
# `run -c /etc/autotunnel/tunnels.yaml` = many tunnels from a file.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/autotunnel-entrypoint"]
CMD []
