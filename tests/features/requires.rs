//! `@requires`: flat, nested (`dimensions { size unit }`), with arguments
//! (`convertedPrice(currency: "EUR")`) and chained (c_reviews requires a field
//! that b_inventory itself computes from requirements).

use async_graphql::{Any, Error, Object, Result, SimpleObject};
use serde_json::json;

use crate::{
    Federation, assert_sdl_equivalent, exported_sdl, federated, fixture_supergraph, subgraph,
};

struct Row {
    upc: &'static str,
    name: &'static str,
    price: i32,
    weight: i32,
    size: i32,
    unit: &'static str,
    in_stock: bool,
}

const PRODUCTS: [Row; 4] = [
    Row {
        upc: "p1",
        name: "Table",
        price: 200,
        weight: 30,
        size: 3,
        unit: "m",
        in_stock: true,
    },
    Row {
        upc: "p2",
        name: "Chair",
        price: 50,
        weight: 5,
        size: 80,
        unit: "cm",
        in_stock: false,
    },
    Row {
        upc: "p3",
        name: "Lamp",
        price: 30,
        weight: 2,
        size: 40,
        unit: "cm",
        in_stock: true,
    },
    Row {
        upc: "p4",
        name: "Rug",
        price: 100,
        weight: 8,
        size: 2,
        unit: "m",
        in_stock: false,
    },
];

fn row(upc: &str) -> Option<&'static Row> {
    PRODUCTS.iter().find(|p| p.upc == upc)
}

// ---- a_products -----------------------------------------------------------------

mod products {
    use super::*;

    #[derive(SimpleObject, Clone)]
    #[graphql(shareable)]
    pub struct Dimensions {
        size: i32,
        unit: String,
    }

