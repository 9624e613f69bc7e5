# Spillway image: the proxy, the inference engine and the load generator (SPEC §1, §5).
#   docker build -t spillway:local .
# Build stage: Debian 12 packages only, CMake + Ninja, Release, CPU engine (no CUDA toolkit in
# the image; a CUDA build needs an nvidia/cuda base and -DSPILLWAY_CUDA=ON).
FROM debian:bookworm AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev \
      libyaml-cpp-dev libfmt-dev libhiredis-dev libnghttp2-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPILLWAY_TESTS=OFF \
      -DSPILLWAY_CUDA=OFF -DSPILLWAY_SKIP=bench \
 && cmake --build /build --target spillway spillway-engine spillway-loadgen \
 && strip /build/bin/spillway /build/bin/spillway-engine /build/bin/spillway-loadgen

# Runtime stage: the shared libraries the binaries link, curl for health checks, no compiler.
FROM debian:bookworm-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libboost-program-options1.81.0 libyaml-cpp0.7 libfmt9 \
      libhiredis0.14 libnghttp2-14 libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin spillway \
 && mkdir -p /models /etc/spillway \
 && chown spillway /models
COPY --from=build /build/bin/spillway /build/bin/spillway-engine /build/bin/spillway-loadgen \
     /usr/local/bin/
COPY config/examples/local.yaml /etc/spillway/spillway.yaml
USER spillway
# 8080 proxy, 9901 proxy admin (metrics, readiness), 9000 engine
EXPOSE 8080 9901 9000
CMD ["spillway", "--config", "/etc/spillway/spillway.yaml"]
