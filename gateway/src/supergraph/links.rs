//! The specs a supergraph links (`@link` in Federation 2, `@core` in Federation 1)
//! and the local names they give their directives and types, so that renamed
//! machinery (`@link(url: ".../join/v0.3", as: "j")`) is still recognised.

use apollo_compiler::Schema;
use apollo_compiler::ast::Value;

use super::SupergraphError;

/// One linked spec, e.g. `https://specs.apollo.dev/join/v0.3`.
#[derive(Debug, Clone)]
pub(crate) struct Feature {
    /// The spec's own name, from its URL (`join`, `inaccessible`, `link`).
    pub(crate) name: String,
    /// The version, without the `v` (`0.3`).
    pub(crate) version: String,
    /// Local prefix: `as:` or the spec name.
    pub(crate) prefix: String,
    /// Imported elements as (name in the spec, local name), without `@`.
    pub(crate) imports: Vec<(String, String)>,
}

impl Feature {
    /// The local name of the spec's directive `name` (e.g. `type` -> `join__type`).
    pub(crate) fn directive(&self, name: &str) -> String {
        if name == self.name {
            return self.prefix.clone();
        }
        let wanted = format!("@{name}");
        self.imports
            .iter()
            .find(|(original, _)| *original == wanted)
            .map(|(_, local)| local.trim_start_matches('@').to_owned())
            .unwrap_or_else(|| format!("{}__{name}", self.prefix))
    }

    /// The local name of the spec's type `name` (e.g. `Graph` -> `join__Graph`).
    pub(crate) fn type_name(&self, name: &str) -> String {
        self.imports
            .iter()
            .find(|(original, _)| original == name)
            .map(|(_, local)| local.clone())
            .unwrap_or_else(|| format!("{}__{name}", self.prefix))
    }

    fn owns_directive(&self, local: &str) -> bool {
        local == self.prefix
            || local
                .strip_prefix(self.prefix.as_str())
                .is_some_and(|rest| rest.starts_with("__"))
            || self
                .imports
                .iter()
                .any(|(_, l)| l.strip_prefix('@') == Some(local))
    }

    fn owns_type(&self, local: &str) -> bool {
        local
            .strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.starts_with("__"))
            || self.imports.iter().any(|(_, l)| l == local)
    }
}

/// Every spec linked from the schema definition.
#[derive(Debug, Clone, Default)]
pub(crate) struct Links {
    pub(crate) features: Vec<Feature>,
    pub(crate) join: Option<Feature>,
}

impl Links {
    pub(crate) fn read(schema: &Schema) -> Result<Self, SupergraphError> {
        let mut links = Links::default();
        for directive in schema.schema_definition.directives.iter() {
            let url_arg = match directive.name.as_str() {
                "link" => "url",
                "core" => "feature",
                _ => continue,
            };
            let Some(url) = directive
                .specified_argument_by_name(url_arg)
                .and_then(|v| v.as_str())
            else {
                continue;
            };
            let Some((name, version)) = parse_spec_url(url) else {
                continue;
            };
            let prefix = directive
                .specified_argument_by_name("as")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| name.clone());
            let imports = directive
                .specified_argument_by_name("import")
                .and_then(|v| v.as_list())
                .map(|items| items.iter().filter_map(|item| read_import(item)).collect())
                .unwrap_or_default();
            let feature = Feature {
                name,
                version,
                prefix,
                imports,
            };
            if feature.name == "join" {
                if !matches!(
                    feature.version.as_str(),
                    "0.1" | "0.2" | "0.3" | "0.4" | "0.5"
                ) {
                    return Err(SupergraphError::UnsupportedJoinVersion(feature.version));
                }
                links.join = Some(feature.clone());
            }
            links.features.push(feature);
        }
        Ok(links)
    }

    /// Whether a directive (by local name) belongs to a linked spec, or is
    /// `@link`/`@core` itself.
    pub(crate) fn is_machinery_directive(&self, name: &str) -> bool {
        name == "link" || name == "core" || self.features.iter().any(|f| f.owns_directive(name))
    }

    /// Whether a type (by local name) belongs to a linked spec.
    pub(crate) fn is_machinery_type(&self, name: &str) -> bool {
        self.features.iter().any(|f| f.owns_type(name))
    }

    /// The local name of `@inaccessible`, when the supergraph links that spec.
    /// Federation-1 supergraphs used a bare `@inaccessible` without linking it.
    pub(crate) fn inaccessible(&self) -> String {
        self.features
            .iter()
            .find(|f| f.name == "inaccessible")
            .map(|f| f.prefix.clone())
            .unwrap_or_else(|| "inaccessible".to_owned())
    }
}

/// `https://specs.apollo.dev/join/v0.3` -> (`join`, `0.3`).
fn parse_spec_url(url: &str) -> Option<(String, String)> {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let version = segments.next()?.strip_prefix('v')?;
    let name = segments.next()?;
    if name.is_empty() {
        return None;
    }
    Some((name.to_owned(), version.to_owned()))
}

/// `"@key"` or `{ name: "@key", as: "@k" }`.
fn read_import(item: &Value) -> Option<(String, String)> {
    if let Some(name) = item.as_str() {
        return Some((name.to_owned(), name.to_owned()));
    }
    let fields = item.as_object()?;
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_str())
    };
    let name = get("name")?;
    Some((name.to_owned(), get("as").unwrap_or(name).to_owned()))
}
