//! Operations on the response tree being assembled: finding the objects at a
//! plan path, reading representations out of them, and deep-merging subgraph
//! results back in.

use super::value::{Object, Str, Value};
use crate::planner::{PathElement, Selection, SelectionSet};

/// Objects found in the tree, each as the steps from the root to it: an entry
/// index inside an object, an item index inside a list. Entries are only ever
/// appended to objects, so the steps stay valid while other fetches merge in;
/// keeping indexes rather than keys saves a string per step.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    steps: Vec<u32>,
    ends: Vec<u32>,
}

impl Positions {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The steps to the `i`-th object found.
    pub fn get(&self, i: usize) -> &[u32] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.steps[start..self.ends[i] as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u32]> {
        (0..self.len()).map(|i| self.get(i))
    }

    fn push(&mut self, steps: &[u32]) {
        self.steps.extend_from_slice(steps);
        self.ends.push(self.steps.len() as u32);
    }
}

/// Every object found by following `path` from `root` (`@` walks list items);
/// nulls and missing keys along the way are skipped (a parent fetch failed).
pub fn objects_at(root: &Value, path: &[PathElement]) -> Positions {
    let mut out = Positions::default();
    let mut current = Vec::with_capacity(path.len() + 4);
    let mut hints = vec![0; path.len() + 1];
    walk(root, path, &mut current, &mut out, &mut hints);
    out
}

/// `hints[n]`: where the key was found in the last object met with `n` path
/// elements left (list items are alike, so the next one has it there too).
fn walk(
    value: &Value,
    path: &[PathElement],
    current: &mut Vec<u32>,
    out: &mut Positions,
    hints: &mut [usize],
) {
    match (path.first(), value) {
        (None, Value::Object(_)) => out.push(current),
        // Lists nested deeper than the path says (a list of lists) are walked through.
        (None, Value::Array(items)) | (Some(PathElement::List), Value::Array(items)) => {
            let rest = if path.is_empty() { path } else { &path[1..] };
            for (i, item) in items.iter().enumerate() {
                current.push(i as u32);
                walk(item, rest, current, out, hints);
                current.pop();
            }
        }
        (Some(PathElement::Key(key)), Value::Object(object)) => {
            if let Some(at) = object.position_hinted(key, &mut hints[path.len()])
                && let Some((_, child)) = object.entry_at(at)
            {
                current.push(at as u32);
                walk(child, &path[1..], current, out, hints);
                current.pop();
            }
        }
        (Some(PathElement::Key(_)), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                current.push(i as u32);
                walk(item, path, current, out, hints);
                current.pop();
            }
        }
        _ => {}
    }
}

/// Visits the objects [`objects_at`] finds, in the same order, mutably;
/// stops (and returns `false`) as soon as `visit` returns `false`.
pub fn for_each_object_mut(
    root: &mut Value,
    path: &[PathElement],
    visit: &mut dyn FnMut(&mut Value) -> bool,
) -> bool {
    let mut hints = vec![0; path.len() + 1];
    walk_mut(root, path, visit, &mut hints)
}

fn walk_mut(
    value: &mut Value,
    path: &[PathElement],
    visit: &mut dyn FnMut(&mut Value) -> bool,
    hints: &mut [usize],
) -> bool {
    match (path.first(), value) {
        (None, object @ Value::Object(_)) => visit(object),
        (None, Value::Array(items)) | (Some(PathElement::List), Value::Array(items)) => {
            let rest = if path.is_empty() { path } else { &path[1..] };
            items
                .iter_mut()
                .all(|item| walk_mut(item, rest, visit, hints))
        }
        (Some(PathElement::Key(key)), Value::Object(object)) => {
            match object
                .position_hinted(key, &mut hints[path.len()])
                .and_then(|at| object.value_at_mut(at))
            {
                Some(child) => walk_mut(child, &path[1..], visit, hints),
                None => true,
            }
        }
        (Some(PathElement::Key(_)), Value::Array(items)) => items
            .iter_mut()
            .all(|item| walk_mut(item, path, visit, hints)),
        _ => true,
    }
}

