//! Field sets (`@key`, `@requires`, `@provides`): parsed with apollo-compiler as
//! a selection set, checked against the subgraph that wrote them, and printed in
//! the compact form composed supergraphs use (`dimensions{size unit}`).

use apollo_compiler::ast::{self, Definition, Selection};

use super::subgraph::{Kind, Subgraph};

/// Which directive a field set belongs to: decides what the check demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Usage {
    Key,
    Requires,
    Provides,
}

impl Usage {
    pub(super) fn directive(self) -> &'static str {
        match self {
            Usage::Key => "@key",
            Usage::Requires => "@requires",
            Usage::Provides => "@provides",
        }
    }
}

fn parse(fields: &str) -> Result<Vec<Selection>, String> {
    let document = ast::Document::parse(format!("{{{fields}}}"), "fieldset.graphql")
        .map_err(|e| format!("not a selection set: {}", e.errors))?;
    for definition in document.definitions {
        if let Definition::OperationDefinition(op) = definition {
            return Ok(op.selection_set.clone());
        }
    }
    Err("empty field set".to_owned())
}

/// The compact printing of a field set, or why it does not parse.
pub(super) fn normalize(fields: &str) -> Result<String, String> {
    let selections = parse(fields)?;
    let mut out = String::new();
    print(&selections, &mut out);
    Ok(out)
}

fn print(selections: &[Selection], out: &mut String) {
    for (i, selection) in selections.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match selection {
            Selection::Field(f) => {
                if let Some(alias) = &f.alias {
                    out.push_str(alias);
                    out.push(':');
                }
                out.push_str(&f.name);
                if !f.arguments.is_empty() {
                    out.push('(');
                    for (j, arg) in f.arguments.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        out.push_str(&arg.name);
                        out.push(':');
                        out.push_str(&arg.value.to_string());
                    }
                    out.push(')');
                }
                if !f.selection_set.is_empty() {
                    out.push('{');
                    print(&f.selection_set, out);
                    out.push('}');
                }
            }
            Selection::InlineFragment(f) => {
                out.push_str("...");
                if let Some(t) = &f.type_condition {
                    out.push_str(" on ");
                    out.push_str(t);
                }
                out.push('{');
                print(&f.selection_set, out);
                out.push('}');
            }
            Selection::FragmentSpread(f) => {
                out.push_str("...");
                out.push_str(&f.fragment_name);
            }
        }
    }
}

/// Every (type, field) a field set selects, nested ones included, as the
/// subgraph that wrote it types them; unknown parts are skipped.
pub(super) fn coordinates(
    subgraph: &Subgraph,
    type_name: &str,
    fields: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(selections) = parse(fields) {
        collect(subgraph, type_name, &selections, &mut out);
    }
    out
}

fn collect(
    subgraph: &Subgraph,
    type_name: &str,
    selections: &[Selection],
    out: &mut Vec<(String, String)>,
) {
    for selection in selections {
        match selection {
            Selection::Field(f) => {
                out.push((type_name.to_owned(), f.name.to_string()));
                let inner = subgraph
                    .types
                    .get(type_name)
                    .and_then(|t| t.fields.get(&f.name))
                    .map(|field| field.ty.inner_named_type().to_string());
                if let Some(inner) = inner {
                    collect(subgraph, &inner, &f.selection_set, out);
                }
            }
            Selection::InlineFragment(f) => {
                let target = f.type_condition.as_ref().map_or(type_name, |t| t.as_str());
                collect(subgraph, target, &f.selection_set, out);
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Checks a field set written on `type_name` in `subgraph`: every field exists,
/// composite fields have a selection, and for `@requires`/`@provides` the
/// selected fields are `@external` there (Federation 2 rules).
pub(super) fn check(
    subgraph: &Subgraph,
    type_name: &str,
    fields: &str,
    usage: Usage,
) -> Result<(), String> {
    let selections = parse(fields)?;
    check_level(subgraph, type_name, &selections, usage, true)
}

fn check_level(
    subgraph: &Subgraph,
    type_name: &str,
    selections: &[Selection],
    usage: Usage,
    top: bool,
) -> Result<(), String> {
    let ty = subgraph
        .types
        .get(type_name)
        .ok_or_else(|| format!("type `{type_name}` is not defined in this subgraph"))?;
    for selection in selections {
        match selection {
            Selection::Field(f) => {
                if f.name == "__typename" {
                    continue;
                }
                let Some(field) = ty.fields.get(&f.name) else {
                    return Err(format!(
                        "field `{type_name}.{}` does not exist in this subgraph",
                        f.name
                    ));
                };
                let must_be_external = usage != Usage::Key && top;
                // A key field used in @provides is fine: the subgraph resolves it.
                let is_key_field = ty.keys.iter().any(|k| {
                    super::subgraph::top_level_names(&k.fields)
                        .iter()
                        .any(|n| n == f.name.as_str())
                });
                if must_be_external
                    && !field.external
                    && !(usage == Usage::Provides && is_key_field)
                {
                    return Err(format!(
                        "field `{type_name}.{}` is not marked @external",
                        f.name
                    ));
                }
                let inner = field.ty.inner_named_type();
                let composite = subgraph.types.get(inner).is_some_and(|t| {
                    matches!(t.kind, Kind::Object | Kind::Interface | Kind::Union)
                });
                if composite && f.selection_set.is_empty() {
                    return Err(format!(
                        "field `{type_name}.{}` is composite and needs a selection",
                        f.name
                    ));
                }
                if !composite && !f.selection_set.is_empty() {
                    return Err(format!(
                        "field `{type_name}.{}` is a leaf and takes no selection",
                        f.name
                    ));
                }
                if composite {
                    check_level(subgraph, inner, &f.selection_set, usage, false)?;
                }
            }
            Selection::InlineFragment(f) => {
                let target = f.type_condition.as_ref().map_or(type_name, |t| t.as_str());
                check_level(subgraph, target, &f.selection_set, usage, top)?;
            }
            Selection::FragmentSpread(_) => {
                return Err("named fragments are not allowed in a field set".to_owned());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_composed_supergraphs() {
        assert_eq!(
            normalize("dimensions { size unit }").unwrap(),
            "dimensions{size unit}"
        );
        assert_eq!(
            normalize("convertedPrice(currency: \"EUR\")").unwrap(),
            "convertedPrice(currency:\"EUR\")"
        );
    }
}
