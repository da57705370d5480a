# A static sk-tracer binary on a distroless base: no shell, no package manager, non-root.
# Build: docker build -t sk-tracer:latest .
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN pgo/build.sh --locked --target x86_64-unknown-linux-musl \
    && cp target/x86_64-unknown-linux-musl/dist/sk-tracer /sk-tracer

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /sk-tracer /usr/local/bin/sk-tracer
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/sk-tracer"]
CMD ["run", "--config=/etc/sk-tracer/config.yaml", "--bind=0.0.0.0", "--log-format=json"]
