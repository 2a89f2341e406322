use sea_orm::entity::prelude::*;

/// One row of the outbox; see the migration that creates it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub event_id: String,
    /// An `OrderEventKind` name.
    pub kind: String,
    pub order_id: i32,
    pub user_id: i32,
    pub status: String,
    pub item_count: i32,
    pub total_cents: i64,
    pub currency: String,
    pub occurred_at: DateTimeUtc,
    /// When the broker confirmed it; null while pending.
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
