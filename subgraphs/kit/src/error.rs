//! The one error type of the subgraphs' domain code, turned into a GraphQL error
//! with a stable `extensions.code` at the edge. Database errors are logged here and
//! reach the client only as `INTERNAL`, without their text.

use async_graphql::{ErrorExtensions, Value};
use sea_orm::{DbErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadUserInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput(_) => "BAD_USER_INPUT",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Conflict(_) => "CONFLICT",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Database(_) => "INTERNAL",
        }
    }

    /// A unique-constraint violation becomes `CONFLICT` with `message`; anything else stays a database error.
    pub fn conflict_on_unique(err: DbErr, message: impl FnOnce() -> String) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict(message()),
            _ => Self::Database(err),
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        let message = match self {
            Self::Database(err) => {
                tracing::error!(error = %err, "database error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        async_graphql::Error::new(message)
            .extend_with(|_, ext| ext.set("code", Value::from(self.code())))
    }
}

/// `Result` of resolvers: `repo_call().await.extend()?` keeps the code.
pub type GqlResult<T> = async_graphql::Result<T>;

/// Loader errors must be `Clone`; the database error behind them is shared.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub std::sync::Arc<DbErr>);

impl From<DbErr> for LoadError {
    fn from(err: DbErr) -> Self {
        Self(std::sync::Arc::new(err))
    }
}

impl ErrorExtensions for LoadError {
    fn extend(&self) -> async_graphql::Error {
        tracing::error!(error = %self.0, "database error in loader");
        async_graphql::Error::new("internal error")
            .extend_with(|_, ext| ext.set("code", "INTERNAL"))
    }
}
