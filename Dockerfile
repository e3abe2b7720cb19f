# Capstan's image. BASE is a build argument so users get a normal
# node:20-alpine image while offline tests can build from a locally made base
# (scripts/build-node-base.sh).
ARG BASE=node:20-alpine

# Dependencies first, from the manifest and lock alone: a source change
# reuses this layer instead of downloading everything again.
FROM ${BASE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

# The bundle needs esbuild, a dev dependency.
FROM deps AS build
COPY tsconfig.json ./
COPY scripts/build.mjs scripts/build.mjs
COPY src src
RUN node scripts/build.mjs

FROM deps AS runtime-deps
RUN npm prune --omit=dev --no-audit --no-fund

FROM ${BASE}
WORKDIR /app
# A container's loopback is unreachable from outside: the HTTP API listens on
# every interface of the container (publish 9420 to reach it).
ENV NODE_ENV=production CAPSTAN_DATA_DIR=/var/lib/capstan CAPSTAN_LISTEN=0.0.0.0:9420
# Runs as the image's unprivileged `node` user (uid 1000). Capstan needs the
# Docker socket: start it with `--group-add $(stat -c %g /var/run/docker.sock)`.
RUN mkdir -p /var/lib/capstan && chown node:node /var/lib/capstan
COPY --from=runtime-deps /app/node_modules node_modules
COPY package.json ./
COPY bin bin
COPY --from=build /app/dist dist
USER node
VOLUME /var/lib/capstan
EXPOSE 9420
ENTRYPOINT ["node", "/app/bin/capstan.mjs"]
CMD ["run"]
