# A container for sluice: built with the Swift toolchain, run on a small Debian with the Swift
# runtime linked into the binary (--static-swift-stdlib), as a non-root user, with a health check.
#   docker build -t sluice .
#   docker run -p 8080:8080 -e SLUICE_SECURITY_ENCRYPTION_KEY=$(openssl rand -base64 32) -v sluice-data:/data sluice
# compose.yaml runs two of them on PostgreSQL and Redis behind nginx (see README, Containers).

FROM swift:6.3-bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libsqlite3-dev libhiredis-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
RUN swift build -c release --static-swift-stdlib --product sluice && cp "$(swift build -c release --show-bin-path)/sluice" /sluice

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libsqlite3-0 libhiredis0.14 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin sluice \
    && mkdir -p /data && chown sluice /data
COPY --from=build /sluice /usr/local/bin/sluice
COPY Providers /app/Providers
COPY Migrations /app/Migrations
COPY Dashboard /app/Dashboard
WORKDIR /app
ENV SLUICE_SERVER_HOST=0.0.0.0 \
    SLUICE_SERVER_PORT=8080 \
    SLUICE_DATABASE_PATH=/data/sluice.sqlite \
    SLUICE_DATABASE_MIGRATIONS_DIR=/app/Migrations \
    SLUICE_PROVIDERS_DIR=/app/Providers \
    SLUICE_SERVER_DASHBOARD_DIR=/app/Dashboard
USER sluice
VOLUME /data
EXPOSE 8080
# Liveness: the process answers. Balancers should use /health/ready, which drains on SIGTERM.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["sluice"]
CMD ["serve"]
