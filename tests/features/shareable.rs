//! `@shareable`: `Product.name`, `Product.price`, `Money` and `Query.product`
//! resolved by several subgraphs; b_pricing's `Money` has a `formatted` that
//! a_catalog's lacks.

use async_graphql::{Context, Error, ID, Object, Result, SimpleObject};
use serde_json::json;

use crate::{
    Federation, assert_sdl_equivalent, exported_sdl, federated, federated_with, fixture_supergraph,
    subgraph,
};

/// id, name, price (cents), currency, discount (percent).
const PRODUCTS: [(&str, &str, i32, &str, i32); 3] = [
    ("1", "Box", 150, "USD", 10),
    ("2", "Wax", 300, "USD", 0),
    ("3", "Pen", 500, "EUR", 25),
];

type Row = (&'static str, &'static str, i32, &'static str, i32);

fn row(id: &str) -> Option<Row> {
    PRODUCTS.iter().copied().find(|p| p.0 == id)
}

/// b_pricing fails `discount` of this product, when set.
struct BrokenDiscount(Option<&'static str>);

// ---- a_catalog -----------------------------------------------------------------------

mod catalog {
    use super::*;

    #[derive(SimpleObject)]
    #[graphql(shareable)]
    pub struct Money {
        amount: i32,
        currency: String,
    }

    #[derive(SimpleObject)]
    pub struct Product {
        id: ID,
        #[graphql(shareable)]
        name: String,
        #[graphql(shareable)]
        price: Money,
    }

    fn product((id, name, amount, currency, _): Row) -> Product {
        Product {
            id: ID(id.to_owned()),
            name: name.to_owned(),
            price: Money {
                amount,
                currency: currency.to_owned(),
            },
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(shareable)]
        async fn product(&self, id: ID) -> Option<Product> {
            row(&id).map(product)
        }

        async fn products(&self) -> Vec<Product> {
            PRODUCTS.into_iter().map(product).collect()
        }

        #[graphql(entity)]
        async fn product_by_id(&self, id: ID) -> Option<Product> {
            row(&id).map(product)
        }
    }
}

// ---- b_pricing ---------------------------------------------------------------------------

mod pricing {
    use super::*;

    pub struct Money {
        amount: i32,
        currency: &'static str,
    }

    #[Object(shareable)]
    impl Money {
        async fn amount(&self) -> i32 {
            self.amount
        }
        async fn currency(&self) -> &str {
            self.currency
        }
        async fn formatted(&self) -> String {
            let symbol = if self.currency == "EUR" { "€" } else { "$" };
            format!("{symbol}{}.{:02}", self.amount / 100, self.amount % 100)
        }
    }

    pub struct Product(Row);

    #[Object]
    impl Product {
        async fn id(&self) -> ID {
            ID(self.0.0.to_owned())
        }
        #[graphql(shareable)]
        async fn price(&self) -> Money {
            Money {
                amount: self.0.2,
                currency: self.0.3,
            }
        }
        async fn discount(&self, ctx: &Context<'_>) -> Result<i32> {
            match ctx.data_opt::<BrokenDiscount>() {
                Some(BrokenDiscount(Some(id))) if *id == self.0.0 => {
                    Err(Error::new(format!("no discount rule for product {id}")))
                }
                _ => Ok(self.0.4),
            }
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(shareable)]
        async fn product(&self, id: ID) -> Option<Product> {
            row(&id).map(Product)
        }

        #[graphql(entity)]
        async fn product_by_id(&self, id: ID) -> Option<Product> {
            row(&id).map(Product)
        }
    }
}

// ---- c_search ------------------------------------------------------------------------------

mod search {
    use super::*;

    #[derive(SimpleObject)]
    pub struct Product {
        id: ID,
        #[graphql(shareable)]
        name: String,
    }

    fn product((id, name, ..): Row) -> Product {
        Product {
            id: ID(id.to_owned()),
            name: name.to_owned(),
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        /// Products whose name contains `text`, ignoring case.
        async fn search(&self, text: String) -> Vec<Product> {
            let text = text.to_lowercase();
            PRODUCTS
                .into_iter()
                .filter(|p| p.1.to_lowercase().contains(&text))
                .map(product)
                .collect()
        }

        #[graphql(entity)]
        async fn product_by_id(&self, id: ID) -> Option<Product> {
            row(&id).map(product)
        }
    }
}

async fn federation(broken_discount: Option<&'static str>) -> Federation {
    let pricing = federated_with(pricing::Query, BrokenDiscount(broken_discount));
    Federation::start(
        &fixture_supergraph("shareable"),
        vec![
            ("a_catalog", subgraph(federated(catalog::Query))),
            ("b_pricing", subgraph(pricing)),
            ("c_search", subgraph(federated(search::Query))),
        ],
    )
    .await
}

#[test]
fn subgraphs_export_the_fixture_sdl() {
    assert_sdl_equivalent(
        "shareable/a_catalog.graphql",
        &exported_sdl(&federated(catalog::Query)),
        &[],
    );
    assert_sdl_equivalent(
        "shareable/b_pricing.graphql",
        &exported_sdl(&federated(pricing::Query)),
        &[],
    );
    assert_sdl_equivalent(
        "shareable/c_search.graphql",
        &exported_sdl(&federated(search::Query)),
        &[],
    );
}

#[tokio::test]
async fn shareable_prefers_the_current_subgraph() {
    federation(None)
        .await
        .assert_response(
            r#"{ search(text: "x") { id name price { amount } discount } }"#,
            json!({ "data": { "search": [
                { "id": "1", "name": "Box", "price": { "amount": 150 }, "discount": 10 },
                { "id": "2", "name": "Wax", "price": { "amount": 300 }, "discount": 0 },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn shareable_root_picks_subgraph_covering_selection() {
    federation(None)
        .await
        .assert_response(
            r#"{ product(id: "1") { price { amount currency } discount } }"#,
            json!({ "data": { "product": {
                "price": { "amount": 150, "currency": "USD" },
                "discount": 10,
            } } }),
        )
        .await;
}

#[tokio::test]
async fn value_type_field_missing_locally_moves_the_parent_field() {
    federation(None)
        .await
        .assert_response(
            "{ products { name price { amount formatted } } }",
            json!({ "data": { "products": [
                { "name": "Box", "price": { "amount": 150, "formatted": "$1.50" } },
                { "name": "Wax", "price": { "amount": 300, "formatted": "$3.00" } },
                { "name": "Pen", "price": { "amount": 500, "formatted": "€5.00" } },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn field_error_nulls_the_nullable_root_field() {
    // discount: Int! fails; `product: Product` is nullable, so it is null.
    federation(Some("3"))
        .await
        .assert_response(
            r#"{ product(id: "3") { name discount } }"#,
            json!({
                "errors": [{
                    "message": "no discount rule for product 3",
                    "path": ["product", "discount"],
                    "extensions": { "serviceName": "b_pricing" },
                }],
                "data": { "product": null },
            }),
        )
        .await;
}

#[tokio::test]
async fn unknown_product_is_null_without_errors() {
    federation(None)
        .await
        .assert_response(
            r#"{ product(id: "9") { name price { formatted } } }"#,
            json!({ "data": { "product": null } }),
        )
        .await;
}
