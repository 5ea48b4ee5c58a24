# syntax=docker/dockerfile:1
# davnas: a static binary on distroless, running as uid 2000 (the uid and
# fsGroup of http-nas's chart, so existing volumes stay readable and
# writable). The build command is .ci/build-static.sh, which
# `make image-check` also runs without Docker.

FROM golang:1.27-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN ./.ci/build-static.sh /out/davnas "${VERSION}" "${COMMIT}" && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/davnas /usr/local/bin/davnas
COPY --from=build --chown=2000:2000 /out/data /data
USER 2000:2000
ENV DAVNAS_ROOT=/data
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["/usr/local/bin/davnas", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/davnas"]
CMD ["serve"]
