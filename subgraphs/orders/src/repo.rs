//! Data access of the orders subgraph: plain async functions on the connection,
//! with the business rules (validation, totals, status transitions).

use chrono::Utc;
use kit::{ApiError, pagination::PageArgs};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, TransactionTrait,
};

use kit::events::OrderEventKind;

use crate::{
    entity::{order, order_item},
    outbox,
    status::OrderStatus,
};

pub const MAX_ITEMS: usize = 100;
pub const MAX_QUANTITY: i32 = 10_000;

/// An item as the client sends it.
pub struct NewItem {
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price_cents: i32,
}

pub fn status_filter(status: Option<OrderStatus>) -> Condition {
    match status {
        Some(s) => Condition::all().add(order::Column::Status.eq(s.as_str())),
        None => Condition::all(),
    }
}

/// All orders, a page plus one row, ordered by id.
pub async fn page(
    db: &DatabaseConnection,
    args: PageArgs,
    status: Option<OrderStatus>,
) -> Result<Vec<order::Model>, ApiError> {
    Ok(order::Entity::find()
        .filter(order::Column::Id.gt(args.after_id))
        .filter(status_filter(status))
        .order_by_asc(order::Column::Id)
        .limit((args.limit + 1) as u64)
        .all(db)
        .await?)
}

fn validate(currency: &str, items: &[NewItem]) -> Result<i64, ApiError> {
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(ApiError::BadUserInput(format!(
            "currency must be a three-letter ISO 4217 code, got `{currency}`"
        )));
    }
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(ApiError::BadUserInput(format!(
            "an order has 1 to {MAX_ITEMS} items"
        )));
    }
    let mut total: i64 = 0;
    for (i, item) in items.iter().enumerate() {
        if item.sku.trim().is_empty() || item.name.trim().is_empty() {
            return Err(ApiError::BadUserInput(format!(
                "item {i}: sku and name must not be empty"
            )));
        }
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            return Err(ApiError::BadUserInput(format!(
                "item {i}: quantity must be between 1 and {MAX_QUANTITY}"
            )));
        }
        if item.unit_price_cents < 0 {
            return Err(ApiError::BadUserInput(format!(
                "item {i}: unitPriceCents must not be negative"
            )));
        }
        total += i64::from(item.quantity) * i64::from(item.unit_price_cents);
    }
    // totalCents is a GraphQL Int (32 bits).
    if total > i64::from(i32::MAX) {
        return Err(ApiError::BadUserInput(format!(
            "order total {total} exceeds the maximum of {}",
            i32::MAX
        )));
    }
    Ok(total)
}

/// Inserts the order, its items and its `OrderPlaced` event in one transaction;
/// the total is computed here.
pub async fn place(
    db: &DatabaseConnection,
    user_id: i32,
    currency: &str,
    items: Vec<NewItem>,
) -> Result<order::Model, ApiError> {
    let total = validate(currency, &items)?;
    let item_count = items.iter().map(|i| i.quantity).sum();
    let txn = db.begin().await?;
    let order = insert_order(&txn, user_id, currency, OrderStatus::Pending, total, items).await?;
    outbox::record(&txn, OrderEventKind::OrderPlaced, &order, item_count).await?;
    txn.commit().await?;
    Ok(order)
}

async fn insert_order(
    txn: &DatabaseTransaction,
    user_id: i32,
    currency: &str,
    status: OrderStatus,
    total: i64,
    items: Vec<NewItem>,
) -> Result<order::Model, DbErr> {
    let order = order::ActiveModel {
        user_id: Set(user_id),
        total_cents: Set(total),
        currency: Set(currency.to_owned()),
        status: Set(status.as_str().to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let rows = items.into_iter().map(|item| order_item::ActiveModel {
        order_id: Set(order.id),
        sku: Set(item.sku.trim().to_owned()),
        name: Set(item.name.trim().to_owned()),
        quantity: Set(item.quantity),
        unit_price_cents: Set(i64::from(item.unit_price_cents)),
        ..Default::default()
    });
    order_item::Entity::insert_many(rows).exec(txn).await?;
    Ok(order)
}

/// Moves an order to `to` if its current state allows it, writing its
/// `OrderStatusChanged` event in the same transaction. The check and the write
/// are one conditional UPDATE, so concurrent moves cannot both win.
pub async fn transition(
    db: &DatabaseConnection,
    id: i32,
    to: OrderStatus,
) -> Result<order::Model, ApiError> {
    let from: Vec<&str> = to
        .allowed_from()
        .into_iter()
        .map(OrderStatus::as_str)
        .collect();
    let txn = db.begin().await?;
    let result = order::Entity::update_many()
        .col_expr(
            order::Column::Status,
            sea_orm::sea_query::Expr::value(to.as_str()),
        )
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::Status.is_in(from))
        .exec(&txn)
        .await?;
    let current = order::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("order {id} not found")))?;
    if result.rows_affected == 0 {
        return Err(ApiError::Conflict(format!(
            "order {id} is {} and cannot become {}",
            current.status,
            to.as_str()
        )));
    }
    let item_count = order_item::Entity::find()
        .filter(order_item::Column::OrderId.eq(id))
        .all(&txn)
        .await?
        .iter()
        .map(|i| i.quantity)
        .sum();
    outbox::record(
        &txn,
        OrderEventKind::OrderStatusChanged,
        &current,
        item_count,
    )
    .await?;
    txn.commit().await?;
    Ok(current)
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    order::Entity::find().count(db).await
}

/// Inserts the shared demo orders, in order, so that their ids are 1..=N.
pub async fn seed(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    for demo in kit::demo::orders() {
        let status = OrderStatus::parse(demo.status).unwrap_or(OrderStatus::Pending);
        let items: Vec<NewItem> = demo
            .items
            .into_iter()
            .map(|i| NewItem {
                sku: i.sku,
                name: i.name.to_owned(),
                quantity: i.quantity,
                unit_price_cents: i.unit_price_cents as i32,
            })
            .collect();
        let total = items
            .iter()
            .map(|i| i64::from(i.quantity) * i64::from(i.unit_price_cents))
            .sum();
        // Demo history, not news: no events.
        insert_order(txn, demo.user_id, demo.currency, status, total, items).await?;
    }
    Ok(())
}
