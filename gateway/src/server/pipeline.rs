//! One request through the gateway: parse → operation limits → validate →
//! plan (cached) → coerce variables → execute → shape. Also holds the loaded
//! supergraph and swaps it atomically on reload.

use std::sync::{Arc, RwLock};

use apollo_compiler::{
    ExecutableDocument, Name,
    collections::HashMap,
    response::{JsonMap, JsonValue},
    schema::Implementers,
    validation::Valid,
};
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};
use tracing::Instrument;

use crate::{
    config::{GatewayConfig, OperationLimits},
    error::RequestError,
    executor::{self, Executor, json::deep_merge, shape::Shaper},
    metrics::{Metrics, measured},
    planner::{self, PlanError, PlanOptions, Planner, QueryPlan},
    server::authz::{self, Denied, Grants},
    supergraph::{Supergraph, SupergraphError},
};

/// Why a supergraph could not be put into service.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Supergraph(#[from] SupergraphError),
    #[error("cannot plan against this supergraph: {0}")]
    Planner(#[from] PlanError),
}

/// Everything derived from one supergraph; replaced whole on reload.
pub struct Loaded {
    pub supergraph: Arc<Supergraph>,
    planner: Planner,
    pub executor: Executor,
    implementers: HashMap<Name, Implementers>,
    plans: PlanCache,
    /// The supergraph has `@override(label: "percent(N)")` fields: each request
    /// rolls which labels are active, and plans are cached per label set.
    progressive: bool,
    plan_cache_misses: metrics::Counter,
    limits: OperationLimits,
}

/// Keyed by operation text, operation name, active override labels and the
/// caller's grants where authorization applies (they decide which fields
/// are planned); invalid operations are cached too.
type PlanCache = moka::sync::Cache<
    (String, Option<String>, Vec<String>, Option<Grants>),
    Arc<Result<Prepared, RequestError>>,
>;

/// A validated operation and its plan, cached per operation text and name.
pub struct Prepared {
    document: Valid<ExecutableDocument>,
    plan: QueryPlan,
    plan_text: String,
    /// Fields of `document` the caller may not select: not planned, answered
    /// `null` with an error.
    denied: Denied,
}

/// A client's GraphQL request, from a POST body or GET query parameters.
#[derive(Debug, Default)]
pub struct GraphQLRequest {
    pub query: String,
    pub operation_name: Option<String>,
    pub variables: Map<String, Value>,
}

/// What the HTTP layer needs to know besides the request.
pub struct RequestMeta<'a> {
    pub is_get: bool,
    pub want_plan: bool,
    /// Passed on to every subgraph.
    pub forward_headers: HeaderMap,
    /// All of the client's headers (the entity cache keys private data by some).
    pub client_headers: &'a HeaderMap,
    /// The verified caller; `None` for an anonymous request.
    pub principal: Option<&'a auth::Principal>,
}

/// The gateway's shared state.
pub struct Gateway {
    pub config: GatewayConfig,
    pub metrics: Metrics,
    /// Load shedding, the request timeout and draining on shutdown.
    pub admission: super::admission::Admission,
    pub traffic: super::Traffic,
    /// Verifies request tokens (`[jwt]`).
    pub verifier: auth::Verifier,
    http: reqwest::Client,
    current: RwLock<Option<Arc<Loaded>>>,
}

