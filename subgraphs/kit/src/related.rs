//! Batched reads of rows that belong to parents (a user's orders, an order's
//! notifications): one SQL statement for a whole batch of parents, never one per
//! parent. Pages are cut per parent with `ROW_NUMBER()`, which SQLite (3.25+) and
//! PostgreSQL both have.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, IdenStatic, QueryFilter, QuerySelect,
    sea_query::{Alias, Asterisk, Expr, ExprTrait, Query},
};

use crate::pagination::PageArgs;

/// Rows of each parent after `args.after_id`, ordered by id, at most
/// `args.limit + 1` per parent (the extra row tells that another page follows).
pub async fn page_per_parent<E>(
    db: &DatabaseConnection,
    parent_column: E::Column,
    id_column: E::Column,
    parents: &[i32],
    filter: Condition,
    args: PageArgs,
    parent_of: fn(&E::Model) -> i32,
) -> Result<HashMap<i32, Vec<E::Model>>, DbErr>
where
    E: EntityTrait,
{
    let window = format!(
        "ROW_NUMBER() OVER (PARTITION BY {} ORDER BY {})",
        parent_column.as_str(),
        id_column.as_str()
    );
    let inner = Query::select()
        .column(Asterisk)
        .expr_as(Expr::cust(window), Alias::new("row_in_parent"))
        .from(E::default())
        .cond_where(
            Condition::all()
                .add(parent_column.is_in(parents.iter().copied()))
                .add(id_column.gt(args.after_id))
                .add(filter),
        )
        .to_owned();
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new("row_in_parent")).lte(args.limit + 1))
        .order_by(Alias::new(parent_column.as_str()), sea_orm::Order::Asc)
        .order_by(Alias::new(id_column.as_str()), sea_orm::Order::Asc)
        .to_owned();
    let statement = db.get_database_backend().build(&outer);
    let rows = E::find().from_raw_sql(statement).all(db).await?;
    let mut out: HashMap<i32, Vec<E::Model>> = HashMap::new();
    for row in rows {
        out.entry(parent_of(&row)).or_default().push(row);
    }
    Ok(out)
}

/// Number of rows per parent matching `filter`, in one `GROUP BY` statement.
pub async fn count_per_parent<E>(
    db: &DatabaseConnection,
    parent_column: E::Column,
    parents: &[i32],
    filter: Condition,
) -> Result<HashMap<i32, i64>, DbErr>
where
    E: EntityTrait,
{
    let counts: Vec<(i32, i64)> = E::find()
        .select_only()
        .column(parent_column)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(parent_column.is_in(parents.iter().copied()))
        .filter(filter)
        .group_by(parent_column)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counts.into_iter().collect())
}
