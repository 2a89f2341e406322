use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// A user of the users subgraph; another database, so no foreign key.
    pub user_id: i32,
    /// An order of the orders subgraph; another database, so no foreign key.
    pub order_id: Option<i32>,
    pub channel: Channel,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub read: bool,
    pub created_at: DateTimeUtc,
    /// The domain event this was made from (unique); null when sent directly.
    pub event_id: Option<String>,
}

/// Stored as its name, so that the column reads the same in SQL as in GraphQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Channel {
    #[sea_orm(string_value = "EMAIL")]
    Email,
    #[sea_orm(string_value = "SMS")]
    Sms,
    #[sea_orm(string_value = "PUSH")]
    Push,
    #[sea_orm(string_value = "IN_APP")]
    InApp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