    pub struct Product(pub &'static Row);

    #[Object]
    impl Product {
        async fn upc(&self) -> &str {
            self.0.upc
        }
        async fn name(&self) -> &str {
            self.0.name
        }
        async fn price(&self) -> i32 {
            self.0.price
        }
        async fn weight(&self) -> i32 {
            self.0.weight
        }
        async fn dimensions(&self) -> Dimensions {
            Dimensions {
                size: self.0.size,
                unit: self.0.unit.to_owned(),
            }
        }
        async fn converted_price(&self, currency: String) -> Result<i32> {
            match currency.as_str() {
                "USD" => Ok(self.0.price),
                "EUR" => Ok(self.0.price * 9 / 10),
                other => Err(Error::new(format!("unknown currency {other}"))),
            }
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn top_products(&self, #[graphql(default = 5)] first: Option<i32>) -> Vec<Product> {
            let first = first.unwrap_or(5).max(0) as usize;
            PRODUCTS.iter().take(first).map(Product).collect()
        }

        #[graphql(entity)]
        async fn product_by_upc(&self, upc: String) -> Option<Product> {
            row(&upc).map(Product)
        }
    }
}

// ---- b_inventory ------------------------------------------------------------------

mod inventory {
    use super::*;

    #[derive(SimpleObject, Clone)]
    #[graphql(shareable)]
    pub struct Dimensions {
        size: i32,
        unit: String,
    }

    /// What a representation brought: the key and the `@requires` inputs.
    pub struct Product {
        upc: String,
        price: Option<i32>,
        weight: Option<i32>,
        dimensions: Option<serde_json::Value>,
        converted_price: Option<i32>,
    }

    fn required<T: Copy>(value: Option<T>, what: &str) -> Result<T> {
        value.ok_or_else(|| Error::new(format!("{what} is required")))
    }

    #[Object]
    impl Product {
        async fn upc(&self) -> &str {
            &self.upc
        }
        #[graphql(external)]
        async fn weight(&self) -> Result<i32> {
            required(self.weight, "weight")
        }
        #[graphql(external)]
        async fn price(&self) -> Result<i32> {
            required(self.price, "price")
        }
        #[graphql(external)]
        async fn dimensions(&self) -> Result<Dimensions> {
            Err(Error::new("dimensions are external"))
        }
        async fn in_stock(&self) -> bool {
            row(&self.upc).is_some_and(|r| r.in_stock)
        }
        #[graphql(external)]
        async fn converted_price(&self, currency: String) -> Result<i32> {
            Err(Error::new(format!(
                "convertedPrice({currency}) is external"
            )))
        }
        #[graphql(requires = "convertedPrice(currency: \\\"EUR\\\")")]
        async fn import_duty(&self) -> Result<i32> {
            Ok(required(self.converted_price, "convertedPrice")? / 10)
        }
        #[graphql(requires = "price weight")]
        async fn shipping_estimate(&self) -> Result<i32> {
            Ok(required(self.price, "price")? / 10 + required(self.weight, "weight")?)
        }
        #[graphql(requires = "dimensions { size unit }")]
        async fn packaging(&self) -> Result<String> {
            let dimensions = self
                .dimensions
                .as_ref()
                .ok_or_else(|| Error::new("dimensions is required"))?;
            let size = dimensions["size"].as_i64().unwrap_or_default();
            let unit = dimensions["unit"].as_str().unwrap_or_default();
            Ok(if unit == "m" || size > 50 {
                format!("crate for {size}{unit}")
            } else {
                format!("box for {size}{unit}")
            })
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn inventory(&self) -> Vec<Product> {
            PRODUCTS
                .iter()
                .rev()
                .map(|r| Product {
                    upc: r.upc.to_owned(),
                    price: None,
                    weight: None,
                    dimensions: None,
                    converted_price: None,
                })
                .collect()
        }

        #[graphql(entity)]
        async fn product_by_upc(
            &self,
            #[graphql(key)] upc: String,
            price: Option<i32>,
            weight: Option<i32>,
            dimensions: Option<Any>,
            converted_price: Option<i32>,
        ) -> Product {
            Product {
                upc,
                price,
                weight,
                dimensions: dimensions.map(|d| d.0.into_json().unwrap_or_default()),
                converted_price,
            }
        }
    }
}

// ---- c_reviews ---------------------------------------------------------------------

mod reviews {
    use super::*;

    pub struct Product {
        upc: String,
        shipping_estimate: Option<i32>,
    }

    #[Object]
    impl Product {
        async fn upc(&self) -> &str {
            &self.upc
        }
        #[graphql(external)]
        async fn shipping_estimate(&self) -> Result<i32> {
            self.shipping_estimate
                .ok_or_else(|| Error::new("shippingEstimate is external"))
        }
        #[graphql(requires = "shippingEstimate")]
        async fn review_score(&self) -> Result<f64> {
            if self.upc == "p4" {
                return Err(Error::new("no reviews for p4 yet"));
            }
            let estimate = self
                .shipping_estimate
                .ok_or_else(|| Error::new("shippingEstimate is required"))?;
            Ok(5.0 - f64::from(estimate) / 20.0)
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn product_by_upc(
            &self,
            #[graphql(key)] upc: String,
            shipping_estimate: Option<i32>,
        ) -> Product {
            Product {
                upc,
                shipping_estimate,
            }
        }
    }
}

async fn federation() -> Federation {
    Federation::start(
        &fixture_supergraph("requires"),
        vec![
            ("a_products", subgraph(federated(products::Query))),
            ("b_inventory", subgraph(federated(inventory::Query))),
            ("c_reviews", subgraph(federated(reviews::Query))),
        ],
    )
    .await
}

// shippingEstimate = price / 10 + weight: p1 50, p2 10, p3 5, p4 18.

#[tokio::test]
async fn requires_fetches_inputs_first() {
    federation()
        .await
        .assert_response(
            "{ topProducts { name shippingEstimate inStock } }",
            json!({ "data": { "topProducts": [
                { "name": "Table", "shippingEstimate": 50, "inStock": true },
                { "name": "Chair", "shippingEstimate": 10, "inStock": false },
                { "name": "Lamp", "shippingEstimate": 5, "inStock": true },
                { "name": "Rug", "shippingEstimate": 18, "inStock": false },
            ] } }),
        )
        .await;
}

#[test]
fn subgraphs_export_the_fixture_sdl() {
    let schema = federated(products::Query);
    assert_sdl_equivalent("requires/a_products.graphql", &exported_sdl(&schema), &[]);
    let schema = federated(inventory::Query);
    assert_sdl_equivalent("requires/b_inventory.graphql", &exported_sdl(&schema), &[]);
    let schema = federated(reviews::Query);
    assert_sdl_equivalent("requires/c_reviews.graphql", &exported_sdl(&schema), &[]);
}

#[tokio::test]
async fn requires_nested_and_chained() {
    // reviewScore = 5 - shippingEstimate / 20, computed by c_reviews from
    // what b_inventory computed from a_products' fields.
    federation()
        .await
        .assert_response(
            "{ topProducts(first: 3) { packaging reviewScore } }",
            json!({ "data": { "topProducts": [
                { "packaging": "crate for 3m", "reviewScore": 2.5 },
                { "packaging": "crate for 80cm", "reviewScore": 4.5 },
                { "packaging": "box for 40cm", "reviewScore": 4.75 },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn requires_from_the_subgraph_already_fetched() {
    federation()
        .await
        .assert_response(
            "{ inventory { inStock shippingEstimate } }",
            json!({ "data": { "inventory": [
                { "inStock": false, "shippingEstimate": 18 },
                { "inStock": true, "shippingEstimate": 5 },
                { "inStock": false, "shippingEstimate": 10 },
                { "inStock": true, "shippingEstimate": 50 },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn requires_with_arguments() {
    // importDuty = convertedPrice(currency: "EUR") / 10 = price * 9 / 100.
    federation()
        .await
        .assert_response(
            "{ topProducts { importDuty } }",
            json!({ "data": { "topProducts": [
                { "importDuty": 18 },
                { "importDuty": 4 },
                { "importDuty": 2 },
                { "importDuty": 9 },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn alias_shadowing_a_required_field() {
    federation()
        .await
        .assert_response(
            "{ topProducts { weight: name shippingEstimate } }",
            json!({ "data": { "topProducts": [
                { "weight": "Table", "shippingEstimate": 50 },
                { "weight": "Chair", "shippingEstimate": 10 },
                { "weight": "Lamp", "shippingEstimate": 5 },
                { "weight": "Rug", "shippingEstimate": 18 },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn entity_error_bubbles_through_non_null_fields_to_data() {
    // reviewScore: Float! fails for p4; Product! in [Product!]! in a non-null
    // root field: the null reaches `data`.
    federation()
        .await
        .assert_response(
            "{ topProducts { name reviewScore } }",
            json!({
                "errors": [{
                    "message": "no reviews for p4 yet",
                    "path": ["topProducts", 3, "reviewScore"],
                    "extensions": { "serviceName": "c_reviews" },
                }],
                "data": null,
            }),
        )
        .await;
}
