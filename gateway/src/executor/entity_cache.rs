//! The gateway's entity cache: `_entities` results kept in memory (moka) per
//! subgraph, type, key and selection, so that hot entities skip the subgraph.
//!
//! - Off unless configured. An entity is kept for the subgraph's
//!   `Cache-Control` `s-maxage`/`max-age`, else its type's `ttl_secs`, else
//!   `default_ttl_secs`; never when the subgraph says `no-store`/`no-cache`.
//! - Private data (`Cache-Control: private`, or a type marked `private`) is
//!   kept per client: the values of `private_key_headers` are part of its key,
//!   and it is neither kept nor served for a request without any of them.
//! - One moka entry per entity (type + key fields), holding a variant per
//!   subgraph selection and private scope: a mutation that returns an entity,
//!   or an operator's purge, evicts every variant at once. A fetch that was in
//!   flight when its entity was evicted does not put its (older) answer back.

use std::{
    collections::{BTreeMap, HashMap},
    hash::{BuildHasher, Hash, Hasher},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use metrics::Counter;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::{
    json,
    value::{Object, Str, Value},
};
use crate::{
    planner::{EntityKeys, SelectionSet},
    supergraph::SubgraphId,
};

/// Most variants (selections × private scopes) kept for one entity; the
/// oldest goes first.
const MAX_VARIANTS: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EntityCacheConfig {
    /// Cache `_entities` results at all (off by default).
    pub enabled: bool,
    /// Entities kept in memory (each with its variants).
    pub max_entries: u64,
    /// TTL when neither the subgraph (`Cache-Control: max-age`) nor the
    /// type's `ttl_secs` gives one; unset: such entities are not cached.
    pub default_ttl_secs: Option<u64>,
    /// Upper bound of every TTL, a subgraph's `max-age` included.
    pub max_ttl_secs: u64,
    /// Request headers whose values key private data; without any, private
    /// data is not cached.
    pub private_key_headers: Vec<String>,
    /// Per-type settings, by type name (matched without regard to case, as
    /// environment variables are lower-cased).
    pub types: BTreeMap<String, TypeCacheConfig>,
    /// Bearer token of `POST /cache/purge`; the endpoint is off without one.
    pub purge_token: Option<String>,
}

impl Default for EntityCacheConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_entries: 100_000,
            default_ttl_secs: None,
            max_ttl_secs: 3_600,
            private_key_headers: Vec::new(),
            types: BTreeMap::new(),
            purge_token: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TypeCacheConfig {
    /// `false` keeps this type out of the cache whatever subgraphs say.
    pub enabled: bool,
    /// TTL when the subgraph sends no `max-age`.
    pub ttl_secs: Option<u64>,
    /// Treat as private (per client) even when the subgraph does not say so.
    pub private: bool,
}

impl Default for TypeCacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ttl_secs: None,
            private: false,
        }
    }
}

/// Lookups hash every entity a response holds: moka's default SipHash was a
/// visible share of a cached request's time.
type KeyHasher = foldhash::fast::RandomState;

/// An entity: its type and its key fields as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityId {
    pub typename: Str,
    pub key: Box<[u8]>,
}

#[derive(Debug)]
struct Variant {
    /// Subgraph, fetch selection and the whole representation, hashed.
    selection: u64,
    /// Set for private data: whose it is.
    scope: Option<u64>,
    expires: Instant,
    value: Value,
}

/// How long an entity from one response may be kept, and whether it is private.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub ttl: Duration,
    pub private: bool,
}

pub struct EntityCache {
    config: EntityCacheConfig,
    types: HashMap<String, TypeCacheConfig>,
    keys: EntityKeys,
    entries: moka::sync::Cache<EntityId, Arc<Vec<Variant>>, KeyHasher>,
    /// Entities evicted lately, with the epoch of their eviction: kept as
    /// long as a fetch may be in flight.
    evicted: moka::sync::Cache<EntityId, u64, KeyHasher>,
    epoch: AtomicU64,
    /// The epoch of the last purge of a whole type or of everything.
    purged: AtomicU64,
    hasher: std::hash::RandomState,
    evictions: Counter,
}