pub fn get<'a>(root: &'a Value, position: &[u32]) -> Option<&'a Value> {
    position.iter().try_fold(root, |v, step| match v {
        Value::Object(o) => o.entry_at(*step as usize).map(|(_, v)| v),
        Value::Array(a) => a.get(*step as usize),
        _ => None,
    })
}

pub fn get_mut<'a>(root: &'a mut Value, position: &[u32]) -> Option<&'a mut Value> {
    position.iter().try_fold(root, |v, step| match v {
        Value::Object(o) => o.value_at_mut(*step as usize),
        Value::Array(a) => a.get_mut(*step as usize),
        _ => None,
    })
}

/// The response path of a position (keys and list indexes), for errors.
pub fn response_path(root: &Value, position: &[u32]) -> Vec<serde_json::Value> {
    let mut out = Vec::with_capacity(position.len());
    let mut current = Some(root);
    for step in position {
        current = match current {
            Some(Value::Object(o)) => o.entry_at(*step as usize).map(|(key, value)| {
                out.push(serde_json::Value::String(key.to_owned()));
                value
            }),
            Some(Value::Array(a)) => {
                out.push(serde_json::Value::from(*step));
                a.get(*step as usize)
            }
            _ => None,
        };
    }
    out
}

/// The representation of `object` for an entity fetch: `requires` read out of
/// it, with field names (not aliases) as keys. `None` when a key field is
/// missing (the fetch that owed it failed) or no type condition matches.
/// `matches(condition, typename)` says whether a type condition applies to an
/// object's `__typename` (interfaces included).
pub fn representation(
    object: &Value,
    requires: &SelectionSet,
    typename_overrides: &[(String, String)],
    matches: &dyn Fn(&str, &str) -> bool,
) -> Option<Object> {
    let Value::Object(map) = object else {
        return None;
    };
    let typename = map.get("__typename").and_then(Value::as_str);
    let mut out = Object::with_capacity(4);
    let mut matched = false;
    for selection in &requires.selections {
        match selection {
            Selection::InlineFragment(fragment) => {
                let applies = match (&fragment.type_condition, typename) {
                    (Some(condition), Some(typename)) => matches(condition, typename),
                    _ => true,
                };
                if !applies {
                    continue;
                }
                matched = true;
                select_into(map, &fragment.selection_set.selections, &mut out, matches)?;
                if let Some(condition) = &fragment.type_condition
                    && let Some((_, name)) = typename_overrides.iter().find(|(c, _)| c == condition)
                {
                    out.insert("__typename", Value::String(name.as_str().into()));
                }
            }
            Selection::Field(_) => {
                matched = true;
                select_into(map, std::slice::from_ref(selection), &mut out, matches)?;
            }
        }
    }
    matched.then_some(out)
}

/// The fields of `selection` read out of `object` (each under its response
/// key, written under its name); `None` when one is missing.
pub fn select(object: &Object, selection: &SelectionSet) -> Option<Object> {
    let mut out = Object::with_capacity(selection.selections.len());
    select_into(object, &selection.selections, &mut out, &|_, _| true)?;
    Some(out)
}

fn select_into(
    object: &Object,
    selections: &[Selection],
    out: &mut Object,
    matches: &dyn Fn(&str, &str) -> bool,
) -> Option<()> {
    for s in selections {
        match s {
            Selection::Field(field) => {
                let value = object.get(field.response_key())?;
                let selected = if field.selection_set.is_empty() {
                    value.clone()
                } else {
                    select_value(value, &field.selection_set, matches)?
                };
                out.insert(field.name.as_str(), selected);
            }
            Selection::InlineFragment(fragment) => {
                let typename = object.get("__typename").and_then(Value::as_str);
                let applies = match (&fragment.type_condition, typename) {
                    (Some(condition), Some(typename)) => matches(condition, typename),
                    _ => true,
                };
                if applies {
                    select_into(object, &fragment.selection_set.selections, out, matches)?;
                }
            }
        }
    }
    Some(())
}

