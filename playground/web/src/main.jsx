// The Switchyard playground: GraphiQL, configured by the server through the
// JSON in <script id="switchyard-playground">, and prefilled from the page's
// URL (?query=, ?variables=) so a link opens an operation.
import { useSyncExternalStore } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { MergeIcon } from '@graphiql/react';
import 'graphiql/style.css';
import './playground.css';

const config = JSON.parse(
  document.getElementById('switchyard-playground')?.textContent || '{}',
);
const endpoint = new URL(config.endpoint || '/graphql', location.href).href;
const params = new URLSearchParams(location.search);

// Headers the editor starts with: a place for the bearer token. Empty values
// are not sent, so the placeholder changes nothing until it is filled in.
const DEFAULT_HEADERS = '{\n  "Authorization": ""\n}';
const PLAN_HEADER = 'x-switchyard-plan';

// The plan of the last response, kept outside React so the fetcher can set it.
const plan = {
  text: null,
  listeners: new Set(),
  set(text) {
    this.text = text;
    for (const listener of this.listeners) listener();
  },
  subscribe(listener) {
    plan.listeners.add(listener);
    return () => plan.listeners.delete(listener);
  },
};

const nonEmpty = (headers) =>
  Object.fromEntries(
    Object.entries(headers || {}).filter(([, v]) => v !== '' && v != null),
  );

const inner = createGraphiQLFetcher({
  url: endpoint,
  subscriptionUrl: config.subscriptionEndpoint
    ? new URL(config.subscriptionEndpoint, location.href.replace(/^http/, 'ws')).href
    : undefined,
  enableIncrementalDelivery: false,
  headers: config.queryPlan ? { [PLAN_HEADER]: 'true' } : {},
});

// Moves `extensions.queryPlan` out of the result into the "Query plan" pane,
// leaving a pointer to it where it was.
function takePlan(result) {
  const text = result?.extensions?.queryPlan;
  if (typeof text !== 'string') return result;
  plan.set(text);
  return {
    ...result,
    extensions: { ...result.extensions, queryPlan: 'see the "Query plan" pane (left sidebar)' },
  };
}

function fetcher(graphQLParams, opts) {
  const out = inner(graphQLParams, { ...opts, headers: nonEmpty(opts?.headers) });
  const introspection = graphQLParams.operationName === 'IntrospectionQuery';
  if (!config.queryPlan || introspection || typeof out?.then !== 'function') return out;
  return out.then((result) => (result && typeof result === 'object' && !result[Symbol.asyncIterator] && !result.subscribe ? takePlan(result) : result));
}

function PlanPane() {
  const text = useSyncExternalStore(plan.subscribe, () => plan.text);
  return (
    <div className="switchyard-plan">
      <div className="graphiql-doc-explorer-title">Query plan</div>
      {text ? (
        <pre data-testid="query-plan">{text}</pre>
      ) : (
        <p>Run an operation to see how the gateway plans it across the subgraphs.</p>
      )}
    </div>
  );
}

const plugins = config.queryPlan
  ? [{ title: 'Query plan', icon: MergeIcon, content: PlanPane }]
  : [];

// Keeps the URL in step with the editors, so the address bar is a shareable link.
function remember(name) {
  return (value) => {
    const next = new URLSearchParams(location.search);
    if (value) next.set(name, value);
    else next.delete(name);
    history.replaceState(null, '', `${location.pathname}?${next}`);
  };
}

const initial = (name) => params.get(name) ?? undefined;

function Playground() {
  return (
    <GraphiQL
      fetcher={fetcher}
      plugins={plugins}
      query={initial('query')}
      variables={initial('variables')}
      defaultQuery={config.defaultQuery}
      defaultHeaders={DEFAULT_HEADERS}
      defaultEditorToolsVisibility="headers"
      isHeadersEditorEnabled
      shouldPersistHeaders={false}
      onEditQuery={remember('query')}
      onEditVariables={remember('variables')}
    >
      <GraphiQL.Logo>{config.title || 'Switchyard'}</GraphiQL.Logo>
    </GraphiQL>
  );
}

createRoot(document.getElementById('graphiql')).render(<Playground />);