impl Gateway {
    pub fn new(config: GatewayConfig, http: reqwest::Client) -> Result<Self, crate::StartError> {
        let metrics = Metrics::new();
        Ok(Self {
            admission: super::admission::Admission::new(
                config.max_in_flight_requests,
                config.request_timeout(),
                config.drain_timeout(),
                metrics.requests_shed.clone(),
                metrics.requests_timed_out.clone(),
            ),
            traffic: super::Traffic::new(&config)?,
            verifier: auth::Verifier::new(config.jwt.clone(), http.clone())?,
            config,
            metrics,
            http,
            current: RwLock::new(None),
        })
    }

    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Builds everything for `sdl`, then swaps it in; requests in flight finish
    /// on the supergraph they started with. On error the old one stays.
    pub fn load(&self, sdl: &str) -> Result<(), LoadError> {
        let supergraph = Arc::new(Supergraph::parse(sdl)?);
        let planner = Planner::new(supergraph.clone())?;
        let executor = Executor::new(
            supergraph.clone(),
            self.http.clone(),
            &self.config,
            &self.metrics,
            planner.entity_keys(),
        );
        let implementers = supergraph.api_schema().implementers_map();
        let progressive = supergraph
            .override_labels()
            .iter()
            .any(|l| l.starts_with("percent("));
        let loaded = Loaded {
            supergraph,
            planner,
            executor,
            implementers,
            plans: moka::sync::Cache::new(self.config.plan_cache_capacity),
            progressive,
            plan_cache_misses: self.metrics.plan_cache_misses.clone(),
            limits: self.config.limits.clone(),
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(loaded));
        Ok(())
    }

    /// Runs one request into the response body (JSON text); `Err` is a
    /// request error (no `data` in the response).
    pub async fn execute(
        &self,
        request: GraphQLRequest,
        meta: RequestMeta<'_>,
    ) -> Result<Vec<u8>, RequestError> {
        measured(
            &self.metrics.requests,
            &self.metrics.request_duration,
            self.respond(request, meta),
        )
        .await
    }

    async fn respond(
        &self,
        request: GraphQLRequest,
        meta: RequestMeta<'_>,
    ) -> Result<Vec<u8>, RequestError> {
        let loaded = self.current().ok_or(RequestError::NotReady)?;
        let grants = (self.config.authorization.enabled && !loaded.supergraph.access().is_empty())
            .then(|| {
                Grants::of(
                    meta.principal,
                    loaded.supergraph.access(),
                    &self.config.authorization,
                )
            });
        let prepared = loaded.prepare_for(
            &request.query,
            request.operation_name.as_deref(),
            grants.as_ref(),
        );
        let prepared = prepared.as_ref().as_ref().map_err(Clone::clone)?;
        let operation = prepared
            .document
            .operations
            .get(request.operation_name.as_deref())
            .map_err(|e| {
                RequestError::Validation(vec![json!({ "message": e.message().to_string() })])
            })?;
        if meta.is_get && !operation.operation_type.is_query() {
            return Err(RequestError::MutationOverGet);
        }
        let api_schema = loaded.supergraph.api_schema();
        let raw: JsonMap = request
            .variables
            .into_iter()
            .map(|(k, v)| (k.into(), JsonValue::from(v)))
            .collect();
        let coerced = apollo_compiler::request::coerce_variable_values(api_schema, operation, &raw)
            .map_err(|e| RequestError::Variables(e.message().to_string()))?;
        let variables: Map<String, Value> = coerced
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    serde_json::to_value(v).unwrap_or(Value::Null),
                )
            })
            .collect();

        let execution_request = executor::Request {
            variables: &variables,
            headers: &meta.forward_headers,
            scope: loaded.executor.private_scope(meta.client_headers),
            mutation: operation.operation_type.is_mutation(),
        };
        let mut execution = loaded
            .executor
            .execute(&prepared.plan, &execution_request)
            .instrument(tracing::info_span!("execute"))
            .await;
        if !prepared.plan.introspection.is_empty() {
            if !self.config.introspection {
                return Err(RequestError::IntrospectionDisabled);
            }
            apollo_compiler::introspection::check_max_depth(&prepared.document, operation)
                .map_err(|e| {
                    RequestError::Validation(vec![json!({ "message": e.message().to_string() })])
                })?;
            match apollo_compiler::introspection::partial_execute(
                api_schema,
                &loaded.implementers,
                &prepared.document,
                operation,
                &coerced,
            ) {
                Ok(response) => {
                    if let Some(data) = response.data {
                        deep_merge(
                            &mut execution.data,
                            serde_json::to_value(data).unwrap_or(Value::Null).into(),
                        );
                    }
                    execution.errors.extend(
                        response
                            .errors
                            .into_iter()
                            .filter_map(|e| serde_json::to_value(e).ok()),
                    );
                }
                Err(e) => {
                    return Err(RequestError::Validation(vec![
                        json!({ "message": e.message().to_string() }),
                    ]));
                }
            }
        }
        let mut errors = execution.errors;
        let shaper = Shaper {
            schema: api_schema,
            document: &prepared.document,
            variables: &variables,
            denied: &prepared.denied,
        };
        // The response is about as long as what the subgraphs sent.
        let mut body = Vec::with_capacity(execution.received + 256);
        body.extend_from_slice(b"{\"data\":");
        shaper.shape(operation, &execution.data, &mut errors, &mut body);
        if !errors.is_empty() {
            // `errors` first, as the spec suggests: the data moves behind them
            // (one copy, only for responses with errors).
            // Writing to a Vec cannot fail.
            let mut with_errors = Vec::with_capacity(body.len() + 256 * errors.len());
            with_errors.extend_from_slice(b"{\"errors\":");
            let _ = serde_json::to_writer(&mut with_errors, &errors);
            with_errors.push(b',');
            with_errors.extend_from_slice(&body[1..]);
            body = with_errors;
        }
        if meta.want_plan && self.config.expose_query_plan {
            body.extend_from_slice(b",\"extensions\":");
            let _ = serde_json::to_writer(&mut body, &json!({ "queryPlan": prepared.plan_text }));
        }
        body.push(b'}');
        Ok(body)
    }
}

