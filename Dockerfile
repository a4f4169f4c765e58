# Multi-stage build: a static binary in a minimal, non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/bridge ./cmd/bridge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bridge /usr/local/bin/bridge
COPY configs/ /etc/bridge/
USER nonroot:nonroot
EXPOSE 8015 9015
ENTRYPOINT ["/usr/local/bin/bridge"]
CMD ["serve", "--config", "/etc/bridge/bridge.docker.yaml"]
