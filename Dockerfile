# Multi-stage build of awragate: a static binary on a minimal, non-root
# runtime image. Build with: docker build -t awragate .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/awragate ./gateway

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/awragate /usr/bin/awragate
COPY Caddyfile.example /etc/awragate/Caddyfile

# Caddy keeps certificates and state under XDG_DATA_HOME and its autosaved
# config under XDG_CONFIG_HOME; awragate keeps the keys file and the audit
# spool under /data. Mount volumes on these paths.
ENV XDG_DATA_HOME=/data XDG_CONFIG_HOME=/config AWRA_KEYS_FILE=/data/keys.json AWRA_BIND=0.0.0.0
VOLUME ["/data", "/config", "/etc/awragate"]
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/bin/awragate"]
CMD ["run", "--config", "/etc/awragate/Caddyfile"]
