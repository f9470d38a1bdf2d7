# capsim in a minimal image, for `capsim sweep FILE --emit-k8s-job N` on a cluster.
#
#   docker build -t capsim:0.1.0 .
#   docker run --rm capsim:0.1.0 --version
#
# The binary is linked statically against glibc (+crt-static on x86_64-unknown-linux-gnu), so it
# runs on distroless/static, which holds no C library. The entrypoint is capsim; it runs as the
# unprivileged user 65532 in /work, where the Job mounts the sweep's files.

FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
COPY . .
# Static glibc; no debug symbols in the image (the release profile keeps line tables otherwise).
ENV RUSTFLAGS="-C target-feature=+crt-static" \
    CARGO_PROFILE_RELEASE_STRIP=symbols
RUN cargo build --release --locked --target x86_64-unknown-linux-gnu --bin capsim \
    && cp target/x86_64-unknown-linux-gnu/release/capsim /capsim \
    && /capsim --version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /capsim /usr/local/bin/capsim
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/capsim"]
CMD ["--help"]
