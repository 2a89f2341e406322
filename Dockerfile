# One image, every role: `switchyard dev`, `switchyard subgraph users`, `switchyard gateway ...`.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin switchyard \
    && cp target/release/switchyard /usr/local/bin/switchyard

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /app switchyard \
    && mkdir -p /app/data && chown switchyard:switchyard /app/data
COPY --from=build /usr/local/bin/switchyard /usr/local/bin/switchyard
COPY schema /app/schema
WORKDIR /app
USER switchyard
ENTRYPOINT ["switchyard"]
CMD ["dev"]
