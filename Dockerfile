# syntax=docker/dockerfile:1
# Multi-stage build: a static binary on distroless, running as uid 2000 (the
# uid and fsGroup of http-nas's chart, so existing volumes stay readable).

FROM golang:1.27-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/davnas/davnas/internal/version.Version=${VERSION} -X github.com/davnas/davnas/internal/version.Commit=${COMMIT}" \
      -o /out/davnas ./cmd/davnas \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/davnas /usr/local/bin/davnas
COPY --from=build --chown=2000:2000 /out/data /data
USER 2000:2000
ENV DAVNAS_ROOT=/data
VOLUME /data
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/davnas"]
CMD ["serve"]