impl Loaded {
    /// Parses, validates and plans, or answers from the plan cache.
    pub fn prepare(
        &self,
        query: &str,
        operation_name: Option<&str>,
    ) -> Arc<Result<Prepared, RequestError>> {
        self.prepare_for(query, operation_name, None)
    }

    /// [`prepare`](Self::prepare) for a caller with `grants`: fields they do
    /// not allow are left out of the plan (`None`: no authorization applies).
    pub fn prepare_for(
        &self,
        query: &str,
        operation_name: Option<&str>,
        grants: Option<&Grants>,
    ) -> Arc<Result<Prepared, RequestError>> {
        let options = if self.progressive {
            PlanOptions::rolled(&self.supergraph, fastrand::f64)
        } else {
            PlanOptions::default()
        };
        let mut labels: Vec<String> = options.override_labels.iter().cloned().collect();
        labels.sort();
        let key = (
            query.to_owned(),
            operation_name.map(str::to_owned),
            labels,
            grants.cloned(),
        );
        self.plans.get_with(key, || {
            self.plan_cache_misses.increment(1);
            let _span = tracing::debug_span!("plan", cached = false).entered();
            Arc::new(self.prepare_uncached(query, operation_name, &options, grants))
        })
    }

    fn prepare_uncached(
        &self,
        query: &str,
        operation_name: Option<&str>,
        options: &PlanOptions,
        grants: Option<&Grants>,
    ) -> Result<Prepared, RequestError> {
        let schema = self.supergraph.api_schema();
        let ast = planner::parser()
            .token_limit(self.limits.max_parser_tokens)
            .parse_ast(query, "operation.graphql")
            .map_err(|e| {
                let over = self.limits.parse_stopped(&e, operation_name);
                if over.is_empty() {
                    RequestError::Parse(diagnostics(&e.errors))
                } else {
                    RequestError::LimitExceeded(over)
                }
            })?;
        let over = self.limits.check(&ast, operation_name);
        if !over.is_empty() {
            return Err(RequestError::LimitExceeded(over));
        }
        let document = ast
            .to_executable_validate(schema)
            .map_err(|e| RequestError::Validation(validation_errors(&ast, &e.errors)))?;
        let filtered = grants.and_then(|grants| {
            authz::filter(
                &document,
                self.supergraph.schema(),
                schema,
                self.supergraph.access(),
                grants,
            )
        });
        let (planned, denied) = match &filtered {
            Some((filtered, denied)) => (filtered, denied.clone()),
            None => (&document, Denied::new()),
        };
        let plan = self
            .planner
            .plan(planned, operation_name, options)
            .map_err(|e| match e {
                PlanError::InvalidOperation(m) | PlanError::UnknownOperation(m) => {
                    RequestError::Validation(vec![json!({ "message": m })])
                }
                PlanError::SubscriptionUnsupported => RequestError::Validation(vec![
                    json!({ "message": "subscriptions are not supported" }),
                ]),
                other => RequestError::Planning(other.to_string()),
            })?;
        let plan_text = plan.to_string();
        Ok(Prepared {
            document,
            plan,
            plan_text,
            denied,
        })
    }

