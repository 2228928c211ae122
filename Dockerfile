# Container images for the operator and the node agent, from one recipe (not built in this repository's CI: there
# is no container engine on its machines; see docs/operator.md).
#
#   docker build --target operator -t mu-on-kubernetes/mu-operator:0.1.0 .
#   docker build --target agent    -t mu-on-kubernetes/mu-agent:0.1.0 .
#
# The agent image carries the native engine (Node-API addon built with cmake-js) and the RDMA user-space libraries
# (rdma-core, libibverbs providers). The operator image needs neither: it runs TypeScript through tsx, like
# `npm run operator`.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: npm packages and the native addon --------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake ninja-build libssl-dev libibverbs-dev python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY hack/build-addon.mjs hack/
COPY native/ native/
# `npm ci` runs the package's install script, which builds native/build-addon/Release/mu_engine.node.
RUN npm ci --foreground-scripts
COPY tsconfig.json ./
COPY operator/ operator/
COPY node-agent/ node-agent/
COPY bin/ bin/
COPY crds/ crds/
RUN npx tsc -p tsconfig.json --noEmit
# Runtime dependencies only (tsx stays: it is one).
RUN npm prune --omit=dev

# ---- operator ----------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS operator
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/operator/ operator/
COPY --from=build /app/crds/ crds/
COPY --from=build /app/bin/kubectl-mu bin/kubectl-mu
# Non-root, no capabilities; the chart adds a read-only root filesystem (tsx caches in /tmp).
USER 65532:65532
ENV TMPDIR=/tmp
EXPOSE 8080
ENTRYPOINT ["node", "--import", "tsx", "/app/operator/src/main.ts"]

# ---- agent -------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS agent
RUN apt-get update \
 && apt-get install -y --no-install-recommends rdma-core ibverbs-providers libibverbs1 libssl3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/node-agent/ node-agent/
COPY --from=build /app/operator/src/builders/ operator/src/builders/
COPY --from=build /app/operator/src/api/ operator/src/api/
COPY --from=build /app/native/build-addon/Release/mu_engine.node native/build-addon/Release/mu_engine.node
COPY --from=build /app/bin/mu.js bin/mu.js
# The operator's pods run `mu agent ...` (operator/src/builders/options.ts: agentCommand) as root with only
# IPC_LOCK added (pinning the RDMA-registered log); every other capability is dropped by the pod spec.
RUN ln -s /app/bin/mu.js /usr/local/bin/mu
ENTRYPOINT []
CMD ["mu", "agent", "--help"]
