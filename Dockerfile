# syntax=docker/dockerfile:1
#
# gan-serve container images (see docs/deployment.md).
#   docker build -t gan-serve .                      CPU image: the default target is the last stage, `runtime`
#   docker build --target cuda -t gan-serve:cuda .   NVIDIA image: CUDA 12 + cuDNN 9, onnxruntime's CUDA provider
#
# No Docker engine runs in CI, so test/scripts/docker/runtime-stage.test.ts replays the `runtime` stage outside
# Docker: it reads this file's COPY/RUN/ENV/CMD/HEALTHCHECK lines, so keep them in the plain forms used here.

ARG NODE_IMAGE=node:20-bookworm-slim
# onnxruntime-node's CUDA provider comes from its NuGet GPU package; the runtime libraries below must match the CUDA
# and cuDNN majors that package links against (the `cuda` stage checks this with ldd at build time).
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# ---------------------------------------------------------------------------------------------------------------
# build: compile TypeScript. Dev dependencies (typescript, tfjs for the trainer, …) exist only in this stage.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# onnxruntime-node's postinstall would only download CUDA binaries; .npmrc skips it too.
ARG ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---------------------------------------------------------------------------------------------------------------
# cuda-deps: production dependencies plus onnxruntime's CUDA provider, fetched at build time (linux/amd64 only).
FROM ${NODE_IMAGE} AS cuda-deps
WORKDIR /app
# Read by onnxruntime-node/script/install.js before the .npmrc `skip`, so this wins.
ARG ONNXRUNTIME_NODE_INSTALL=cuda12
COPY package.json package-lock.json .npmrc ./
# npm 10 (in node:20) runs the postinstall during `npm ci`; npm 11 skips dependency scripts that package.json's
# allowScripts does not approve. Running install.js when the provider is still missing works under either.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund \
 && provider=node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so \
 && if [ ! -f "$provider" ]; then node node_modules/onnxruntime-node/script/install.js; fi \
 && test -f "$provider" \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32 \
      node_modules/onnxruntime-node/bin/napi-v6/linux/arm64

# ---------------------------------------------------------------------------------------------------------------
# cuda: `docker build --target cuda -t gan-serve:cuda .` then `docker run --gpus all -p 8080:8080 gan-serve:cuda`.
FROM ${CUDA_IMAGE} AS cuda
ARG CUDA_IMAGE
# Only the node binary: the image runs node, never npm.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=cuda-deps /app/package.json ./
COPY --from=cuda-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY public ./public
COPY models ./models
# Fail the build, not the first request, when the provider needs a library this base image lacks (a CUDA or cuDNN
# major mismatch). libcuda.so.1 comes from the host driver at run time, so it may be missing here.
RUN provider=node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so \
 && missing="$(ldd "$provider" | grep 'not found' | grep -v -e 'libcuda\.so' -e 'libonnxruntime_providers_shared' || true)" \
 && if [ -n "$missing" ]; then \
      echo "onnxruntime's CUDA provider cannot load in ${CUDA_IMAGE}:" >&2; echo "$missing" >&2; \
      echo "build with --build-arg CUDA_IMAGE=<an nvidia/cuda *-cudnn-runtime image of the matching major>" >&2; \
      exit 1; \
    fi
ENV NODE_ENV=production \
    GAN_HOST=0.0.0.0 \
    GAN_PORT=8080 \
    GAN_MODELS_DIR=/app/models \
    GAN_DEFAULT_MODEL=mnist-dcgan \
    GAN_EXECUTION_PROVIDERS=cuda,cpu \
    GAN_WORKERS=1
# Numeric, so Kubernetes' runAsNonRoot can verify it without an /etc/passwd lookup.
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.GAN_PORT || 8080) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server.js"]

# ---------------------------------------------------------------------------------------------------------------
# runtime: the CPU image and the default target. Last on purpose: `docker build .` builds the last stage.
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ARG ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
# Production dependencies only. Never --omit=optional: sharp's libvips ships in optional @img/* packages.
# onnxruntime-node bundles every platform's binaries (~250 MB); keep only this one's.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund \
 && node -e "const fs = require('node:fs'); const bin = 'node_modules/onnxruntime-node/bin/napi-v6/'; for (const p of fs.readdirSync(bin)) if (p !== process.platform) fs.rmSync(bin + p, { recursive: true }); else for (const a of fs.readdirSync(bin + p)) if (a !== process.arch) fs.rmSync(bin + p + '/' + a, { recursive: true });"
COPY --from=build /app/dist ./dist
# The playground page, served from public/ beside dist/.
COPY public ./public
COPY models ./models
ENV NODE_ENV=production \
    GAN_HOST=0.0.0.0 \
    GAN_PORT=8080 \
    GAN_MODELS_DIR=/app/models \
    GAN_DEFAULT_MODEL=mnist-dcgan \
    GAN_EXECUTION_PROVIDERS=cpu
# The node image's `node` user, numeric so Kubernetes' runAsNonRoot can verify it. The app's files stay root-owned:
# the process can read but not modify its code and models.
USER 1000:1000
EXPOSE 8080
# No curl in the slim image: node's fetch asks /healthz (liveness; /readyz is for load balancers).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.GAN_PORT || 8080) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop, kubelet) starts the service's graceful shutdown; node is PID 1 and handles it itself.
CMD ["node", "dist/server.js"]
