# syntax=docker/dockerfile:1
# The kasprop operator image. Node 24 runs the TypeScript sources directly (type stripping: there is no build
# step), so the image holds exactly what runs: package.json (its "type": "module" makes the .ts files ES modules),
# src/, crds/ (read at run time by src/api/crd.ts) and the production dependencies.
#
#   docker build -t kasprop:0.1.0 .
#
# The Node version is the project's (.node-version; test/unit/deploy.test.ts keeps the two equal), pinned by tag.
ARG NODE_VERSION=24.21.0

# ---- dependencies: the only stage where npm runs ----------------------------------------------------------------
FROM node:${NODE_VERSION}-trixie-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# Exactly the lock file's versions, production ones only (ajv, yaml, prom-client). --ignore-scripts: none of them
# needs an install script, and so no code from the registry runs during the build.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime -----------------------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-trixie-slim
# Nothing at run time needs a package manager: removing npm, npx, corepack and yarn leaves less to exploit.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
    /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and not writable by the user the operator runs as: it cannot change its own code.
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY src ./src
COPY crds ./crds
# The base image's `node` user, by number: Kubernetes can verify runAsNonRoot only for a numeric user.
USER 1000:1000
# /metrics, /healthz and /readyz (METRICS_PORT).
EXPOSE 8080
# node is PID 1 directly: `kasprop run` handles SIGTERM itself (a clean Lease release) and starts no child
# processes, so no init process is needed to forward signals or reap zombies.
ENTRYPOINT ["node", "src/cli/main.ts"]
CMD ["run"]