impl EntityCache {
    /// `in_flight_bound`: the longest a subgraph fetch may take (timeouts).
    /// `in_flight_bound`: the longest a subgraph fetch may take (timeouts);
    /// `evictions` counts entities evicted by mutations and purges.
    pub fn new(
        config: EntityCacheConfig,
        keys: EntityKeys,
        in_flight_bound: Duration,
        evictions: Counter,
    ) -> Self {
        let types = config
            .types
            .iter()
            .map(|(name, t)| (name.to_ascii_lowercase(), t.clone()))
            .collect();
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_live(Duration::from_secs(config.max_ttl_secs.max(1)))
            .support_invalidation_closures()
            .build_with_hasher(KeyHasher::default());
        let evicted = moka::sync::Cache::builder()
            .max_capacity(config.max_entries.max(1_000))
            .time_to_live(in_flight_bound + Duration::from_secs(1))
            .build_with_hasher(KeyHasher::default());
        Self {
            config,
            types,
            keys,
            entries,
            evicted,
            epoch: AtomicU64::new(0),
            purged: AtomicU64::new(0),
            hasher: std::hash::RandomState::new(),
            evictions,
        }
    }

    fn type_config(&self, typename: &str) -> Option<&TypeCacheConfig> {
        self.types.get(typename).or_else(|| {
            if typename.bytes().any(|b| b.is_ascii_uppercase()) {
                self.types.get(&typename.to_ascii_lowercase())
            } else {
                None
            }
        })
    }

    /// Whether entities of this type may be cached at all.
    pub fn caches(&self, typename: &str) -> bool {
        self.keys.contains_key(typename) && self.type_config(typename).is_none_or(|t| t.enabled)
    }

    /// The private scope of a request: a hash of its `private_key_headers`,
    /// `None` when it has none of them.
    pub fn scope(&self, headers: &HeaderMap) -> Option<u64> {
        let mut hasher = self.hasher.build_hasher();
        let mut any = false;
        for name in &self.config.private_key_headers {
            for value in headers.get_all(name.as_str()) {
                any = true;
                name.hash(&mut hasher);
                value.as_bytes().hash(&mut hasher);
            }
        }
        any.then(|| hasher.finish())
    }

    /// The current epoch, taken before a fetch: what it brings back is kept
    /// only for entities not evicted since.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The entity a representation sent to `subgraph` stands for.
    pub fn identity(&self, rep: &Object, subgraph: SubgraphId) -> Option<EntityId> {
        let typename = rep.get("__typename")?.as_str()?;
        let keys = self.keys.get(typename)?;
        keys.iter()
            .filter(|(graph, _)| *graph == subgraph)
            .find_map(|(_, key)| key_text(rep, key))
            .map(|key| EntityId {
                typename: typename.into(),
                key,
            })
    }

