//! Cursor connections shared by every subgraph: argument checks, opaque cursors,
//! and the `PageInfo` type (shareable, since every subgraph defines it).

use async_graphql::SimpleObject;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::ApiError;

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;
const CURSOR_PREFIX: &str = "cursor:";

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
#[graphql(shareable)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// Validated `first`/`after`: rows with an id greater than `after_id`, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageArgs {
    pub limit: i64,
    pub after_id: i32,
}

impl PageArgs {
    pub fn parse(first: Option<i32>, after: Option<&str>) -> Result<Self, ApiError> {
        let limit = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if (0..=MAX_PAGE_SIZE as i32).contains(&n) => i64::from(n),
            Some(n) => {
                return Err(ApiError::BadUserInput(format!(
                    "`first` must be between 0 and {MAX_PAGE_SIZE}, got {n}"
                )));
            }
        };
        let after_id = match after {
            None => 0,
            Some(cursor) => decode_cursor(cursor)?,
        };
        Ok(Self { limit, after_id })
    }
}

pub fn encode_cursor(id: i32) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{id}"))
}

pub fn decode_cursor(cursor: &str) -> Result<i32, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|s| s.strip_prefix(CURSOR_PREFIX)?.parse::<i32>().ok())
        .filter(|id| *id >= 0)
        .ok_or_else(|| ApiError::BadUserInput(format!("invalid cursor `{cursor}`")))
}

/// Cuts a page out of `rows` fetched with `limit + 1` (the extra row tells whether
/// another page follows) and builds the edges with `edge(cursor, row)`.
pub fn page<R, E>(
    mut rows: Vec<R>,
    limit: i64,
    id: impl Fn(&R) -> i32,
    edge: impl Fn(String, R) -> E,
) -> (Vec<E>, PageInfo) {
    let has_next_page = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let end_cursor = rows.last().map(|r| encode_cursor(id(r)));
    let edges = rows
        .into_iter()
        .map(|r| edge(encode_cursor(id(&r)), r))
        .collect();
    (
        edges,
        PageInfo {
            has_next_page,
            end_cursor,
        },
    )
}

/// Parses a GraphQL `ID` holding a database id.
pub fn parse_id(id: &async_graphql::ID, what: &str) -> Result<i32, ApiError> {
    id.parse::<i32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::BadUserInput(format!("invalid {what} id `{}`", id.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_rejected() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        assert!(matches!(
            decode_cursor("nope"),
            Err(ApiError::BadUserInput(_))
        ));
        assert!(matches!(
            decode_cursor(&URL_SAFE_NO_PAD.encode("cursor:-3")),
            Err(ApiError::BadUserInput(_))
        ));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(PageArgs::parse(None, None).unwrap().limit, 20);
        assert_eq!(PageArgs::parse(Some(100), None).unwrap().limit, 100);
        assert!(PageArgs::parse(Some(101), None).is_err());
        assert!(PageArgs::parse(Some(-1), None).is_err());
    }

    #[test]
    fn page_reports_a_next_page_from_the_extra_row() {
        let (edges, info) = page(vec![1, 2, 3], 2, |r| *r, |c, r| (c, r));
        assert_eq!(edges.len(), 2);
        assert!(info.has_next_page);
        assert_eq!(info.end_cursor, Some(encode_cursor(2)));
        let (_, info) = page(vec![1, 2], 2, |r| *r, |c, r| (c, r));
        assert!(!info.has_next_page);
    }
}
