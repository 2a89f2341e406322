//! Operations on the response tree being assembled: finding the objects at a
//! plan path, reading representations out of them, and deep-merging subgraph
//! results back in.

use serde_json::{Map, Value};

use crate::planner::{PathElement, Selection, SelectionSet};

/// A position in the response: object keys and list indexes from the root.
pub type Position = Vec<PathSegment>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

impl PathSegment {
    pub fn to_json(&self) -> Value {
        match self {
            Self::Key(k) => Value::String(k.clone()),
            Self::Index(i) => Value::from(*i),
        }
    }
}

/// Every object found by following `path` from `root` (`@` walks list items);
/// nulls and missing keys along the way are skipped (a parent fetch failed).
pub fn objects_at(root: &Value, path: &[PathElement]) -> Vec<Position> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    walk(root, path, &mut current, &mut out);
    out
}

fn walk(value: &Value, path: &[PathElement], current: &mut Position, out: &mut Vec<Position>) {
    match (path.first(), value) {
        (None, Value::Object(_)) => out.push(current.clone()),
        // Lists nested deeper than the path says (a list of lists) are walked through.
        (None, Value::Array(items)) | (Some(PathElement::List), Value::Array(items)) => {
            let rest = if path.is_empty() { path } else { &path[1..] };
            for (i, item) in items.iter().enumerate() {
                current.push(PathSegment::Index(i));
                walk(item, rest, current, out);
                current.pop();
            }
        }
        (Some(PathElement::Key(key)), Value::Object(map)) => {
            if let Some(child) = map.get(key) {
                current.push(PathSegment::Key(key.clone()));
                walk(child, &path[1..], current, out);
                current.pop();
            }
        }
        (Some(PathElement::Key(_)), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                current.push(PathSegment::Index(i));
                walk(item, path, current, out);
                current.pop();
            }
        }
        _ => {}
    }
}

pub fn get<'a>(root: &'a Value, position: &[PathSegment]) -> Option<&'a Value> {
    position.iter().try_fold(root, |v, seg| match (seg, v) {
        (PathSegment::Key(k), Value::Object(m)) => m.get(k),
        (PathSegment::Index(i), Value::Array(a)) => a.get(*i),
        _ => None,
    })
}

pub fn get_mut<'a>(root: &'a mut Value, position: &[PathSegment]) -> Option<&'a mut Value> {
    position.iter().try_fold(root, |v, seg| match (seg, v) {
        (PathSegment::Key(k), Value::Object(m)) => m.get_mut(k),
        (PathSegment::Index(i), Value::Array(a)) => a.get_mut(*i),
        _ => None,
    })
}

/// The representation of `object` for an entity fetch: `requires` read out of
/// it, with field names (not aliases) as keys. `None` when a key field is
/// missing (the fetch that owed it failed) or no type condition matches.
/// `matches(condition, typename)` says whether a type condition applies to an
/// object's `__typename` (interfaces included).
pub fn representation(
    object: &Value,
    requires: &SelectionSet,
    typename_overrides: &[String],
    matches: &dyn Fn(&str, &str) -> bool,
) -> Option<Value> {
    let Value::Object(map) = object else {
        return None;
    };
    let typename = map.get("__typename").and_then(Value::as_str);
    let mut out = Map::new();
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
                select_into(map, &fragment.selection_set, &mut out, matches)?;
                if let Some(condition) = &fragment.type_condition
                    && typename_overrides.iter().any(|t| t == condition)
                {
                    out.insert("__typename".into(), Value::String(condition.clone()));
                }
            }
            Selection::Field(_) => {
                matched = true;
                select_into(
                    map,
                    &SelectionSet {
                        selections: vec![selection.clone()],
                    },
                    &mut out,
                    matches,
                )?;
            }
        }
    }
    matched.then_some(Value::Object(out))
}

fn select_into(
    object: &Map<String, Value>,
    selection: &SelectionSet,
    out: &mut Map<String, Value>,
    matches: &dyn Fn(&str, &str) -> bool,
) -> Option<()> {
    for s in &selection.selections {
        match s {
            Selection::Field(field) => {
                let value = object.get(field.response_key())?;
                let selected = if field.selection_set.is_empty() {
                    value.clone()
                } else {
                    select_value(value, &field.selection_set, matches)?
                };
                out.insert(field.name.clone(), selected);
            }
            Selection::InlineFragment(fragment) => {
                let typename = object.get("__typename").and_then(Value::as_str);
                let applies = match (&fragment.type_condition, typename) {
                    (Some(condition), Some(typename)) => matches(condition, typename),
                    _ => true,
                };
                if applies {
                    select_into(object, &fragment.selection_set, out, matches)?;
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
            let mut out = Map::new();
            select_into(map, selection, &mut out, matches)?;
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
            for (key, value) in s {
                match t.get_mut(&key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        t.insert(key, value);
                    }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_objects_through_lists_and_skips_nulls() {
        let data = json!({ "users": { "edges": [ { "node": { "id": "1" } }, { "node": null }, { "node": { "id": "3" } } ] } });
        let path = vec![
            PathElement::Key("users".into()),
            PathElement::Key("edges".into()),
            PathElement::List,
            PathElement::Key("node".into()),
        ];
        let found = objects_at(&data, &path);
        assert_eq!(found.len(), 2);
        assert_eq!(get(&data, &found[1]).unwrap()["id"], "3");
    }

    #[test]
    fn merging_keeps_existing_data_against_nulls() {
        let mut target = json!({ "a": { "b": 1 }, "list": [{ "x": 1 }, { "x": 2 }] });
        deep_merge(
            &mut target,
            json!({ "a": null, "c": 2, "list": [{ "y": 1 }, { "y": 2 }] }),
        );
        assert_eq!(
            target,
            json!({ "a": { "b": 1 }, "c": 2, "list": [{ "x": 1, "y": 1 }, { "x": 2, "y": 2 }] })
        );
    }
}