    /// What one fetch's variants have in common: its subgraph and selection
    /// (hashed once per fetch, not per entity).
    pub fn fetch_seed(&self, subgraph: SubgraphId, operation: &str) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        subgraph.0.hash(&mut hasher);
        operation.hash(&mut hasher);
        hasher.finish()
    }

    /// The variant of an entity one fetch asks for with `representation`.
    pub fn selection(&self, fetch_seed: u64, representation: &[u8]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        fetch_seed.hash(&mut hasher);
        representation.hash(&mut hasher);
        hasher.finish()
    }

    /// The variant if it is cached, fresh at `now`, and visible to `scope`.
    pub fn get(
        &self,
        id: &EntityId,
        selection: u64,
        scope: Option<u64>,
        now: Instant,
    ) -> Option<Value> {
        let variants = self.entries.get(id)?;
        variants
            .iter()
            .find(|v| {
                v.selection == selection
                    && v.expires > now
                    && (v.scope.is_none() || v.scope == scope)
            })
            .map(|v| v.value.clone())
    }

    /// How long entities of `typename` from a response with this
    /// `Cache-Control` may be kept; `None`: not at all.
    pub fn policy(&self, typename: &str, cache_control: Option<&HeaderValue>) -> Option<Policy> {
        if !self.config.enabled {
            return None;
        }
        let type_config = self.type_config(typename);
        if type_config.is_some_and(|t| !t.enabled) {
            return None;
        }
        let directives = CacheControl::parse(cache_control);
        if directives.no_store {
            return None;
        }
        let private = directives.private || type_config.is_some_and(|t| t.private);
        if private && self.config.private_key_headers.is_empty() {
            return None;
        }
        let seconds = directives
            .max_age
            .or_else(|| type_config.and_then(|t| t.ttl_secs))
            .or(self.config.default_ttl_secs)?
            .min(self.config.max_ttl_secs);
        (seconds > 0).then(|| Policy {
            ttl: Duration::from_secs(seconds),
            private,
        })
    }

    /// Keeps `value` unless the entity was evicted after `epoch`; private
    /// data only with a scope.
    pub fn insert(
        &self,
        id: EntityId,
        selection: u64,
        scope: Option<u64>,
        policy: Policy,
        epoch: u64,
        value: Value,
    ) {
        if policy.private && scope.is_none() {
            return;
        }
        if self.purged.load(Ordering::Acquire) > epoch
            || self.evicted.get(&id).is_some_and(|at| at > epoch)
        {
            return;
        }
        let scope = if policy.private { scope } else { None };
        let now = Instant::now();
        let mut variants: Vec<Variant> = Vec::new();
        if let Some(existing) = self.entries.get(&id) {
            for v in existing.iter() {
                if v.expires > now && !(v.selection == selection && v.scope == scope) {
                    variants.push(Variant {
                        selection: v.selection,
                        scope: v.scope,
                        expires: v.expires,
                        value: v.value.clone(),
                    });
                }
            }
        }
        if variants.len() >= MAX_VARIANTS {
            variants.remove(0);
        }
        variants.push(Variant {
            selection,
            scope,
            expires: now + policy.ttl,
            value,
        });
        self.entries.insert(id, Arc::new(variants));
    }

    /// Evicts one entity (every subgraph's variants) and keeps fetches in
    /// flight from putting it back.
    pub fn evict(&self, id: EntityId) {
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        self.entries.invalidate(&id);
        self.evicted.insert(id, epoch);
        self.evictions.increment(1);
    }

    /// Evicts the entity that `object` (with `__typename` and key fields) is,
    /// under each of its keys; the number of identities evicted.
    pub fn evict_object(&self, object: &Object) -> usize {
        let Some(typename) = object.get("__typename").and_then(Value::as_str) else {
            return 0;
        };
        let Some(keys) = self.keys.get(typename) else {
            return 0;
        };
        let mut seen: Vec<Box<[u8]>> = Vec::new();
        for (_, key) in keys {
            if let Some(text) = key_text(object, key)
                && !seen.contains(&text)
            {
                seen.push(text.clone());
                self.evict(EntityId {
                    typename: typename.into(),
                    key: text,
                });
            }
        }
        seen.len()
    }

    /// Evicts every entity found anywhere in `data` (a mutation's result).
    pub fn evict_all_in(&self, data: &Value) -> usize {
        match data {
            Value::Object(object) => {
                self.evict_object(object)
                    + object
                        .iter()
                        .map(|(_, v)| self.evict_all_in(v))
                        .sum::<usize>()
            }
            Value::Array(items) => items.iter().map(|v| self.evict_all_in(v)).sum(),
            _ => 0,
        }
    }

    /// Drops every entity of one type.
    pub fn purge_type(&self, typename: &str) {
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        self.purged.store(epoch, Ordering::Release);
        let typename = typename.to_owned();
        // Only fails when closures are not supported, which `new` turns on.
        let _ = self
            .entries
            .invalidate_entries_if(move |id, _| id.typename == typename);
    }

    /// Drops everything.
    pub fn purge_all(&self) {
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        self.purged.store(epoch, Ordering::Release);
        self.entries.invalidate_all();
    }
}

