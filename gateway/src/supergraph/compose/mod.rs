//! Composition: subgraph SDLs (Federation 2 with `@link`, or Federation 1 with
//! `extend type`/`@extends`) merged into a supergraph SDL in the standard
//! format (`@link` join v0.3+, `join__Graph`, `@join__type`, `@join__field`...),
//! so the gateway can run from live subgraphs without a second toolchain.
//!
//! `subgraph` reads one SDL, `fieldset` checks `@key`/`@requires`/`@provides`
//! selections, `merge` applies the merge rules and `print` writes the SDL.

mod fieldset;
mod merge;
mod print;
mod subgraph;

/// The access control reader joins requirements the way composition does.
pub(crate) use merge::merge_groups;

/// One subgraph to compose: its name (as in `@join__graph(name:)`), the URL
/// the gateway will fetch from, and its SDL as `_service { sdl }` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphInput {
    pub name: String,
    pub url: String,
    pub sdl: String,
}

/// Why a set of subgraphs does not compose. Each message names the subgraphs,
/// types and fields involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("no subgraphs to compose")]
    NoSubgraphs,
    #[error("subgraph `{subgraph}`: {message}")]
    InvalidSdl { subgraph: String, message: String },
    #[error("subgraphs `{first}` and `{second}` map to the same join__Graph value")]
    DuplicateSubgraph { first: String, second: String },
    #[error("type `{type_name}` has different kinds: {kinds}")]
    KindMismatch { type_name: String, kinds: String },
    #[error("field `{coordinate}` has incompatible types: {types}")]
    FieldTypeMismatch { coordinate: String, types: String },
    #[error(
        "field `{coordinate}` is resolved by several subgraphs ({}) but is not @shareable in all of them",
        list(.subgraphs)
    )]
    NonShareable {
        coordinate: String,
        subgraphs: Vec<String>,
    },
    #[error(
        "field `{coordinate}` is @external in every subgraph that defines it ({}): none resolves it",
        list(.subgraphs)
    )]
    ExternalEverywhere {
        coordinate: String,
        subgraphs: Vec<String>,
    },
    #[error(
        "subgraph `{subgraph}`: {directive}(fields: \"{fields}\") on `{coordinate}` is invalid: {reason}"
    )]
    InvalidFieldSet {
        subgraph: String,
        coordinate: String,
        directive: &'static str,
        fields: String,
        reason: String,
    },
    #[error(
        "subgraph `{subgraph}`: field `{coordinate}` is @external but no @key, @requires, @provides or interface uses it"
    )]
    UnusedExternal {
        subgraph: String,
        coordinate: String,
    },
    #[error(
        "`{coordinate}` is required in subgraph `{required_in}` but missing in {}",
        list(.missing_in)
    )]
    RequiredMissing {
        coordinate: String,
        required_in: String,
        missing_in: Vec<String>,
    },
    #[error(
        "enum `{enum_name}` is used as input and output, but value `{value}` is defined in {} and missing in {}",
        list(.defined_in), list(.missing_in)
    )]
    EnumMismatch {
        enum_name: String,
        value: String,
        defined_in: Vec<String>,
        missing_in: Vec<String>,
    },
    #[error(
        "field `{coordinate}` cannot be reached: the subgraphs resolving it ({}) cannot be entered at its type (no path from a root field, no resolvable @key whose fields another subgraph can send)",
        list(.subgraphs)
    )]
    Unreachable {
        coordinate: String,
        subgraphs: Vec<String>,
    },
    /// A safety net: the merged schema breaks a GraphQL rule that no check
    /// above caught, most often because a subgraph itself is not valid.
    #[error("the composed supergraph is not a valid schema: {0}")]
    InvalidSupergraph(String),
    #[error("{} composition errors:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ComposeError>),
}

/// Subgraph names quoted for a message: `a`, `b`.
fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ComposeError {
    /// The individual errors, flattening [`ComposeError::Several`].
    pub fn errors(&self) -> Vec<&ComposeError> {
        match self {
            ComposeError::Several(all) => all.iter().collect(),
            one => vec![one],
        }
    }
}

/// Composes subgraph SDLs into a supergraph SDL. Subgraphs are ordered by name
/// in `join__Graph`, as other composers do, so the output does not depend on
/// the order given.
pub fn compose(subgraphs: &[SubgraphInput]) -> Result<String, ComposeError> {
    if subgraphs.is_empty() {
        return Err(ComposeError::NoSubgraphs);
    }
    let mut read = Vec::new();
    let mut errors = Vec::new();
    for s in subgraphs {
        match subgraph::read(&s.name, &s.url, &s.sdl) {
            Ok(g) => read.push(g),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        match merge::merge(read) {
            Ok(merged) => {
                let sdl = print::print(&merged);
                apollo_compiler::Schema::parse_and_validate(&sdl, "supergraph.graphql")
                    .map_err(|e| ComposeError::InvalidSupergraph(e.errors.to_string()))?;
                return Ok(sdl);
            }
            Err(e) => errors = e,
        }
    }
    if errors.len() == 1 {
        Err(errors.remove(0))
    } else {
        Err(ComposeError::Several(errors))
    }
}

#[cfg(test)]
mod tests;
