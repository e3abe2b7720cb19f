# Capstan's image. BASE is a build argument so users get a normal
# node:20-alpine image while offline tests can build from a locally made base.
ARG BASE=node:20-alpine

FROM ${BASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/build.mjs scripts/build.mjs
COPY src src
COPY tsconfig.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts && node scripts/build.mjs && npm prune --omit=dev

FROM ${BASE}
WORKDIR /app
ENV NODE_ENV=production CAPSTAN_DATA_DIR=/var/lib/capstan
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
# Runs as the image's unprivileged `node` user. Capstan needs the Docker
# socket: start it with `--group-add $(stat -c %g /var/run/docker.sock)`.
RUN mkdir -p /var/lib/capstan && chown node /var/lib/capstan
USER node
VOLUME /var/lib/capstan
EXPOSE 9420
ENTRYPOINT ["node", "/app/bin/capstan.mjs"]
CMD ["run"]
