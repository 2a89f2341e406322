//! Operation limits: how deep, wide and decorated one operation may be, and
//! how many tokens its document may have. Checked on the parsed document,
//! before validation and planning, so an over-limit operation costs a parse
//! and one walk, and never reaches a subgraph.

use std::collections::HashMap;

use apollo_compiler::{
    Name,
    ast::{Definition, Document, FragmentDefinition, OperationDefinition, Selection},
    validation::WithErrors,
};
use serde::{Deserialize, Serialize};

/// The `[limits]` section of the gateway configuration. The defaults are far
/// above what real operations need and low enough that a hostile one is
/// refused cheaply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OperationLimits {
    /// Fields nested in one another (a root field alone is depth 1).
    pub max_depth: usize,
    /// Aliased fields.
    pub max_aliases: usize,
    /// Fields of the root selection set (`{ a b }` has 2).
    pub max_root_fields: usize,
    /// Directive applications (`@include`, `@skip`, …) anywhere in the operation.
    pub max_directives: usize,
    /// Tokens of the whole document, as the parser counts them: names,
    /// punctuation and runs of whitespace alike. Parsing stops there.
    pub max_parser_tokens: usize,
}

impl Default for OperationLimits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_aliases: 256,
            max_root_fields: 64,
            max_directives: 256,
            max_parser_tokens: crate::planner::PARSER_TOKEN_LIMIT,
        }
    }
}

/// One limit an operation went over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    /// The setting's name, e.g. `max_depth`.
    pub limit: &'static str,
    pub maximum: usize,
    /// What the operation has, where it is known (the parser stops counting
    /// tokens at the limit).
    pub actual: Option<usize>,
    /// What was counted, e.g. `levels of nested fields`.
    what: &'static str,
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            limit,
            maximum,
            actual,
            what,
        } = self;
        match actual {
            Some(actual) => write!(
                f,
                "{limit} = {maximum} exceeded: the operation has {actual} {what}"
            ),
            None => write!(
                f,
                "{limit} = {maximum} exceeded: the operation has more {what}"
            ),
        }
    }
}

/// What counts against the limits in one selection set, fragments expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    depth: usize,
    /// Fields at this level (the root fields, for an operation's selection set).
    width: usize,
    aliases: usize,
    directives: usize,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.depth = self.depth.max(other.depth);
        self.width = self.width.saturating_add(other.width);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.directives = self.directives.saturating_add(other.directives);
    }
}

impl OperationLimits {
    /// The limits behind a parse that stopped at a parser limit: the token
    /// limit, and the structural limits of the part parsed (a document cut
    /// short at the parser's nesting limit is already over `max_depth`).
    /// Empty for documents that are only malformed.
    pub(crate) fn parse_stopped(
        &self,
        parsed: &WithErrors<Document>,
        operation_name: Option<&str>,
    ) -> Vec<Exceeded> {
        // apollo-compiler tells its limit errors apart only by message.
        let messages: Vec<String> = parsed.errors.iter().map(|d| d.error.to_string()).collect();
        if !messages.iter().any(|m| m.contains("limit reached")) {
            return Vec::new();
        }
        let mut over = Vec::new();
        if messages.iter().any(|m| m.contains("token limit")) {
            over.push(Exceeded {
                limit: "max_parser_tokens",
                maximum: self.max_parser_tokens,
                actual: None,
                what: "tokens",
            });
        }
        over.extend(self.check(&parsed.partial, operation_name));
        over
    }

    /// The limits `operation_name`'s operation in `document` goes over. An
    /// operation that is not there is left to validation to report.
    pub(crate) fn check(&self, document: &Document, operation_name: Option<&str>) -> Vec<Exceeded> {
        let Some(operation) = selected(document, operation_name) else {
            return Vec::new();
        };
        let mut walk = Walk {
            fragments: document
                .definitions
                .iter()
                .filter_map(|d| match d {
                    Definition::FragmentDefinition(f) => Some((f.name.clone(), &**f)),
                    _ => None,
                })
                .collect(),
            done: HashMap::new(),
        };
        let mut counts = walk.selections(&operation.selection_set);
        counts.directives = counts.directives.saturating_add(
            operation.directives.len()
                + operation
                    .variables
                    .iter()
                    .map(|v| v.directives.len())
                    .sum::<usize>(),
        );
        [
            (
                "max_depth",
                "levels of nested fields",
                self.max_depth,
                counts.depth,
            ),
            ("max_aliases", "aliases", self.max_aliases, counts.aliases),
            (
                "max_root_fields",
                "root fields",
                self.max_root_fields,
                counts.width,
            ),
            (
                "max_directives",
                "directives",
                self.max_directives,
                counts.directives,
            ),
        ]
        .into_iter()
        .filter(|&(_, _, maximum, actual)| actual > maximum)
        .map(|(limit, what, maximum, actual)| Exceeded {
            limit,
            maximum,
            actual: Some(actual),
            what,
        })
        .collect()
    }
}

