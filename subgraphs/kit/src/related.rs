//! Batched reads of rows that belong to parents (a user's orders, an order's
//! notifications): one SQL statement for a whole batch of parents, never one per
//! parent. Pages are cut per parent with `ROW_NUMBER()`, which SQLite (3.25+) and
//! PostgreSQL both have. The loaders at the end put these behind async-graphql's
//! DataLoader, so that a field on a list of parents costs one statement.

use std::{collections::HashMap, hash::Hash};

use async_graphql::dataloader::Loader;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, IdenStatic, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Alias, Asterisk, Expr, ExprTrait, Query},
};

use crate::{error::LoadError, metrics::LoaderMetrics, pagination::PageArgs};

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
    Ok(group_by_parent(rows, parent_of))
}

/// Rows keyed by their parent, each parent's in the order they came.
fn group_by_parent<M>(rows: Vec<M>, parent_of: fn(&M) -> i32) -> HashMap<i32, Vec<M>> {
    let mut out: HashMap<i32, Vec<M>> = HashMap::new();
    for row in rows {
        out.entry(parent_of(&row)).or_default().push(row);
    }
    out
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

/// Every row of each parent, ordered by id, in one `IN (...)` statement; for
/// short lists that are never paged (an order's notifications or items).
pub async fn all_per_parent<E>(
    db: &DatabaseConnection,
    parent_column: E::Column,
    id_column: E::Column,
    parents: &[i32],
    parent_of: fn(&E::Model) -> i32,
) -> Result<HashMap<i32, Vec<E::Model>>, DbErr>
where
    E: EntityTrait,
{
    let rows = E::find()
        .filter(parent_column.is_in(parents.iter().copied()))
        .order_by_asc(id_column)
        .all(db)
        .await?;
    Ok(group_by_parent(rows, parent_of))
}

/// One parent's page of rows: those matching the field's `filter` arguments, cut by `args`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey<F> {
    pub parent: i32,
    pub filter: F,
    pub args: PageArgs,
}

/// DataLoader source of a paged list field on a parent (`User.orders(...)`,
/// `User.notifications(...)`). Keys that share filter and page arguments, which is
/// what one field on a list of parents produces, go into one [`page_per_parent`]
/// statement. Values are rows fetched with `limit + 1`, ready for
/// [`crate::pagination::page`].
pub struct PageLoader<E: EntityTrait, F> {
    db: DatabaseConnection,
    parent_column: E::Column,
    id_column: E::Column,
    parent_of: fn(&E::Model) -> i32,
    condition: fn(&F) -> Condition,
    metrics: LoaderMetrics,
}

impl<E: EntityTrait, F> PageLoader<E, F> {
    /// `condition` turns the field's filter arguments into SQL.
    pub fn new(
        db: DatabaseConnection,
        parent_column: E::Column,
        id_column: E::Column,
        parent_of: fn(&E::Model) -> i32,
        condition: fn(&F) -> Condition,
        metrics: LoaderMetrics,
    ) -> Self {
        Self {
            db,
            parent_column,
            id_column,
            parent_of,
            condition,
            metrics,
        }
    }
}

impl<E, F> Loader<PageKey<F>> for PageLoader<E, F>
where
    E: EntityTrait,
    E::Model: Clone + Send + Sync,
    E::Column: Send + Sync,
    F: Clone + Eq + Hash + Send + Sync + 'static,
{
    type Value = Vec<E::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[PageKey<F>],
    ) -> Result<HashMap<PageKey<F>, Vec<E::Model>>, LoadError> {
        self.metrics.batches.increment(1);
        self.metrics.keys.increment(keys.len() as u64);
        let mut groups: HashMap<(&F, PageArgs), Vec<i32>> = HashMap::new();
        for key in keys {
            groups
                .entry((&key.filter, key.args))
                .or_default()
                .push(key.parent);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for ((filter, args), parents) in groups {
            let mut rows = page_per_parent::<E>(
                &self.db,
                self.parent_column,
                self.id_column,
                &parents,
                (self.condition)(filter),
                args,
                self.parent_of,
            )
            .await?;
            for parent in parents {
                let key = PageKey {
                    parent,
                    filter: filter.clone(),
                    args,
                };
                out.insert(key, rows.remove(&parent).unwrap_or_default());
            }
        }
        Ok(out)
    }
}

/// One parent's number of rows matching the field's `filter` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CountKey<F> {
    pub parent: i32,
    pub filter: F,
}

/// DataLoader source of a count field on a parent (`User.orderCount`): one
/// [`count_per_parent`] statement per distinct filter in a batch; a parent
/// without rows counts 0.
pub struct CountLoader<E: EntityTrait, F> {
    db: DatabaseConnection,
    parent_column: E::Column,
    condition: fn(&F) -> Condition,
    metrics: LoaderMetrics,
}

impl<E: EntityTrait, F> CountLoader<E, F> {
    pub fn new(
        db: DatabaseConnection,
        parent_column: E::Column,
        condition: fn(&F) -> Condition,
        metrics: LoaderMetrics,
    ) -> Self {
        Self {
            db,
            parent_column,
            condition,
            metrics,
        }
    }
}

impl<E, F> Loader<CountKey<F>> for CountLoader<E, F>
where
    E: EntityTrait,
    E::Column: Send + Sync,
    F: Clone + Eq + Hash + Send + Sync + 'static,
{
    type Value = i64;
    type Error = LoadError;

    async fn load(&self, keys: &[CountKey<F>]) -> Result<HashMap<CountKey<F>, i64>, LoadError> {
        self.metrics.batches.increment(1);
        self.metrics.keys.increment(keys.len() as u64);
        let mut groups: HashMap<&F, Vec<i32>> = HashMap::new();
        for key in keys {
            groups.entry(&key.filter).or_default().push(key.parent);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (filter, parents) in groups {
            let counts = count_per_parent::<E>(
                &self.db,
                self.parent_column,
                &parents,
                (self.condition)(filter),
            )
            .await?;
            for parent in parents {
                let key = CountKey {
                    parent,
                    filter: filter.clone(),
                };
                out.insert(key, counts.get(&parent).copied().unwrap_or(0));
            }
        }
        Ok(out)
    }
}

/// DataLoader source of an unpaged list field on a parent, keyed by parent id:
/// one [`all_per_parent`] statement per batch; a parent without rows gets `[]`.
pub struct ListLoader<E: EntityTrait> {
    db: DatabaseConnection,
    parent_column: E::Column,
    id_column: E::Column,
    parent_of: fn(&E::Model) -> i32,
    metrics: LoaderMetrics,
}

impl<E: EntityTrait> ListLoader<E> {
    pub fn new(
        db: DatabaseConnection,
        parent_column: E::Column,
        id_column: E::Column,
        parent_of: fn(&E::Model) -> i32,
        metrics: LoaderMetrics,
    ) -> Self {
        Self {
            db,
            parent_column,
            id_column,
            parent_of,
            metrics,
        }
    }
}

impl<E> Loader<i32> for ListLoader<E>
where
    E: EntityTrait,
    E::Model: Clone + Send + Sync,
    E::Column: Send + Sync,
{
    type Value = Vec<E::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Vec<E::Model>>, LoadError> {
        self.metrics.batches.increment(1);
        self.metrics.keys.increment(keys.len() as u64);
        let mut rows = all_per_parent::<E>(
            &self.db,
            self.parent_column,
            self.id_column,
            keys,
            self.parent_of,
        )
        .await?;
        Ok(keys
            .iter()
            .map(|parent| (*parent, rows.remove(parent).unwrap_or_default()))
            .collect())
    }
}
