//! Who is calling a subgraph, and the ownership rules every subgraph applies.
//!
//! The gateway forwards the client's token; the subgraph verifies it again
//! with its own `<NAME>_JWT__*` configuration (the same keys as the
//! gateway's), so reaching a subgraph directly gains nothing: without a valid
//! token a request is anonymous and protected fields are refused, with an
//! invalid one it is `401`. Static directives (`@authenticated`,
//! `@requiresScopes`) tell the gateway what to filter; ownership ("this
//! user's orders") is only known here, next to the data.

use async_graphql::{Context, TypeDirective};
pub use auth::Principal;

use crate::error::ApiError;

/// The scope that may act on every user's data.
pub const ADMIN_SCOPE: &str = "admin";

/// The verified caller of one request (absent: anonymous), in the request's data.
#[derive(Debug, Clone, Default)]
pub struct Caller(pub Option<Principal>);

/// `@authenticated` of the federation spec. async-graphql's federation link
/// does not import it, so it goes by its qualified name, as the spec allows.
#[TypeDirective(
    name = "federation__authenticated",
    location = "FieldDefinition",
    location = "Object"
)]
pub fn authenticated() {}

fn caller<'a>(ctx: &Context<'a>) -> Option<&'a Principal> {
    ctx.data_opt::<Caller>().and_then(|c| c.0.as_ref())
}

/// The caller, or `UNAUTHENTICATED`.
pub fn require_caller<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    caller(ctx).ok_or_else(|| ApiError::Unauthenticated("a valid token is required".into()))
}

/// Whether the caller holds the admin scope.
pub fn is_admin(ctx: &Context<'_>) -> bool {
    caller(ctx).is_some_and(|p| p.has_scope(ADMIN_SCOPE))
}

/// The caller's user id (`sub`), when it is one.
fn user_id(principal: &Principal) -> Option<i32> {
    principal.subject.as_deref().and_then(|s| s.parse().ok())
}

/// The caller is user `owner` or holds the admin scope.
pub fn require_self_or_admin(ctx: &Context<'_>, owner: i32) -> Result<(), ApiError> {
    let principal = require_caller(ctx)?;
    if principal.has_scope(ADMIN_SCOPE) || user_id(principal) == Some(owner) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "this belongs to user {owner}: only they or an admin may see or change it"
        )))
    }
}

/// The caller holds the admin scope.
pub fn require_admin(ctx: &Context<'_>) -> Result<(), ApiError> {
    let principal = require_caller(ctx)?;
    if principal.has_scope(ADMIN_SCOPE) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "the `{ADMIN_SCOPE}` scope is required"
        )))
    }
}
