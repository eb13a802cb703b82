# syntax=docker/dockerfile:1
# The kasprop operator image: the operator compiled to JavaScript (`npm run build`: Node 24 could run the TypeScript
# sources, but type stripping costs ~30 MB in a long-running process), package.json (its "type": "module" makes the
# .js files ES modules), the CRD (read at run time by src/api/crd.ts) and the production dependencies.
#
#   docker build -t kasprop:0.1.0 .
#
# The Node version is the project's (.node-version; test/unit/deploy.test.ts keeps the two equal), pinned by tag.
ARG NODE_VERSION=24.21.0

# ---- build: TypeScript to JavaScript (dist/src, dist/crds) ---------------------------------------------------------
FROM node:${NODE_VERSION}-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency only pins Node for development; the base image is that Node.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY crds ./crds
RUN npm run build

# ---- dependencies: production ones only --------------------------------------------------------------------------
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
# Two malloc arenas instead of one per thread: less memory held by the allocator (see the node flags below).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
# Owned by root and not writable by the user the operator runs as: it cannot change its own code.
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY --from=build /app/dist ./dist
# The base image's `node` user, by number: Kubernetes can verify runAsNonRoot only for a numeric user.
USER 1000:1000
# /metrics, /healthz and /readyz (METRICS_PORT).
EXPOSE 8080
# node is PID 1 directly: `kasprop run` handles SIGTERM itself (a clean Lease release) and starts no child
# processes, so no init process is needed to forward signals or reap zombies.
# Resident memory (npm run bench -- operator runs the operator with this ENTRYPOINT's flags and the ENV lines above): a
# small young generation (the operator's garbage is many short-lived objects per reconcile) and V8's size-over-speed
# mode keep it under 150 MB with 1000 KasprApps. Flags here, not NODE_OPTIONS, which refuses --optimize-for-size.
ENTRYPOINT ["node", "--max-semi-space-size=2", "--optimize-for-size", "dist/src/cli/main.js"]
CMD ["run"]