/// The key fields of `object` as JSON text (the identity of an entity), or
/// `None` when one of them is missing.
fn key_text(object: &Object, key: &SelectionSet) -> Option<Box<[u8]>> {
    let fields = json::select(object, key)?;
    let mut text = Vec::with_capacity(32);
    fields.write_json(&mut text);
    Some(text.into_boxed_slice())
}

/// The `Cache-Control` directives the cache obeys.
#[derive(Debug, Default, PartialEq, Eq)]
struct CacheControl {
    max_age: Option<u64>,
    private: bool,
    no_store: bool,
}

impl CacheControl {
    fn parse(header: Option<&HeaderValue>) -> Self {
        let mut out = Self::default();
        let Some(text) = header.and_then(|h| h.to_str().ok()) else {
            return out;
        };
        let mut max_age = None;
        let mut s_maxage = None;
        for directive in text.split(',') {
            let directive = directive.trim();
            let (name, value) = directive
                .split_once('=')
                .map_or((directive, None), |(n, v)| {
                    (n.trim(), Some(v.trim().trim_matches('"')))
                });
            match name.to_ascii_lowercase().as_str() {
                "max-age" => max_age = value.and_then(|v| v.parse().ok()),
                "s-maxage" => s_maxage = value.and_then(|v| v.parse().ok()),
                "private" => out.private = true,
                "no-store" | "no-cache" => out.no_store = true,
                _ => {}
            }
        }
        // The gateway is a shared cache: `s-maxage` is meant for it.
        out.max_age = s_maxage.or(max_age);
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::planner::{Field, Selection};

    fn id_key() -> SelectionSet {
        SelectionSet {
            selections: vec![Selection::Field(Field {
                alias: None,
                name: "id".into(),
                arguments: Vec::new(),
                conditions: Default::default(),
                selection_set: SelectionSet::default(),
            })],
        }
    }

    fn cache(config: EntityCacheConfig) -> EntityCache {
        let mut keys = EntityKeys::new();
        keys.insert("User".into(), vec![(SubgraphId(0), id_key())]);
        EntityCache::new(config, keys, Duration::from_secs(1), Counter::noop())
    }

    fn object(value: serde_json::Value) -> Object {
        match Value::from(value) {
            Value::Object(o) => o,
            _ => unreachable!("an object"),
        }
    }

    fn enabled() -> EntityCacheConfig {
        EntityCacheConfig {
            enabled: true,
            ..EntityCacheConfig::default()
        }
    }

    /// Inserts `value` as variant `selection` of `id`, fetched at `epoch`.
    fn put(
        cache: &EntityCache,
        id: &EntityId,
        selection: u64,
        scope: Option<u64>,
        policy: Policy,
        epoch: u64,
        value: serde_json::Value,
    ) {
        cache.insert(
            id.clone(),
            selection,
            scope,
            policy,
            epoch,
            Value::from(value),
        );
    }

    #[test]
    fn ttl_comes_from_the_subgraph_then_the_type_then_the_default() {
        let mut config = enabled();
        config.types.insert(
            "User".into(),
            TypeCacheConfig {
                ttl_secs: Some(30),
                ..TypeCacheConfig::default()
            },
        );
        config.default_ttl_secs = Some(5);
        config.max_ttl_secs = 100;
        let cache = cache(config);
        let header = |s: &'static str| HeaderValue::from_static(s);
        let ttl =
            |t: &str, h: Option<HeaderValue>| cache.policy(t, h.as_ref()).map(|p| p.ttl.as_secs());
        assert_eq!(ttl("User", Some(header("public, max-age=60"))), Some(60));
        assert_eq!(ttl("User", Some(header("max-age=60, s-maxage=7"))), Some(7));
        assert_eq!(ttl("User", Some(header("max-age=9999"))), Some(100));
        assert_eq!(ttl("User", None), Some(30));
        assert_eq!(ttl("Order", None), Some(5));
        assert_eq!(ttl("User", Some(header("no-store"))), None);
        assert_eq!(ttl("User", Some(header("max-age=0"))), None);
        // Private without private key headers: never cached.
        assert_eq!(ttl("User", Some(header("private, max-age=60"))), None);
        // Off unless enabled.
        assert_eq!(
            self::cache(EntityCacheConfig::default()).policy("User", None),
            None
        );
    }

    #[test]
    fn private_entries_are_served_only_to_their_scope() {
        let mut config = enabled();
        config.private_key_headers = vec!["authorization".into()];
        let cache = cache(config);
        let mut alice = HeaderMap::new();
        alice.insert("authorization", HeaderValue::from_static("Bearer alice"));
        let mut bob = HeaderMap::new();
        bob.insert("authorization", HeaderValue::from_static("Bearer bob"));
        let (alice, bob) = (cache.scope(&alice), cache.scope(&bob));
        assert!(alice.is_some() && alice != bob);
        assert_eq!(cache.scope(&HeaderMap::new()), None);

        let rep = object(json!({ "__typename": "User", "id": "1" }));
        let id = cache.identity(&rep, SubgraphId(0)).expect("identity");
        let policy = Policy {
            ttl: Duration::from_secs(60),
            private: true,
        };
        put(
            &cache,
            &id,
            7,
            alice,
            policy,
            cache.epoch(),
            json!({ "secret": "a" }),
        );
        assert!(cache.get(&id, 7, alice, Instant::now()).is_some());
        assert!(cache.get(&id, 7, bob, Instant::now()).is_none());
        assert!(cache.get(&id, 7, None, Instant::now()).is_none());
        assert!(
            cache.get(&id, 8, alice, Instant::now()).is_none(),
            "another selection"
        );
        // No scope: private data is not kept at all.
        let before = cache.get(&id, 9, None, Instant::now());
        cache.insert(id.clone(), 9, None, policy, cache.epoch(), Value::Null);
        assert_eq!(cache.get(&id, 9, None, Instant::now()), before);
    }

    #[test]
    fn eviction_drops_every_variant_and_stops_stale_reinserts() {
        let cache = cache(enabled());
        let rep = object(json!({ "__typename": "User", "id": "1", "extra": 1 }));
        let id = cache.identity(&rep, SubgraphId(0)).expect("identity");
        assert_eq!(&*id.key, br#"{"id":"1"}"#);
        let policy = Policy {
            ttl: Duration::from_secs(60),
            private: false,
        };
        let before = cache.epoch();
        put(&cache, &id, 1, None, policy, before, json!({ "name": "A" }));
        put(&cache, &id, 2, None, policy, before, json!({ "age": 3 }));
        assert!(
            cache.get(&id, 1, None, Instant::now()).is_some()
                && cache.get(&id, 2, None, Instant::now()).is_some()
        );

        let evicted = cache.evict_all_in(&Value::from(
            json!({ "updateUser": { "__typename": "User", "id": "1", "name": "B" } }),
        ));
        assert_eq!(evicted, 1);
        assert!(
            cache.get(&id, 1, None, Instant::now()).is_none()
                && cache.get(&id, 2, None, Instant::now()).is_none()
        );
        // A fetch that started before the eviction does not put its answer back…
        put(&cache, &id, 1, None, policy, before, json!({ "name": "A" }));
        assert!(cache.get(&id, 1, None, Instant::now()).is_none());
        // …one that started after does.
        put(
            &cache,
            &id,
            1,
            None,
            policy,
            cache.epoch(),
            json!({ "name": "B" }),
        );
        assert!(cache.get(&id, 1, None, Instant::now()).is_some());
        cache.purge_type("User");
        assert!(cache.get(&id, 1, None, Instant::now()).is_none());
        // Nor does a fetch from before a purge.
        put(&cache, &id, 1, None, policy, before, json!({ "name": "A" }));
        assert!(cache.get(&id, 1, None, Instant::now()).is_none());
    }
}
