//! `@interfaceObject`: b_pricing knows `Item` as one object type and adds
//! `price` to every implementation; a_inventory owns the interface (an
//! entity interface, `interface Item @key(fields: "id")`) and its types.

use async_graphql::{Context, Error, ID, Interface, Object, Result, SimpleObject};
use serde_json::json;

use crate::{
    Federation, assert_sdl_equivalent, exported_sdl, federated, federated_with, fixture_supergraph,
    subgraph,
};

/// id, name, size (shoes only).
const ITEMS: [(&str, &str, Option<i32>); 3] = [
    ("i1", "Runner", Some(42)),
    ("i2", "Fedora", None),
    ("i3", "Boot", Some(44)),
];
/// id, price.
const PRICES: [(&str, i32); 3] = [("i1", 30), ("i2", 35), ("i3", 120)];

/// a_inventory fails `name` of this item, when set.
struct BrokenName(Option<&'static str>);

// ---- a_inventory -----------------------------------------------------------------------------

mod inventory {
    use super::*;

    pub struct Shoe {
        id: ID,
        size: i32,
    }

    pub struct Hat {
        id: ID,
    }

    fn name(ctx: &Context<'_>, id: &ID) -> Result<String> {
        match ctx.data_opt::<BrokenName>() {
            Some(BrokenName(Some(bad))) if *bad == id.as_str() => {
                Err(Error::new(format!("item {bad} has no name yet")))
            }
            _ => Ok(ITEMS
                .iter()
                .find(|i| i.0 == id.as_str())
                .map(|i| i.1.to_owned())
                .unwrap_or_default()),
        }
    }

    #[Object]
    impl Shoe {
        async fn id(&self) -> &ID {
            &self.id
        }
        async fn name(&self, ctx: &Context<'_>) -> Result<String> {
            name(ctx, &self.id)
        }
        async fn size(&self) -> i32 {
            self.size
        }
    }

    #[Object]
    impl Hat {
        async fn id(&self) -> &ID {
            &self.id
        }
        async fn name(&self, ctx: &Context<'_>) -> Result<String> {
            name(ctx, &self.id)
        }
    }

    #[derive(Interface)]
    #[graphql(field(name = "id", ty = "&ID"), field(name = "name", ty = "String"))]
    pub enum Item {
        Shoe(Shoe),
        Hat(Hat),
    }

    fn item(id: &str) -> Option<Item> {
        ITEMS.iter().find(|i| i.0 == id).map(|&(id, _, size)| {
            let id = ID(id.to_owned());
            match size {
                Some(size) => Item::Shoe(Shoe { id, size }),
                None => Item::Hat(Hat { id }),
            }
        })
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn items(&self) -> Vec<Item> {
            ITEMS.iter().filter_map(|i| item(i.0)).collect()
        }

        /// Makes `Item` an entity interface: b_pricing sends `Item` representations.
        #[graphql(entity)]
        async fn item_by_id(&self, id: ID) -> Option<Item> {
            item(&id)
        }

        #[graphql(entity)]
        async fn shoe_by_id(&self, id: ID) -> Option<Shoe> {
            match item(&id) {
                Some(Item::Shoe(shoe)) => Some(shoe),
                _ => None,
            }
        }

        #[graphql(entity)]
        async fn hat_by_id(&self, id: ID) -> Option<Hat> {
            match item(&id) {
                Some(Item::Hat(hat)) => Some(hat),
                _ => None,
            }
        }
    }
}

// ---- b_pricing ---------------------------------------------------------------------------------

mod pricing {
    use super::*;

    #[derive(SimpleObject)]
    #[graphql(interface_object)]
    pub struct Item {
        id: ID,
        price: i32,
    }

    fn item(&(id, price): &(&str, i32)) -> Item {
        Item {
            id: ID(id.to_owned()),
            price,
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn cheapest(&self) -> Option<Item> {
            PRICES.iter().min_by_key(|p| p.1).map(item)
        }

        #[graphql(entity)]
        async fn item_by_id(&self, id: ID) -> Option<Item> {
            PRICES.iter().find(|p| p.0 == id.as_str()).map(item)
        }
    }
}

async fn federation(broken_name: Option<&'static str>) -> Federation {
    let inventory = federated_with(inventory::Query, BrokenName(broken_name));
    Federation::start(
        &fixture_supergraph("interface_object"),
        vec![
            ("a_inventory", subgraph(inventory)),
            ("b_pricing", subgraph(federated(pricing::Query))),
        ],
    )
    .await
}

#[test]
fn subgraphs_export_the_fixture_sdl() {
    assert_sdl_equivalent(
        "interface_object/a_inventory.graphql",
        &exported_sdl(&federated(inventory::Query)),
        &[],
    );
    assert_sdl_equivalent(
        "interface_object/b_pricing.graphql",
        &exported_sdl(&federated(pricing::Query)),
        &[],
    );
}

#[tokio::test]
async fn interface_object_field_from_concrete_types() {
    federation(None)
        .await
        .assert_response(
            "{ items { __typename id name price } }",
            json!({ "data": { "items": [
                { "__typename": "Shoe", "id": "i1", "name": "Runner", "price": 30 },
                { "__typename": "Hat", "id": "i2", "name": "Fedora", "price": 35 },
                { "__typename": "Shoe", "id": "i3", "name": "Boot", "price": 120 },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn interface_object_root_needs_concrete_type() {
    federation(None)
        .await
        .assert_response(
            "{ cheapest { __typename price name ... on Shoe { size } } }",
            json!({ "data": { "cheapest": {
                "__typename": "Shoe",
                "price": 30,
                "name": "Runner",
                "size": 42,
            } } }),
        )
        .await;
}

#[tokio::test]
async fn interface_object_fetch_rewrites_typename() {
    federation(None)
        .await
        .assert_response(
            "{ items { price } }",
            json!({ "data": { "items": [
                { "price": 30 },
                { "price": 35 },
                { "price": 120 },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn error_from_the_interface_owner_nulls_the_nullable_root() {
    federation(Some("i1"))
        .await
        .assert_response(
            "{ cheapest { price name } }",
            json!({
                "errors": [{
                    "message": "item i1 has no name yet",
                    "path": ["cheapest", "name"],
                    "extensions": { "serviceName": "a_inventory" },
                }],
                "data": { "cheapest": null },
            }),
        )
        .await;
}
