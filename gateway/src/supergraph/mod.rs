//! The supergraph: an Apollo Federation v2 supergraph SDL read into a model of
//! who resolves what (`join` spec v0.1–v0.5), and the API schema that clients see.
//!
//! Everything here depends only on the supergraph text, so it is built once per
//! loaded supergraph and shared by the planner for every operation.

pub mod access;
mod api_schema;
pub mod compose;
mod join;
mod links;

use apollo_compiler::Schema;
use apollo_compiler::validation::Valid;
use indexmap::IndexMap;

pub use join::{
    FieldInGraph, FieldInfo, Key, Subgraph, SubgraphId, TypeInGraph, TypeInfo, TypeKind,
};

/// Why a supergraph SDL could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SupergraphError {
    #[error("supergraph SDL is not a valid schema: {0}")]
    InvalidSchema(String),
    #[error(
        "supergraph does not link the join spec (no @link or @core for https://specs.apollo.dev/join)"
    )]
    NotASupergraph,
    #[error("unsupported join spec version {0}")]
    UnsupportedJoinVersion(String),
    #[error("supergraph has no `{0}` enum listing its subgraphs")]
    MissingGraphEnum(String),
    #[error("join__Graph value `{0}` has no @join__graph(name, url)")]
    MissingGraphName(String),
    #[error("directive @{directive} on `{coordinate}` names unknown graph `{graph}`")]
    UnknownGraph {
        directive: String,
        coordinate: String,
        graph: String,
    },
    #[error("directive @{directive} on `{coordinate}`: {message}")]
    InvalidDirective {
        directive: String,
        coordinate: String,
        message: String,
    },
    #[error("API schema derived from the supergraph is invalid: {0}")]
    InvalidApiSchema(String),
}

/// A loaded supergraph: the full schema (with join machinery), the per-subgraph
/// model read from the join directives, and the client-facing API schema.
#[derive(Debug)]
pub struct Supergraph {
    schema: Valid<Schema>,
    api_schema: Valid<Schema>,
    api_sdl: String,
    join_version: String,
    subgraphs: Vec<Subgraph>,
    types: IndexMap<String, TypeInfo>,
    access: access::AccessRules,
}

impl Supergraph {
    /// Parses and validates a supergraph SDL, reads its join directives and derives
    /// the API schema. Any malformed input is an error, never a panic.
    pub fn parse(sdl: &str) -> Result<Self, SupergraphError> {
        let schema = Schema::parse_and_validate(sdl, "supergraph.graphql")
            .map_err(|e| SupergraphError::InvalidSchema(e.errors.to_string()))?;
        let links = links::Links::read(&schema)?;
        let join = links.join.clone().ok_or(SupergraphError::NotASupergraph)?;
        let model = join::read(&schema, &join)?;
        let api = api_schema::build(&schema, &links)?;
        let api_sdl = api.to_string();
        let access = access::AccessRules::read(&schema, &links);
        Ok(Self {
            schema,
            api_schema: api,
            api_sdl,
            join_version: join.version,
            subgraphs: model.subgraphs,
            types: model.types,
            access,
        })
    }

    /// The full supergraph schema, join directives included. The planner walks
    /// this one: key and `@requires` fields may be `@inaccessible` to clients.
    pub fn schema(&self) -> &Valid<Schema> {
        &self.schema
    }

    /// The API schema: what clients validate against and introspect.
    pub fn api_schema(&self) -> &Valid<Schema> {
        &self.api_schema
    }

    /// The API schema printed as SDL.
    pub fn api_sdl(&self) -> &str {
        &self.api_sdl
    }

    /// The join spec version the supergraph links, e.g. `"0.3"`.
    pub fn join_version(&self) -> &str {
        &self.join_version
    }

    /// The subgraphs in `join__Graph` order; a [`SubgraphId`] indexes this slice.
    pub fn subgraphs(&self) -> &[Subgraph] {
        &self.subgraphs
    }

    /// One subgraph by id.
    pub fn subgraph(&self, id: SubgraphId) -> Option<&Subgraph> {
        self.subgraphs.get(id.0)
    }

    /// A subgraph id by its name (as in `@join__graph(name:)`).
    pub fn subgraph_id(&self, name: &str) -> Option<SubgraphId> {
        self.subgraphs
            .iter()
            .position(|s| s.name == name)
            .map(SubgraphId)
    }

    /// Every named type of the supergraph except the join/link machinery.
    pub fn types(&self) -> &IndexMap<String, TypeInfo> {
        &self.types
    }

    /// `@authenticated`, `@requiresScopes` and `@policy`, by field and type.
    pub fn access(&self) -> &access::AccessRules {
        &self.access
    }

    /// One type by name.
    pub fn type_info(&self, name: &str) -> Option<&TypeInfo> {
        self.types.get(name)
    }

    /// Whether an object whose `__typename` is `typename` matches the type
    /// condition `condition` (itself, or an interface/union it belongs to).
    /// Entity fetch `requires` may use an interface as condition.
    pub fn type_condition_matches(&self, condition: &str, typename: &str) -> bool {
        condition == typename || self.schema.is_subtype(condition, typename)
    }

    /// Every progressive `@override` label, sorted, each once.
    pub fn override_labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self
            .types
            .values()
            .flat_map(|t| t.fields.values())
            .flat_map(|f| f.graphs.values())
            .filter_map(|g| g.override_label.clone())
            .collect();
        labels.sort();
        labels.dedup();
        labels
    }
}

#[cfg(test)]
mod tests;
