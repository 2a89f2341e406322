//! Query planning: pure and synchronous. An operation, validated against the
//! API schema, becomes a [`QueryPlan`] of fetches to subgraphs (root fetches
//! and `_entities` fetches flattened into place), in sequence where one needs
//! another's output and in parallel otherwise.
//!
//! [`Planner::new`] builds the query graph once per supergraph; [`Planner::plan`]
//! is then called per operation. Every failure is a [`PlanError`], never a panic.

mod build;
mod graph;
mod operation;
mod plan;

use std::collections::HashSet;
use std::sync::Arc;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::parser::Parser;
use apollo_compiler::validation::{DiagnosticList, Valid};

use crate::supergraph::Supergraph;

pub use plan::{
    ConditionNode, FetchNode, Field, FlattenNode, InlineFragment, OperationKind, PathElement,
    PlanNode, QueryPlan, Selection, SelectionSet, format_path,
};

/// The `@key` field sets of every entity type, per subgraph that resolves
/// it: the planner reads them from the supergraph, the executor's entity
/// cache keys entities by them.
pub type EntityKeys =
    std::collections::HashMap<String, Vec<(crate::supergraph::SubgraphId, SelectionSet)>>;

/// Why an operation could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The document does not parse or does not validate against the API schema;
    /// the message lists the spec-worded errors with locations, safe to show.
    #[error("{0}")]
    InvalidOperation(String),
    /// No operation with that name, or several operations and no name.
    #[error("{0}")]
    UnknownOperation(String),
    #[error("subscriptions are not supported")]
    SubscriptionUnsupported,
    #[error("operation nests deeper than {0} levels")]
    TooDeep(usize),
    /// Planning would put more than this many selections into subgraph fetches
    /// (abstract types expanded per implementation, level after level).
    #[error("operation is too large to plan: more than {0} selections across fetches")]
    TooLarge(usize),
    /// No subgraph can resolve the field from where the plan reached its parent.
    #[error(
        "cannot plan field `{type_name}.{field}`: no subgraph reachable from `{from}` resolves it"
    )]
    UnreachableField {
        type_name: String,
        field: String,
        from: String,
    },
    /// Something valid that this planner does not handle yet.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A `@key`/`@requires`/`@provides` field set of the supergraph is broken.
    #[error("invalid field set {coordinate}: {message}")]
    InvalidFieldSet { coordinate: String, message: String },
    /// A planner bug surfaced as an error rather than a panic.
    #[error("internal planner error: {0}")]
    Internal(String),
}

/// Selection sets may nest this deep in a client document (the parser counts
/// each nested selection set and argument value).
const PARSER_RECURSION_LIMIT: usize = 2 * operation::MAX_DEPTH;
/// Tokens in a client document: a few thousand fields, far more than real operations.
pub const PARSER_TOKEN_LIMIT: usize = 100_000;
/// Errors reported for one invalid document; the rest are counted.
pub const MAX_REPORTED_ERRORS: usize = 20;

/// The parser with the limits above, for every client document.
pub fn parser() -> Parser {
    Parser::new()
        .recursion_limit(PARSER_RECURSION_LIMIT)
        .token_limit(PARSER_TOKEN_LIMIT)
}

/// Formats at most [`MAX_REPORTED_ERRORS`] diagnostics, one a line. (The
/// pretty `Display` of a `DiagnosticList` renders source snippets per error,
/// which takes minutes on a document of ten thousand `{`.)
fn invalid_operation(errors: &DiagnosticList) -> PlanError {
    let mut lines: Vec<String> = errors
        .iter()
        .take(MAX_REPORTED_ERRORS)
        .map(|d| {
            let error = d.to_json();
            match error.locations.first() {
                Some(at) => format!("{} (line {}, column {})", error.message, at.line, at.column),
                None => error.message,
            }
        })
        .collect();
    if errors.len() > MAX_REPORTED_ERRORS {
        lines.push(format!(
            "... and {} more errors",
            errors.len() - MAX_REPORTED_ERRORS
        ));
    }
    PlanError::InvalidOperation(lines.join("\n"))
}

/// Per-request planning choices.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Progressive `@override(label:)` labels that are active for this plan;
    /// the executor picks them (e.g. by percentage) and caches plans per set.
    pub override_labels: HashSet<String>,
}

impl PlanOptions {
    /// Activates each `percent(N)` override label of the supergraph with
    /// probability N%: `roll` returns a uniform number in `[0, 1)`, one per
    /// label. Other labels stay inactive. Plans must be cached per label set.
    pub fn rolled(supergraph: &Supergraph, mut roll: impl FnMut() -> f64) -> Self {
        let override_labels = supergraph
            .override_labels()
            .into_iter()
            .filter(|label| {
                label
                    .strip_prefix("percent(")
                    .and_then(|rest| rest.strip_suffix(')'))
                    .and_then(|n| n.trim().parse::<f64>().ok())
                    .is_some_and(|percent| roll() * 100.0 < percent)
            })
            .collect();
        Self { override_labels }
    }
}

/// Plans operations against one supergraph.
#[derive(Debug)]
pub struct Planner {
    graph: graph::QueryGraph,
}

impl Planner {
    /// Builds the query graph (parsed keys, requires, provides, possible types).
    pub fn new(supergraph: Arc<Supergraph>) -> Result<Self, PlanError> {
        Ok(Self {
            graph: graph::QueryGraph::build(supergraph)?,
        })
    }

    /// Every entity type's resolvable keys as selection sets, per subgraph
    /// (in subgraph order), for the executor's entity cache.
    pub fn entity_keys(&self) -> EntityKeys {
        let mut out = EntityKeys::new();
        for (type_name, graph, key) in self.graph.all_keys() {
            // Keys were parsed from the supergraph when the graph was built.
            if let Ok(set) = build::plain_selection(&key.fields) {
                out.entry(type_name.to_owned())
                    .or_default()
                    .push((graph, set));
            }
        }
        for keys in out.values_mut() {
            keys.sort_by_key(|(graph, _)| *graph);
        }
        out
    }

    /// The supergraph this planner plans against.
    pub fn supergraph(&self) -> &Supergraph {
        &self.graph.supergraph
    }

    /// Parses and validates `source` against the API schema, then plans it.
    pub fn plan_source(
        &self,
        source: &str,
        operation_name: Option<&str>,
        options: &PlanOptions,
    ) -> Result<QueryPlan, PlanError> {
        let document = self.validate(source)?;
        self.plan(&document, operation_name, options)
    }

    /// Parses and validates an operation document against the API schema,
    /// within parser limits that keep hostile documents cheap to refuse.
    pub fn validate(&self, source: &str) -> Result<Valid<ExecutableDocument>, PlanError> {
        let schema = self.graph.supergraph.api_schema();
        let document = parser()
            .parse_executable(schema, source, "operation.graphql")
            .map_err(|e| invalid_operation(&e.errors))?;
        document
            .validate(schema)
            .map_err(|e| invalid_operation(&e.errors))
    }

    /// Plans one operation of an already validated document.
    pub fn plan(
        &self,
        document: &Valid<ExecutableDocument>,
        operation_name: Option<&str>,
        options: &PlanOptions,
    ) -> Result<QueryPlan, PlanError> {
        let operation = document
            .operations
            .get(operation_name)
            .map_err(|e| PlanError::UnknownOperation(e.message().to_string()))?;
        build::plan_operation(&self.graph, options, document, operation)
    }
}

#[cfg(test)]
mod tests;