/// The operation a request runs: the named one, or the only one.
fn selected<'a>(document: &'a Document, name: Option<&str>) -> Option<&'a OperationDefinition> {
    let mut operations = document.definitions.iter().filter_map(|d| match d {
        Definition::OperationDefinition(o) => Some(&**o),
        _ => None,
    });
    match name {
        Some(name) => operations.find(|o| o.name.as_deref() == Some(name)),
        None => {
            let first = operations.next();
            operations.next().is_none().then_some(first).flatten()
        }
    }
}

/// Counts selection sets with each fragment counted once and its counts
/// reused at every spread, so a document whose fragments expand exponentially
/// is measured (saturating) in time linear in its size.
struct Walk<'a> {
    fragments: HashMap<Name, &'a FragmentDefinition>,
    /// Fragments counted, or being counted (`None`: a cycle, which validation
    /// rejects; it counts nothing here).
    done: HashMap<Name, Option<Counts>>,
}

impl Walk<'_> {
    fn selections(&mut self, selections: &[Selection]) -> Counts {
        let mut counts = Counts::default();
        for selection in selections {
            match selection {
                Selection::Field(field) => {
                    let below = self.selections(&field.selection_set);
                    counts.add(Counts {
                        depth: below.depth + 1,
                        width: 1,
                        aliases: below.aliases + usize::from(field.alias.is_some()),
                        directives: below.directives.saturating_add(field.directives.len()),
                    });
                }
                Selection::InlineFragment(inline) => {
                    let mut inner = self.selections(&inline.selection_set);
                    inner.directives = inner.directives.saturating_add(inline.directives.len());
                    counts.add(inner);
                }
                Selection::FragmentSpread(spread) => {
                    let mut inner = self.fragment(&spread.fragment_name);
                    inner.directives = inner.directives.saturating_add(spread.directives.len());
                    counts.add(inner);
                }
            }
        }
        counts
    }

    fn fragment(&mut self, name: &Name) -> Counts {
        if let Some(done) = self.done.get(name) {
            return done.unwrap_or_default();
        }
        let Some(fragment) = self.fragments.get(name).copied() else {
            return Counts::default();
        };
        self.done.insert(name.clone(), None);
        let mut counts = self.selections(&fragment.selection_set);
        counts.directives = counts.directives.saturating_add(fragment.directives.len());
        self.done.insert(name.clone(), Some(counts));
        counts
    }
}

#[cfg(test)]
mod tests {
    use apollo_compiler::ast::Document;

    use super::OperationLimits;

    /// The limits `query` exceeds, with every maximum at `max`.
    fn exceeded(query: &str, max: usize) -> Vec<(&'static str, Option<usize>)> {
        let limits = OperationLimits {
            max_depth: max,
            max_aliases: max,
            max_root_fields: max,
            max_directives: max,
            max_parser_tokens: usize::MAX,
        };
        let document = Document::parse(query, "q.graphql").expect("parses");
        limits
            .check(&document, None)
            .into_iter()
            .map(|e| (e.limit, e.actual))
            .collect()
    }

    #[test]
    fn fragments_count_where_they_are_spread() {
        let query = "query Q @a { ...F b: x @c ... @d { y { z } } } fragment F on Query @e { f { g: h @i } }";
        assert_eq!(exceeded(query, 5), []);
        assert_eq!(
            exceeded(query, 1),
            [
                ("max_depth", Some(2)),
                ("max_aliases", Some(2)),
                ("max_root_fields", Some(3)),
                ("max_directives", Some(5)),
            ]
        );
    }

    #[test]
    fn an_exponential_fragment_expansion_is_counted_without_expanding_it() {
        let mut query = String::from("{ ...F0 } fragment F30 on Query { a: x }");
        for n in 0..30 {
            query.push_str(&format!(
                " fragment F{n} on Query {{ ...F{m} ...F{m} }}",
                m = n + 1
            ));
        }
        assert_eq!(
            exceeded(&query, 1_000),
            [
                ("max_aliases", Some(1 << 30)),
                ("max_root_fields", Some(1 << 30))
            ]
        );
    }

    #[test]
    fn cycles_and_unknown_fragments_are_left_to_validation() {
        assert_eq!(
            exceeded(
                "{ ...A ...Nope } fragment A on Query { ...B } fragment B on Query { ...A x }",
                1
            ),
            []
        );
    }

    #[test]
    fn the_named_operation_is_checked() {
        let query = "query Small { a } query Big { a b c }";
        let limits = OperationLimits {
            max_root_fields: 2,
            ..OperationLimits::default()
        };
        let document = Document::parse(query, "q.graphql").expect("parses");
        assert!(limits.check(&document, Some("Small")).is_empty());
        let refused = limits.check(&document, Some("Big"));
        assert_eq!(
            refused[0].to_string(),
            "max_root_fields = 2 exceeded: the operation has 3 root fields"
        );
    }
}
