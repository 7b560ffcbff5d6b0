# One image for every service; SERVICE picks which one runs (gateway, generator, storage, persistence).
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build step.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY libs/config/package.json libs/config/
COPY libs/db/package.json libs/db/
COPY libs/logger/package.json libs/logger/
COPY libs/providers/package.json libs/providers/
COPY libs/queue/package.json libs/queue/
COPY libs/testing/package.json libs/testing/
COPY services/gateway/package.json services/gateway/
COPY services/generator/package.json services/generator/
COPY services/storage/package.json services/storage/
COPY services/persistence/package.json services/persistence/
COPY scripts/package.json scripts/
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY libs libs
COPY services services
COPY scripts scripts
# The local disk store's folder; a named volume mounted here inherits this owner.
RUN mkdir -p /data/media && chown node:node /data/media
USER node
ENV SERVICE=gateway
CMD ["sh", "-c", "exec node services/$SERVICE/src/main.ts"]
