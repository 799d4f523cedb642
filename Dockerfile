# One image per service: docker build --build-arg SERVICE=router .
# SERVICE is one of gateway, router, policy, adapter-openai, adapter-custom,
# or "launcher" for the all-in-one process.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages ./packages
COPY services ./services
RUN npm install --no-audit --no-fund && npx tsc -b && npm prune --omit=dev

FROM node:20-bookworm-slim
ARG SERVICE=launcher
ENV NODE_ENV=production HOST=0.0.0.0 SERVICE_DIR=${SERVICE}
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/packages ./packages
COPY --from=build /app/services ./services
COPY config ./config
USER node
# Shell form so the build argument picks the entry point; exec keeps signals going to node.
CMD ["sh", "-c", "if [ \"$SERVICE_DIR\" = launcher ]; then exec node packages/launcher/dist/main.js; else exec node services/$SERVICE_DIR/dist/main.js; fi"]
