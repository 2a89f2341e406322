// Reference runner for gateway/tests/differential.rs: Apollo Gateway on a
// static supergraph, its subgraphs routed to the URLs given, answers each
// query in order. Input (file argument): {"supergraph": SDL, "urls": {name:
// url}, "queries": [{"query", "variables"}]}; output (stdout): a JSON array
// of responses ({"data", "errors"}) in the same order.
//   npm ci && node reference.mjs input.json
import { readFileSync } from 'node:fs';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const quiet = { debug() {}, info() {}, warn() {}, error: (...a) => console.error('[reference]', ...a) };

const gateway = new ApolloGateway({
  supergraphSdl: input.supergraph,
  logger: quiet,
  buildService: ({ name }) => new RemoteGraphQLDataSource({ url: input.urls[name] }),
});
const server = new ApolloServer({ gateway, logger: quiet, includeStacktraceInErrorResponses: false });
await server.start();

const out = [];
for (const { query, variables } of input.queries) {
  const response = await server.executeOperation({ query, variables });
  const result = response.body.kind === 'single' ? response.body.singleResult : { errors: [{ message: 'incremental' }] };
  const entry = {};
  if (result.errors) {
    entry.errors = result.errors.map((e) => {
      const error = { message: e.message };
      if (e.path) error.path = e.path;
      if (e.extensions?.code) error.extensions = { code: e.extensions.code };
      return error;
    });
  }
  if ('data' in result) entry.data = result.data;
  out.push(entry);
}
await server.stop();
process.stdout.write(JSON.stringify(out));
