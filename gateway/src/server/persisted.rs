//! Persisted documents: trusted documents from a manifest (id → document),
//! which clients name by `documentId` (the GraphQL-over-HTTP persisted
//! documents draft) or by APQ hash, and automatic persisted queries (APQ:
//! `extensions.persistedQuery.sha256Hash`, the document sent once with its
//! hash and afterwards by the hash alone). In only-persisted mode nothing but
//! the manifest's documents runs.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{GraphQLRequest, redis::Redis};
use crate::error::{InvalidSetting, RequestError};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PersistedConfig {
    /// Accept automatic persisted queries (ignored in `only_persisted` mode,
    /// where only the manifest's documents run).
    pub apq: bool,
    /// APQ documents kept in this gateway's memory.
    pub apq_capacity: u64,
    /// How long an APQ document stays in Redis, in seconds (0: until evicted).
    pub apq_ttl_secs: u64,
    /// Trusted documents: Apollo's persisted query manifest
    /// (`{"format": "apollo-persisted-query-manifest", "version": 1,
    /// "operations": [{"id", "body", "name", "type"}]}`) or a plain
    /// `{"<id>": "<document>"}` map.
    pub manifest: Option<PathBuf>,
    /// Run only the manifest's documents (by id, hash or identical text);
    /// any other document is refused with `PERSISTED_QUERY_ONLY`.
    pub only_persisted: bool,
    /// Prefix of the APQ keys in Redis.
    pub redis_key_prefix: String,
}

impl Default for PersistedConfig {
    fn default() -> Self {
        Self {
            apq: true,
            apq_capacity: 10_000,
            apq_ttl_secs: 86_400,
            manifest: None,
            only_persisted: false,
            redis_key_prefix: "switchyard:apq".into(),
        }
    }
}

/// A request as sent, before its document is looked up.
#[derive(Debug, Default)]
pub struct Submitted {
    pub query: Option<String>,
    pub operation_name: Option<String>,
    pub variables: Map<String, Value>,
    pub document_id: Option<String>,
    /// `extensions.persistedQuery.sha256Hash`.
    pub apq_hash: Option<String>,
}

impl Submitted {
    /// Reads `documentId` and `extensions.persistedQuery` of a request
    /// (a POST body's members, or GET parameters parsed as JSON).
    pub fn read_persisted(
        &mut self,
        document_id: Option<Value>,
        extensions: Option<Value>,
    ) -> Result<(), RequestError> {
        self.document_id = match document_id {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) if !id.is_empty() => Some(id),
            Some(_) => {
                return Err(RequestError::BadRequest(
                    "`documentId` must be a non-empty string".into(),
                ));
            }
        };
        let persisted = match extensions {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Object(mut extensions)) => extensions.remove("persistedQuery"),
            Some(_) => {
                return Err(RequestError::BadRequest(
                    "`extensions` must be an object".into(),
                ));
            }
        };
        let Some(persisted) = persisted else {
            return Ok(());
        };
        if persisted.get("version").and_then(Value::as_u64) != Some(1) {
            return Err(RequestError::BadRequest(
                "`extensions.persistedQuery.version` must be 1".into(),
            ));
        }
        match persisted.get("sha256Hash") {
            Some(Value::String(hash))
                if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                self.apq_hash = Some(hash.to_ascii_lowercase());
                Ok(())
            }
            _ => Err(RequestError::BadRequest(
                "`extensions.persistedQuery.sha256Hash` must be a SHA-256 in hex".into(),
            )),
        }
    }
}

/// The trusted documents and the APQ store.
pub struct PersistedDocuments {
    config: PersistedConfig,
    /// Manifest documents by id (and by their SHA-256, which APQ clients send).
    by_id: HashMap<String, Arc<str>>,
    /// The manifest's document texts, for a client that sends one in full.
    bodies: HashSet<Arc<str>>,
    apq: moka::sync::Cache<String, Arc<str>>,
    redis: Option<Arc<Redis>>,
}

impl PersistedDocuments {
    pub fn new(
        config: &PersistedConfig,
        redis: Option<Arc<Redis>>,
    ) -> Result<Self, InvalidSetting> {
        let manifest = match &config.manifest {
            Some(path) => read_manifest(path)?,
            None => Vec::new(),
        };
        if config.only_persisted && manifest.is_empty() {
            return Err(InvalidSetting::new(
                "persisted_queries.only_persisted",
                "needs a manifest with at least one document (persisted_queries.manifest)",
            ));
        }
        let mut by_id = HashMap::new();
        let mut bodies = HashSet::new();
        for (id, body) in manifest {
            let body: Arc<str> = body.into();
            by_id.insert(sha256(&body), body.clone());
            by_id.insert(id, body.clone());
            bodies.insert(body);
        }
        Ok(Self {
            config: config.clone(),
            by_id,
            bodies,
            apq: moka::sync::Cache::new(config.apq_capacity),
            redis,
        })
    }

