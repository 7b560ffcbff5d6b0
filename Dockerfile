# syntax=docker/dockerfile:1.20
# One image for every service. Its default command runs the gateway; docker-compose.yml and infra/k8s run
# each worker with its own command (node services/<name>/src/main.ts).
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build step.

FROM node:24-slim AS deps
WORKDIR /app
# Only the manifests, so the install layer is rebuilt only when dependencies change. The globs (COPY
# --parents needs the syntax line above) pick up every workspace, new ones included.
COPY package.json package-lock.json ./
COPY --parents libs/*/package.json services/*/package.json apps/*/package.json e2e/package.json scripts/package.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim
# MEDIA_DIR is the local disk store's folder, made below; a named volume mounted there inherits its owner.
# MALLOC_ARENA_MAX: glibc gives each thread that allocates its own arena, and sharp's image work on libuv's
# threads fragments them; two arenas keep a generator running dozens of images at once within its memory
# (npm run bench measures it so).
ENV NODE_ENV=production MEDIA_DIR=/data/media MALLOC_ARENA_MAX=2
WORKDIR /app
# node_modules with the workspace manifests it links to (and any node_modules a workspace has of its own).
COPY --from=deps /app ./
COPY libs libs
COPY services services
COPY scripts scripts
RUN mkdir -p /data/media && chown node:node /data/media
USER node
# No HEALTHCHECK: the gateway and the workers answer on different ports (see docker-compose.yml).
EXPOSE 3000
CMD ["node", "services/gateway/src/main.ts"]
