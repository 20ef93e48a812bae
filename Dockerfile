# syntax=docker/dockerfile:1
#
# sipp-gateway container image (SPEC §8, docs/docker.md).
#
#   docker build -t sipp-gateway .                              # CPU image (default, last stage)
#   docker build --target runtime-cuda -t sipp-gateway:cuda .   # NVIDIA GPU hosts
#
# Stages: build (all dependencies, compiles shared + server + admin-web),
# prod-deps (production dependencies only), then the runtime images, which carry
# only compiled output and production node_modules and run as a non-root user.
# Nothing secret is baked in: secrets arrive at run time through the
# environment (compose env_file), the TOML is bind-mounted read-only.

ARG NODE_IMAGE=node:20-bookworm-slim
# The CUDA runtime libraries (libcudart, libcublas) node-llama-cpp's prebuilt
# CUDA binary links against; its default binary is built for CUDA 13 and needs
# an NVIDIA driver that supports it (see docs/docker.md).
ARG CUDA_IMAGE=nvidia/cuda:13.0.0-runtime-ubuntu24.04

# ---------------------------------------------------------------- build ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
COPY package.json package-lock.json tsconfig.base.json ./
COPY shared/package.json shared/
COPY server/package.json server/
COPY admin-web/package.json admin-web/
COPY e2e/package.json e2e/
# No install scripts are needed: node-llama-cpp's llama.cpp binaries come as
# prebuilt optional packages (@node-llama-cpp/linux-*), never compiled here.
RUN npm ci --ignore-scripts --no-audit --no-fund -w shared -w server -w admin-web
COPY shared/ shared/
COPY server/ server/
COPY admin-web/ admin-web/
RUN npm run build -w shared -w server -w admin-web

# ------------------------------------------------------------ prod-deps ----
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY server/package.json server/
COPY admin-web/package.json admin-web/
COPY e2e/package.json e2e/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w server -w shared \
 && npm cache clean --force

# CPU image: keep only this architecture's CPU build of llama.cpp.
FROM prod-deps AS prod-deps-cpu
RUN cd node_modules/@node-llama-cpp \
 && keep="linux-$(node -p process.arch)" \
 && for d in *; do [ "$d" = "$keep" ] || rm -rf "$d"; done

# CUDA image: this architecture's CPU build plus the CUDA builds.
FROM prod-deps AS prod-deps-cuda
RUN cd node_modules/@node-llama-cpp \
 && arch="linux-$(node -p process.arch)" \
 && for d in *; do case "$d" in "$arch"|"$arch-cuda"|"$arch-cuda-ext") ;; *) rm -rf "$d" ;; esac; done

# ------------------------------------------------------- runtime (CUDA) ----
# Built only on request: docker build --target runtime-cuda ...
# Run with GPUs passed through (NVIDIA Container Toolkit; compose:
# deploy.resources.reservations.devices, see docs/docker.md).
FROM ${CUDA_IMAGE} AS runtime-cuda
ENV NODE_ENV=production \
    SIPP_GATEWAY_ADMIN_ASSETS_DIR=/app/admin-web/dist
COPY --from=build /usr/local/bin/node /usr/local/bin/node
RUN groupadd --system --gid 10001 sipp \
 && useradd --system --uid 10001 --gid sipp --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin sipp \
 && printf '#!/bin/sh\nexec node /app/server/dist/src/cli.js "$@"\n' > /usr/local/bin/sipp-gateway \
 && chmod 0755 /usr/local/bin/sipp-gateway \
 && mkdir -p /etc/sipp /models
WORKDIR /app
COPY --from=prod-deps-cuda /app/node_modules node_modules/
COPY --from=build /src/package.json ./
COPY --from=build /src/shared/package.json shared/
COPY --from=build /src/shared/dist shared/dist/
COPY --from=build /src/server/package.json server/
COPY --from=build /src/server/dist/src server/dist/src/
COPY --from=build /src/admin-web/dist admin-web/dist/
USER sipp:sipp
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/readyz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
ENTRYPOINT ["sipp-gateway"]
CMD ["serve", "--config", "/etc/sipp/gateway.toml"]

# ------------------------------------------------- runtime (CPU, default) ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    SIPP_GATEWAY_ADMIN_ASSETS_DIR=/app/admin-web/dist
RUN groupadd --system --gid 10001 sipp \
 && useradd --system --uid 10001 --gid sipp --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin sipp \
 && printf '#!/bin/sh\nexec node /app/server/dist/src/cli.js "$@"\n' > /usr/local/bin/sipp-gateway \
 && chmod 0755 /usr/local/bin/sipp-gateway \
 && mkdir -p /etc/sipp /models
WORKDIR /app
COPY --from=prod-deps-cpu /app/node_modules node_modules/
COPY --from=build /src/package.json ./
COPY --from=build /src/shared/package.json shared/
COPY --from=build /src/shared/dist shared/dist/
COPY --from=build /src/server/package.json server/
COPY --from=build /src/server/dist/src server/dist/src/
COPY --from=build /src/admin-web/dist admin-web/dist/
USER sipp:sipp
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/readyz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
ENTRYPOINT ["sipp-gateway"]
CMD ["serve", "--config", "/etc/sipp/gateway.toml"]