    /// The request with its document, or why there is none to run.
    pub async fn resolve(&self, submitted: Submitted) -> Result<GraphQLRequest, RequestError> {
        let Submitted {
            query,
            operation_name,
            variables,
            document_id,
            apq_hash,
        } = submitted;
        let query = match (query, document_id, apq_hash) {
            (Some(_), Some(_), _) => {
                return Err(RequestError::BadRequest(
                    "send either `query` or `documentId`, not both".into(),
                ));
            }
            (None, Some(id), _) => self.document(&id)?,
            (None, None, Some(hash)) => self.by_hash(&hash).await?,
            (Some(query), None, Some(hash)) => {
                if sha256(&query) != hash {
                    return Err(RequestError::PersistedQueryHashMismatch);
                }
                self.allowed(&query)?;
                if !self.config.only_persisted {
                    if !self.config.apq {
                        return Err(RequestError::PersistedQueryNotSupported);
                    }
                    self.register(hash, &query).await;
                }
                query
            }
            (Some(query), None, None) => {
                self.allowed(&query)?;
                query
            }
            (None, None, None) => return Err(RequestError::BadRequest("missing `query`".into())),
        };
        Ok(GraphQLRequest {
            query,
            operation_name,
            variables,
        })
    }

    /// A manifest document by `documentId` (`sha256:<hash>` prefixes too).
    fn document(&self, id: &str) -> Result<String, RequestError> {
        self.by_id
            .get(id)
            .or_else(|| id.strip_prefix("sha256:").and_then(|h| self.by_id.get(h)))
            .map(|body| body.to_string())
            .ok_or(RequestError::PersistedQueryNotFound)
    }

    async fn by_hash(&self, hash: &str) -> Result<String, RequestError> {
        if let Some(body) = self.by_id.get(hash) {
            return Ok(body.to_string());
        }
        if self.config.only_persisted || !self.config.apq {
            return Err(if self.config.apq || self.config.only_persisted {
                RequestError::PersistedQueryNotFound
            } else {
                RequestError::PersistedQueryNotSupported
            });
        }
        if let Some(body) = self.apq.get(hash) {
            return Ok(body.to_string());
        }
        let Some(redis) = &self.redis else {
            return Err(RequestError::PersistedQueryNotFound);
        };
        match redis.get(&self.redis_key(hash)).await {
            // What Redis holds is checked too: another writer may share it.
            Ok(Some(body)) if sha256(&body) == hash => {
                self.apq.insert(hash.to_owned(), body.as_str().into());
                Ok(body)
            }
            Ok(_) => Err(RequestError::PersistedQueryNotFound),
            Err(e) => {
                tracing::warn!(error = %e, "persisted queries: Redis unavailable");
                Err(RequestError::PersistedQueryNotFound)
            }
        }
    }

    async fn register(&self, hash: String, query: &str) {
        if let Some(redis) = &self.redis {
            let ttl = Duration::from_secs(self.config.apq_ttl_secs);
            if let Err(e) = redis.set(&self.redis_key(&hash), query, ttl).await {
                tracing::warn!(error = %e, "persisted queries: Redis unavailable; kept in memory only");
            }
        }
        self.apq.insert(hash, query.into());
    }

    /// In only-persisted mode, whether a document sent in full is a manifest one.
    fn allowed(&self, query: &str) -> Result<(), RequestError> {
        if self.config.only_persisted && !self.bodies.contains(query) {
            return Err(RequestError::PersistedQueryOnly);
        }
        Ok(())
    }

    fn redis_key(&self, hash: &str) -> String {
        format!("{}:{hash}", self.config.redis_key_prefix)
    }
}

fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Manifest {
    Apollo {
        format: String,
        version: u32,
        operations: Vec<ManifestOperation>,
    },
    Map(HashMap<String, String>),
}

#[derive(Deserialize)]
struct ManifestOperation {
    id: String,
    body: String,
}

/// `(id, document)` pairs of a manifest file.
fn read_manifest(path: &std::path::Path) -> Result<Vec<(String, String)>, InvalidSetting> {
    let setting = "persisted_queries.manifest";
    let text = std::fs::read_to_string(path)
        .map_err(|e| InvalidSetting::new(setting, format!("{}: {e}", path.display())))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|_| {
        InvalidSetting::new(
            setting,
            format!(
                "{}: neither an apollo-persisted-query-manifest nor a {{\"id\": \"document\"}} map",
                path.display()
            ),
        )
    })?;
    match manifest {
        Manifest::Apollo {
            format,
            version,
            operations,
        } => {
            if format != "apollo-persisted-query-manifest" || version != 1 {
                return Err(InvalidSetting::new(
                    setting,
                    format!(
                        "{}: unsupported manifest {format} version {version}",
                        path.display()
                    ),
                ));
            }
            Ok(operations.into_iter().map(|o| (o.id, o.body)).collect())
        }
        Manifest::Map(map) => Ok(map.into_iter().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_lowercase_hex_sha256() {
        assert_eq!(
            sha256("{ __typename }"),
            "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b"
        );
    }
}
