//! Data access of the users subgraph: plain async functions on the connection.
//! Validation lives here so that every caller gets the same rules.

use chrono::Utc;
use kit::{ApiError, pagination::PageArgs};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::entity::user;

const MAX_NAME_LEN: usize = 200;
const MAX_EMAIL_LEN: usize = 254;

/// Trimmed, lower-cased, and checked: emails are unique regardless of case.
pub fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_ascii_lowercase();
    if email.len() > MAX_EMAIL_LEN || !fast_chemail::is_valid_email(&email) {
        return Err(ApiError::BadUserInput(format!(
            "`{email}` is not a valid email address"
        )));
    }
    Ok(email)
}

pub fn normalize_name(name: &str) -> Result<String, ApiError> {
    kit::input::trimmed_text(name, "name", MAX_NAME_LEN)
}

pub async fn by_email(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Option<user::Model>, ApiError> {
    let email = email.trim().to_ascii_lowercase();
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?)
}

/// One page plus one row, ordered by id, after the cursor.
pub async fn page(db: &DatabaseConnection, args: PageArgs) -> Result<Vec<user::Model>, ApiError> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.gt(args.after_id))
        .order_by_asc(user::Column::Id)
        .limit((args.limit + 1) as u64)
        .all(db)
        .await?)
}

pub async fn create(
    db: &DatabaseConnection,
    email: &str,
    name: &str,
) -> Result<user::Model, ApiError> {
    let email = normalize_email(email)?;
    let name = normalize_name(name)?;
    let row = user::ActiveModel {
        email: Set(email.clone()),
        name: Set(name),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    row.insert(db).await.map_err(|e| {
        ApiError::conflict_on_unique(e, || format!("a user with email `{email}` already exists"))
    })
}

pub async fn update(
    db: &DatabaseConnection,
    id: i32,
    email: Option<&str>,
    name: Option<&str>,
) -> Result<user::Model, ApiError> {
    let email = email.map(normalize_email).transpose()?;
    let name = name.map(normalize_name).transpose()?;
    let existing = user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| not_found(id))?;
    let mut row: user::ActiveModel = existing.into();
    if let Some(email) = &email {
        row.email = Set(email.clone());
    }
    if let Some(name) = name {
        row.name = Set(name);
    }
    row.update(db).await.map_err(|e| match e {
        sea_orm::DbErr::RecordNotUpdated => not_found(id),
        e => ApiError::conflict_on_unique(e, || {
            format!(
                "a user with email `{}` already exists",
                email.unwrap_or_default()
            )
        }),
    })
}

pub async fn delete(db: &DatabaseConnection, id: i32) -> Result<user::Model, ApiError> {
    let existing = user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| not_found(id))?;
    let result = user::Entity::delete_by_id(id).exec(db).await?;
    if result.rows_affected == 0 {
        return Err(not_found(id));
    }
    Ok(existing)
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64, sea_orm::DbErr> {
    user::Entity::find().count(db).await
}

/// Inserts the shared demo users, in order, so that their ids are 1..=N.
pub async fn seed(txn: &DatabaseTransaction) -> Result<(), sea_orm::DbErr> {
    for u in kit::demo::users() {
        user::ActiveModel {
            email: Set(u.email),
            name: Set(u.name),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

fn not_found(id: i32) -> ApiError {
    ApiError::NotFound(format!("user {id} not found"))
}
