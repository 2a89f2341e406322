// Apollo Gateway as the benchmark's peer: serves a static supergraph (env
// SUPERGRAPH, default ../../schema/supergraph.graphql next to this script) on
// env PORT (default 4010), POST /graphql, with production settings: no landing
// page, no usage/schema reporting, no introspection, default caches.
//   npm ci && node apollo-gateway.mjs
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import {
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginInlineTraceDisabled,
} from '@apollo/server/plugin/disabled';

const here = path.dirname(fileURLToPath(import.meta.url));
const supergraphPath = process.env.SUPERGRAPH
  ? path.resolve(process.env.SUPERGRAPH)
  : path.resolve(here, '../../schema/supergraph.graphql');
const port = Number(process.env.PORT ?? 4010);
process.env.NODE_ENV ??= 'production';

// Composition hints and query-planner warnings go to stderr; debug noise stays off.
const logger = {
  debug() {},
  info() {},
  warn: (...args) => console.warn('[apollo-gateway] warn:', ...args),
  error: (...args) => console.error('[apollo-gateway] error:', ...args),
};

const gateway = new ApolloGateway({
  supergraphSdl: readFileSync(supergraphPath, 'utf8'),
  logger,
});

const server = new ApolloServer({
  gateway,
  logger,
  introspection: false,
  includeStacktraceInErrorResponses: false,
  plugins: [
    ApolloServerPluginLandingPageDisabled(),
    ApolloServerPluginUsageReportingDisabled(),
    ApolloServerPluginSchemaReportingDisabled(),
    ApolloServerPluginInlineTraceDisabled(),
  ],
});

const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port },
});
console.log(`apollo-gateway ${supergraphPath} at ${url}graphql (pid ${process.pid})`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.stop().finally(() => process.exit(0));
  });
}
