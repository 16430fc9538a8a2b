# syntax=docker/dockerfile:1
# Multi-stage build: a static binary on a distroless, non-root base. The root
# filesystem can be read-only; the data directory is a volume (/data).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/scim-bridge .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/scim-bridge /scim-bridge
USER nonroot:nonroot
ENV SCIM_LISTEN=:8080 SCIM_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/scim-bridge"]
CMD ["serve"]
