# syntax=docker/dockerfile:1
# scim-bridge: a static binary on a distroless, non-root base.
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t scim-bridge .
#   docker run -e SCIM_TOKEN=change-me -p 8080:8080 -p 9090:9090 -v scim-data:/data --read-only scim-bridge
#
# 8080 is SCIM (SCIM_LISTEN); 9090 is /metrics (SCIM_ADMIN_LISTEN): publish
# it only where your Prometheus can reach it, since the metrics name every
# tenant.
#
# The root filesystem can be read-only: the service writes only under
# SCIM_DATA_DIR (/data: the Badger projection, and the embedded log when
# KAFKA_BROKERS is empty). k8s/ runs it that way.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# .git stays out of the build context, so the version comes in as an
# argument; `scim-bridge version` prints it.
ARG VERSION=unknown
# Static (no cgo: the distroless "static" image has no libc), reproducible
# paths, no symbol tables.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.buildVersion=${VERSION}" -o /out/scim-bridge . \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/scim-bridge /scim-bridge
# /data exists in the image owned by the non-root user, so a volume Docker
# creates there starts out writable (Kubernetes uses fsGroup instead).
COPY --from=build --chown=65532:65532 /out/data /data
# Numeric, so Kubernetes' runAsNonRoot can verify it without runAsUser.
USER 65532:65532
ENV SCIM_LISTEN=:8080 SCIM_DATA_DIR=/data
VOLUME /data
EXPOSE 8080 9090
ENTRYPOINT ["/scim-bridge"]
CMD ["serve"]
