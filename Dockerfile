# headwire container image.
#
#   docker build -t headwire .
#   docker run -p 8080:8080 -v headwire-data:/data \
#       -v ./feeds.toml:/config/feeds.toml:ro headwire
#
# Runtime base: `scratch`, holding only what the binary needs.
# - No musl target is available to this project, so headwire is a glibc binary.
#   debian:bookworm-slim (~75 MB) alone is over the 30 MB budget, and
#   distroless/cc (~23 MB: libssl, tzdata, ...) plus the binary is too.
# - The builder stage therefore copies into /rootfs exactly the shared objects
#   `ldd` lists for the binary (ld-linux, libc, libm, libgcc_s, ...; the set is
#   computed, not hard-coded), the CA bundle, and passwd/group entries for an
#   unprivileged user (uid/gid 10001). glibc >= 2.34 has the files/dns NSS
#   modules inside libc.so.6, so name resolution works without extra modules.
# - No shell, no package manager, no curl: the HEALTHCHECK runs the binary.
# - reqwest uses rustls with compiled-in webpki roots and chrono-tz embeds the
#   zone database, so neither the CA bundle nor tzdata is strictly needed; the
#   CA bundle is carried anyway (200 KB) for tools and future native-roots use.
#   /usr/share/zoneinfo is not: the binary embeds it. With no /etc/localtime,
#   local time is UTC.
#
# Builder: the official Rust image, pinned to the project's toolchain.

############################ builder ############################
FROM docker.io/library/rust:1.95.0-bookworm AS builder

WORKDIR /src

# 1) Dependencies only: the manifests plus empty targets. This layer is reused
#    for as long as Cargo.toml and Cargo.lock do not change, so a source change
#    rebuilds only headwire itself. (Should Cargo.toml ever gain a build.rs or
#    explicitly declared [[bench]]/[[example]]/[[test]] targets, copy or stub
#    those files here and below as well.)
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src \
 && echo 'fn main() {}' > src/main.rs \
 && : > src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src target/release/headwire target/release/headwire.d \
           target/release/.fingerprint/headwire-* \
           target/release/deps/headwire-* target/release/deps/libheadwire-*

# 2) The real sources. `touch` makes sure cargo sees them as newer than the
#    placeholder build whatever mtimes the build context carried.
COPY src ./src
RUN find src -type f -exec touch {} + \
 && cargo build --release --locked

# 3) Assemble the runtime file system under /rootfs.
RUN set -eu; \
    R=/rootfs; \
    mkdir -p "$R/usr/local/bin" "$R/etc/ssl/certs" "$R/config" "$R/data" "$R/tmp"; \
    cp target/release/headwire "$R/usr/local/bin/headwire"; \
    for lib in $(ldd target/release/headwire | grep -o '/[^ ]*'); do \
        cp --parents -L "$lib" "$R/"; \
    done; \
    cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"; \
    echo 'root:x:0:0:root:/root:/sbin/nologin' > "$R/etc/passwd"; \
    echo 'headwire:x:10001:10001:headwire:/data:/sbin/nologin' >> "$R/etc/passwd"; \
    echo 'root:x:0:' > "$R/etc/group"; \
    echo 'headwire:x:10001:' >> "$R/etc/group"; \
    echo 'hosts: files dns' > "$R/etc/nsswitch.conf"; \
    chmod 0755 "$R/config"; \
    chmod 1777 "$R/tmp"; \
    chown 10001:10001 "$R/data"; chmod 0750 "$R/data"

############################ runtime ############################
FROM scratch

# Copying between stages keeps ownership: /data stays owned by 10001, so a
# fresh named volume mounted there is writable by the unprivileged user.
COPY --from=builder /rootfs/ /
# Default configuration: the repository's feeds.toml. Replace it by bind-mounting
# your own at /config/feeds.toml. Its [server] listen and [store] path are
# overridden by HEADWIRE_LISTEN and HEADWIRE_DATA below.
COPY feeds.toml /config/feeds.toml

# NO_COLOR: plain log lines for `docker logs` and log drivers (RUST_LOG still
# sets the level; info by default).
ENV HEADWIRE_LISTEN=0.0.0.0:8080 \
    HEADWIRE_DATA=/data \
    HEADWIRE_CONFIG=/config/feeds.toml \
    NO_COLOR=1

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# headwire is PID 1: it handles SIGTERM itself (stops the HTTP server and the
# pollers, flushes sled, exits 0), so no init shim is needed.
STOPSIGNAL SIGTERM

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/headwire", "health", "--url", "http://127.0.0.1:8080/healthz"]

ENTRYPOINT ["/usr/local/bin/headwire"]
CMD ["serve", "--config", "/config/feeds.toml"]
