# syntax=docker/dockerfile:1
# One image for every Storeline service; the compose file picks the entry point per service:
#   docker build -t storeline .
#   docker run --rm storeline dist/services/normalizer/main.js
# Not built on the project's CI machines (no Docker engine there); CI lints the compose file instead.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` builds, and the sources are not copied yet. So kafkajs' patch (patches/: it
# fixes lost records on a leader change) is applied here explicitly; the services refuse to start without it.
COPY patches ./patches
RUN npm ci --ignore-scripts && npx patch-package
COPY tsconfig.json tsconfig.build.json ./
COPY schemas ./schemas
COPY services ./services
COPY lib ./lib
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node bin ./bin
COPY --chown=node:node schemas ./schemas
COPY --chown=node:node services/triggers/rules.example.json ./config/rules.json
# The image's own user, never root.
USER node
ENTRYPOINT ["node"]
CMD ["bin/storeline.js", "--help"]