fn select_value(
    value: &Value,
    selection: &SelectionSet,
    matches: &dyn Fn(&str, &str) -> bool,
) -> Option<Value> {
    match value {
        Value::Null => Some(Value::Null),
        Value::Array(items) => items
            .iter()
            .map(|v| select_value(v, selection, matches))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = Object::default();
            select_into(map, &selection.selections, &mut out, matches)?;
            Some(Value::Object(out))
        }
        other => Some(other.clone()),
    }
}

/// Merges `source` into `target`: objects key by key, lists item by item. A null
/// never overwrites data another fetch already put there.
pub fn deep_merge(target: &mut Value, source: Value) {
    match (target, source) {
        (Value::Object(t), Value::Object(s)) => {
            if t.is_empty() {
                *t = s;
                return;
            }
            // Lookups scan the entries: fine for the handful of keys a
            // response object has, quadratic for a subgraph that sends
            // thousands. Past a few dozen, index the target first.
            if t.len() + s.len() > LINEAR_MERGE_LIMIT {
                return merge_large(t, s);
            }
            for (key, value) in s {
                match t.get_mut(&key) {
                    Some(existing) => deep_merge(existing, value),
                    None => t.push_unchecked(key, value),
                }
            }
        }
        (Value::Array(t), Value::Array(s)) if t.len() == s.len() => {
            for (t, s) in t.iter_mut().zip(s) {
                deep_merge(t, s);
            }
        }
        (_, Value::Null) => {}
        (t, s) => *t = s,
    }
}

const LINEAR_MERGE_LIMIT: usize = 64;

fn merge_large(target: &mut Object, source: Object) {
    let mut index: std::collections::HashMap<Str, usize, foldhash::fast::RandomState> = target
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (Str::from(k), i))
        .collect();
    for (key, value) in source {
        match index.get(&key) {
            Some(at) => {
                if let Some(existing) = target.value_at_mut(*at) {
                    deep_merge(existing, value);
                }
            }
            None => {
                index.insert(key.clone(), target.len());
                target.push_unchecked(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn value(json: serde_json::Value) -> Value {
        Value::from(json)
    }

    #[test]
    fn finds_objects_through_lists_and_skips_nulls() {
        let data = value(
            json!({ "users": { "edges": [ { "node": { "id": "1" } }, { "node": null }, { "node": { "id": "3" } } ] } }),
        );
        let path = vec![
            PathElement::Key("users".into()),
            PathElement::Key("edges".into()),
            PathElement::List,
            PathElement::Key("node".into()),
        ];
        let found = objects_at(&data, &path);
        assert_eq!(found.len(), 2);
        assert_eq!(
            get(&data, found.get(1)).and_then(|o| o.get("id")),
            Some(&value(json!("3")))
        );
        assert_eq!(
            response_path(&data, found.get(1)),
            vec![json!("users"), json!("edges"), json!(2), json!("node")]
        );
    }

    #[test]
    fn merging_large_objects_matches_key_by_key() {
        let keys = |from: usize, to: usize, tag: &str| -> serde_json::Value {
            (from..to)
                .map(|i| (format!("k{i}"), json!({ tag: i })))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let mut target = value(keys(0, 3_000, "a"));
        deep_merge(&mut target, value(keys(2_000, 5_000, "b")));
        let merged = target.to_json();
        assert_eq!(merged.as_object().map(|o| o.len()), Some(5_000));
        assert_eq!(merged["k1"], json!({ "a": 1 }));
        assert_eq!(merged["k2500"], json!({ "a": 2500, "b": 2500 }));
        assert_eq!(merged["k4999"], json!({ "b": 4999 }));
    }

    #[test]
    fn merging_keeps_existing_data_against_nulls() {
        let mut target = value(json!({ "a": { "b": 1 }, "list": [{ "x": 1 }, { "x": 2 }] }));
        deep_merge(
            &mut target,
            value(json!({ "a": null, "c": 2, "list": [{ "y": 1 }, { "y": 2 }] })),
        );
        assert_eq!(
            target.to_json(),
            json!({ "a": { "b": 1 }, "c": 2, "list": [{ "x": 1, "y": 1 }, { "x": 2, "y": 2 }] })
        );
    }
}