    /// The plan of an operation as text, for `switchyard plan` and tests.
    pub fn plan_text(
        &self,
        query: &str,
        operation_name: Option<&str>,
    ) -> Result<String, RequestError> {
        match self.prepare(query, operation_name).as_ref() {
            Ok(prepared) => Ok(prepared.plan_text.clone()),
            Err(e) => Err(e.clone()),
        }
    }
}

/// The validation errors, less apollo-compiler's "must have a subselection
/// set" for a field written with one: it drops unknown fields before
/// validating, so a selection of unknown fields only looks empty, and their
/// own errors already say what is wrong.
fn validation_errors(
    ast: &apollo_compiler::ast::Document,
    errors: &apollo_compiler::validation::DiagnosticList,
) -> Vec<Value> {
    use apollo_compiler::{
        ast::{Definition, Selection},
        diagnostic::ToCliReport,
    };
    fn walk(selections: &[Selection], out: &mut std::collections::HashSet<usize>) {
        for selection in selections {
            match selection {
                Selection::Field(field) if !field.selection_set.is_empty() => {
                    out.extend(field.location().map(|l| l.offset()));
                    walk(&field.selection_set, out);
                }
                Selection::InlineFragment(inline) => walk(&inline.selection_set, out),
                Selection::Field(_) | Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut written = std::collections::HashSet::new();
    for definition in &ast.definitions {
        match definition {
            Definition::OperationDefinition(op) => walk(&op.selection_set, &mut written),
            Definition::FragmentDefinition(f) => walk(&f.selection_set, &mut written),
            _ => {}
        }
    }
    json_errors(errors.iter().filter(|d| {
        !(d.error.unstable_error_name() == Some("MissingSubselection")
            && d.error
                .location()
                .is_some_and(|l| written.contains(&l.offset())))
    }))
}

fn diagnostics(errors: &apollo_compiler::validation::DiagnosticList) -> Vec<Value> {
    json_errors(errors.iter())
}

/// Response errors for at most [`planner::MAX_REPORTED_ERRORS`] diagnostics.
fn json_errors<'a>(
    diagnostics: impl Iterator<
        Item = apollo_compiler::diagnostic::Diagnostic<
            'a,
            apollo_compiler::validation::DiagnosticData,
        >,
    >,
) -> Vec<Value> {
    diagnostics
        .take(planner::MAX_REPORTED_ERRORS)
        .map(|d| {
            serde_json::to_value(d.to_json())
                .unwrap_or_else(|_| json!({ "message": d.error.to_string() }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use apollo_compiler::{Schema, ast::Document};

    use super::validation_errors;

    fn errors(query: &str) -> Vec<String> {
        let schema = Schema::parse_and_validate(
            "type Query { user: User } type User { name: String, friend: User }",
            "s.graphql",
        )
        .expect("schema");
        let ast = Document::parse(query, "q.graphql").expect("parses");
        let invalid = ast.to_executable_validate(&schema).expect_err("invalid");
        validation_errors(&ast, &invalid.errors)
            .iter()
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn unknown_fields_only_are_not_also_a_missing_subselection() {
        assert_eq!(
            errors("{ user { nope } }"),
            ["type `User` does not have a field `nope`"]
        );
        assert_eq!(
            errors("{ user { ... on User { friend { nope } } } }"),
            ["type `User` does not have a field `nope`"]
        );
        // A selection really missing is still reported.
        assert_eq!(
            errors("{ user }"),
            ["interface, union and object types must have a subselection set"]
        );
    }
}
