//! Keys: `Product` has two keys in a_catalog (`id`, `sku`) and one each
//! elsewhere, so the gateway hops through a_catalog to turn an `id` into a
//! `sku`; `Location`'s key is compound and nested (`store { id } aisle`);
//! `Store` is only referenced (`resolvable: false`) outside a_catalog.

use std::sync::{Arc, Mutex};

use async_graphql::{ID, InputObject, Object, SimpleObject};
use axum::{
    http::{HeaderValue, header::CACHE_CONTROL},
    middleware::map_response,
    response::Response,
};
use gateway::GatewayConfig;
use serde_json::{Value, json};

use crate::{
    Federation, assert_sdl_equivalent, exported_sdl, federated, fixture_supergraph, subgraph,
};

/// id, sku, name, stock, rating.
const PRODUCTS: [(&str, &str, &str, i32, f64); 3] = [
    ("1", "SKU-1", "Hammer", 12, 4.5),
    ("2", "SKU-2", "Saw", 0, 3.0),
    ("3", "SKU-3", "Drill", 7, 4.8),
];

const STORES: [(&str, &str); 2] = [("s1", "Downtown"), ("s2", "Airport")];

/// store, aisle, shelves, footfall.
const LOCATIONS: [(&str, i32, i32, i32); 3] =
    [("s1", 1, 4, 120), ("s1", 2, 6, 80), ("s2", 1, 3, 300)];

// ---- a_catalog -------------------------------------------------------------------------

mod catalog {
    use super::*;

    #[derive(SimpleObject)]
    pub struct Product {
        id: ID,
        sku: String,
        name: String,
    }

    fn product(&(id, sku, name, ..): &(&str, &str, &str, i32, f64)) -> Product {
        Product {
            id: ID(id.to_owned()),
            sku: sku.to_owned(),
            name: name.to_owned(),
        }
    }

    #[derive(SimpleObject)]
    pub struct Store {
        id: ID,
        name: String,
    }

    fn store(&(id, name): &(&str, &str)) -> Store {
        Store {
            id: ID(id.to_owned()),
            name: name.to_owned(),
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn products(&self) -> Vec<Product> {
            PRODUCTS.iter().map(product).collect()
        }

        async fn stores(&self) -> Vec<Store> {
            STORES.iter().map(store).collect()
        }

        #[graphql(entity)]
        async fn product_by_id(&self, id: ID) -> Option<Product> {
            PRODUCTS.iter().find(|p| p.0 == id.as_str()).map(product)
        }

        #[graphql(entity)]
        async fn product_by_sku(&self, sku: String) -> Option<Product> {
            PRODUCTS.iter().find(|p| p.1 == sku).map(product)
        }

        #[graphql(entity)]
        async fn store_by_id(&self, id: ID) -> Option<Store> {
            STORES.iter().find(|s| s.0 == id.as_str()).map(store)
        }
    }
}

/// `Store @key(fields: "id", resolvable: false)`: a reference only.
#[derive(SimpleObject)]
#[graphql(unresolvable)]
pub struct Store {
    id: ID,
}

/// The `store { id }` part of `Location`'s key, as a representation sends it.
#[derive(InputObject)]
pub struct StoreKey {
    id: ID,
}

fn location(store: &StoreKey, aisle: i32) -> Option<(&'static str, i32, i32, i32)> {
    LOCATIONS
        .iter()
        .copied()
        .find(|l| l.0 == store.id.as_str() && l.1 == aisle)
}

// ---- b_inventory --------------------------------------------------------------------------

mod inventory {
    use super::*;

    #[derive(SimpleObject)]
    pub struct Product {
        sku: String,
        stock: i32,
    }

    #[derive(SimpleObject)]
    pub struct Location {
        store: Store,
        aisle: i32,
        shelves: i32,
    }

    fn located((store, aisle, shelves, _): (&str, i32, i32, i32)) -> Location {
        Location {
            store: Store {
                id: ID(store.to_owned()),
            },
            aisle,
            shelves,
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn locations(&self) -> Vec<Location> {
            LOCATIONS.iter().copied().map(located).collect()
        }

        #[graphql(entity)]
        async fn product_by_sku(&self, sku: String) -> Option<Product> {
            PRODUCTS.iter().find(|p| p.1 == sku).map(|p| Product {
                sku: p.1.to_owned(),
                stock: p.3,
            })
        }

        #[graphql(entity)]
        async fn location_by_key(
            &self,
            #[graphql(key)] store: StoreKey,
            #[graphql(key)] aisle: i32,
        ) -> Option<Location> {
            location(&store, aisle).map(located)
        }
    }
}

// ---- c_reviews ---------------------------------------------------------------------------

mod reviews {
    use super::*;

    #[derive(SimpleObject)]
    pub struct Product {
        id: ID,
        rating: f64,
    }

    #[derive(SimpleObject)]
    pub struct Location {
        store: Store,
        aisle: i32,
        footfall: i32,
    }

    fn product(p: &(&str, &str, &str, i32, f64)) -> Product {
        Product {
            id: ID(p.0.to_owned()),
            rating: p.4,
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        /// Rated 4 or better, best first.
        async fn best_rated(&self) -> Vec<Product> {
            let mut best: Vec<_> = PRODUCTS.iter().filter(|p| p.4 >= 4.0).collect();
            best.sort_by(|a, b| b.4.total_cmp(&a.4));
            best.into_iter().map(product).collect()
        }

        #[graphql(entity)]
        async fn product_by_id(&self, id: ID) -> Option<Product> {
            PRODUCTS.iter().find(|p| p.0 == id.as_str()).map(product)
        }

        #[graphql(entity)]
        async fn location_by_key(
            &self,
            #[graphql(key)] store: StoreKey,
            #[graphql(key)] aisle: i32,
        ) -> Option<Location> {
            location(&store, aisle).map(|(store, aisle, _, footfall)| Location {
                store: Store {
                    id: ID(store.to_owned()),
                },
                aisle,
                footfall,
            })
        }
    }
}

async fn federation() -> Federation {
    Federation::start(
        &fixture_supergraph("keys"),
        vec![
            ("a_catalog", subgraph(federated(catalog::Query))),
            ("b_inventory", subgraph(federated(inventory::Query))),
            ("c_reviews", subgraph(federated(reviews::Query))),
        ],
    )
    .await
}

#[test]
fn subgraphs_export_the_fixture_sdl() {
    assert_sdl_equivalent(
        "keys/a_catalog.graphql",
        &exported_sdl(&federated(catalog::Query)),
        &[],
    );
    assert_sdl_equivalent(
        "keys/b_inventory.graphql",
        &exported_sdl(&federated(inventory::Query)),
        &[],
    );
    assert_sdl_equivalent(
        "keys/c_reviews.graphql",
        &exported_sdl(&federated(reviews::Query)),
        &[],
    );
}

#[tokio::test]
async fn key_chosen_that_the_parent_can_provide() {
    federation()
        .await
        .assert_response(
            "{ products { name stock rating } bestRated { stock } }",
            json!({ "data": {
                "products": [
                    { "name": "Hammer", "stock": 12, "rating": 4.5 },
                    { "name": "Saw", "stock": 0, "rating": 3.0 },
                    { "name": "Drill", "stock": 7, "rating": 4.8 },
                ],
                "bestRated": [{ "stock": 7 }, { "stock": 12 }],
            } }),
        )
        .await;
}

#[tokio::test]
async fn compound_key_and_resolvable_false() {
    let federation = federation().await;
    federation
        .assert_response(
            "{ locations { aisle shelves footfall store { id name } } }",
            json!({ "data": { "locations": [
                { "aisle": 1, "shelves": 4, "footfall": 120, "store": { "id": "s1", "name": "Downtown" } },
                { "aisle": 2, "shelves": 6, "footfall": 80, "store": { "id": "s1", "name": "Downtown" } },
                { "aisle": 1, "shelves": 3, "footfall": 300, "store": { "id": "s2", "name": "Airport" } },
            ] } }),
        )
        .await;
    // One request per subgraph for the step, each store sent once.
    let representations = |name: &str| -> Vec<Value> {
        federation
            .received(name)
            .iter()
            .map(|body| body["variables"]["representations"].clone())
            .collect()
    };
    assert_eq!(
        representations("a_catalog"),
        [json!([
            { "__typename": "Store", "id": "s1" },
            { "__typename": "Store", "id": "s2" },
        ])]
    );
    assert_eq!(
        representations("c_reviews"),
        [json!([
            { "__typename": "Location", "store": { "id": "s1" }, "aisle": 1 },
            { "__typename": "Location", "store": { "id": "s1" }, "aisle": 2 },
            { "__typename": "Location", "store": { "id": "s2" }, "aisle": 1 },
        ])]
    );
}

#[tokio::test]
async fn alias_shadowing_a_key_fetched_through_another_hop() {
    federation()
        .await
        .assert_response(
            "{ bestRated { stock sku: rating } }",
            json!({ "data": { "bestRated": [
                { "stock": 7, "sku": 4.8 },
                { "stock": 12, "sku": 4.5 },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn subgraph_down_nulls_what_it_owed_up_to_data() {
    // rating: Float! in [Product!]! in a non-null root field: with c_reviews
    // down, the null reaches `data`; what c_reviews does not owe still works.
    let mut federation = federation().await;
    federation.stop_subgraph("c_reviews").await;
    federation
        .assert_response(
            "{ stores { name } products { name stock } }",
            json!({ "data": {
                "stores": [{ "name": "Downtown" }, { "name": "Airport" }],
                "products": [
                    { "name": "Hammer", "stock": 12 },
                    { "name": "Saw", "stock": 0 },
                    { "name": "Drill", "stock": 7 },
                ],
            } }),
        )
        .await;
    let response = federation
        .query("{ stores { name } products { name rating } }")
        .await;
    // The message ends with the transport's wording; the rest is exact.
    let message = response["errors"][0]["message"]
        .as_str()
        .expect("an error message");
    assert!(
        message.starts_with("request to subgraph `c_reviews` failed: "),
        "{response:#}"
    );
    let expected = json!({
        "errors": [{
            "message": message,
            "extensions": { "code": "SUBGRAPH_REQUEST_FAILED", "serviceName": "c_reviews" },
            "path": ["products", 0],
        }],
        "data": null,
    });
    assert_eq!(
        serde_json::to_string_pretty(&response).expect("JSON"),
        serde_json::to_string_pretty(&expected).expect("JSON"),
    );
}

/// With the entity cache on and nothing configured per type, entities are
/// kept exactly as long as the subgraph's `Cache-Control` allows.
#[tokio::test]
async fn entity_cache_follows_the_subgraphs_cache_control() {
    let header = Arc::new(Mutex::new("public, max-age=1"));
    let sent = header.clone();
    let reviews =
        subgraph(federated(reviews::Query)).layer(map_response(move |mut response: Response| {
            let value = *sent.lock().expect("header");
            let response_headers = response.headers_mut();
            response_headers.insert(CACHE_CONTROL, HeaderValue::from_static(value));
            async move { response }
        }));
    let mut config = GatewayConfig::default();
    config.entity_cache.enabled = true;
    let fed = Federation::start_configured(
        config,
        &fixture_supergraph("keys"),
        vec![
            ("a_catalog", subgraph(federated(catalog::Query))),
            ("b_inventory", subgraph(federated(inventory::Query))),
            ("c_reviews", reviews),
        ],
    )
    .await;
    let query = "{ products { name rating } }";
    let expected = json!({ "data": { "products": [
        { "name": "Hammer", "rating": 4.5 },
        { "name": "Saw", "rating": 3.0 },
        { "name": "Drill", "rating": 4.8 },
    ] } });
    let fetches = || fed.received("c_reviews").len();

    fed.assert_response(query, expected.clone()).await;
    fed.assert_response(query, expected.clone()).await;
    assert_eq!(fetches(), 1, "the second answer came from the cache");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    fed.assert_response(query, expected.clone()).await;
    assert_eq!(fetches(), 2, "max-age=1 has passed");

    // Refused by the subgraph, or private with no header to key it by: not kept.
    for refusal in ["no-store", "private, max-age=60"] {
        *header.lock().expect("header") = refusal;
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let before = fetches();
        fed.assert_response(query, expected.clone()).await;
        fed.assert_response(query, expected.clone()).await;
        assert_eq!(fetches(), before + 2, "{refusal}: every answer fetched");
    }
}
