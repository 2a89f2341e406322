//! The orders subgraph over HTTP, on SQLite and (with TEST_DATABASE_URL) PostgreSQL.

use kit::testing::{
    TestServer, check_schema_file, on_each_backend, on_each_backend_with, user_token,
};
use orders::Orders;
use serde_json::{Value, json};

const PLACE: &str = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id user { id } items { sku name quantity unitPriceCents } totalCents currency status createdAt } }";

fn item(sku: &str, quantity: i32, price: i32) -> Value {
    json!({ "sku": sku, "name": format!("Item {sku}"), "quantity": quantity, "unitPriceCents": price })
}

async fn place(s: &TestServer, user: &str, items: Vec<Value>) -> Value {
    s.data(
        PLACE,
        json!({ "input": { "userId": user, "items": items } }),
    )
    .await["placeOrder"]
        .clone()
}

async fn order_count(s: &TestServer) -> usize {
    s.data("{ orders(first: 100) { edges { cursor } } }", json!({}))
        .await["orders"]["edges"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn exported_sdl_matches_the_committed_schema_file() {
    on_each_backend::<Orders, _, _>(|s| async move {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/orders.graphql");
        check_schema_file(&s, &path).await;
        s
    })
    .await;
}

#[tokio::test]
async fn place_order_computes_the_total_and_stores_items() {
    on_each_backend::<Orders, _, _>(|s| async move {
        let order = place(&s, "7", vec![item("A", 2, 150), item("B", 1, 1000)]).await;
        assert_eq!(order["totalCents"], 1300);
        assert_eq!(order["currency"], "EUR");
        assert_eq!(order["status"], "PENDING");
        assert_eq!(order["user"]["id"], "7");
        assert_eq!(order["items"], json!([item("A", 2, 150), item("B", 1, 1000)]));
        let read = s.data("query($id: ID!) { order(id: $id) { totalCents items { sku } } }", json!({ "id": order["id"] })).await;
        assert_eq!(read["order"]["items"], json!([{ "sku": "A" }, { "sku": "B" }]));
        let usd = s.data(PLACE, json!({ "input": { "userId": "7", "currency": "USD", "items": [item("C", 1, 5)] } })).await;
        assert_eq!(usd["placeOrder"]["currency"], "USD");
        s
    })
    .await;
}

#[tokio::test]
async fn invalid_orders_are_rejected_and_write_nothing() {
    on_each_backend::<Orders, _, _>(|s| async move {
        let bad = [
            json!({ "userId": "1", "items": [] }),
            json!({ "userId": "1", "items": [item("A", 0, 100)] }),
            json!({ "userId": "1", "items": [item("A", 1, -5)] }),
            json!({ "userId": "1", "currency": "euro", "items": [item("A", 1, 100)] }),
            json!({ "userId": "x", "items": [item("A", 1, 100)] }),
            json!({ "userId": "1", "items": [{ "sku": " ", "name": "n", "quantity": 1, "unitPriceCents": 1 }] }),
            json!({ "userId": "1", "items": [item("A", 10000, 2147483647)] }),
        ];
        for input in bad {
            s.error(PLACE, json!({ "input": input }), "BAD_USER_INPUT").await;
        }
        assert_eq!(order_count(&s).await, 0);
        s
    })
    .await;
}

#[tokio::test]
async fn status_only_moves_forward_and_cancel_only_before_shipping() {
    on_each_backend::<Orders, _, _>(|s| async move {
        const UPDATE: &str = "mutation($id: ID!, $s: OrderStatus!) { updateOrderStatus(id: $id, status: $s) { status } }";
        const CANCEL: &str = "mutation($id: ID!) { cancelOrder(id: $id) { status } }";
        let id = place(&s, "1", vec![item("A", 1, 100)]).await["id"].clone();
        assert_eq!(s.data(UPDATE, json!({ "id": id, "s": "PAID" })).await["updateOrderStatus"]["status"], "PAID");
        s.error(UPDATE, json!({ "id": id, "s": "PENDING" }), "CONFLICT").await;
        s.error(UPDATE, json!({ "id": id, "s": "PAID" }), "CONFLICT").await;
        s.error(UPDATE, json!({ "id": id, "s": "CANCELLED" }), "BAD_USER_INPUT").await;
        assert_eq!(s.data(UPDATE, json!({ "id": id, "s": "SHIPPED" })).await["updateOrderStatus"]["status"], "SHIPPED");
        s.error(CANCEL, json!({ "id": id }), "CONFLICT").await;
        assert_eq!(s.data(UPDATE, json!({ "id": id, "s": "DELIVERED" })).await["updateOrderStatus"]["status"], "DELIVERED");

        let other = place(&s, "1", vec![item("B", 1, 100)]).await["id"].clone();
        assert_eq!(s.data(CANCEL, json!({ "id": other })).await["cancelOrder"]["status"], "CANCELLED");
        s.error(CANCEL, json!({ "id": other }), "CONFLICT").await;
        s.error(UPDATE, json!({ "id": other, "s": "PAID" }), "CONFLICT").await;
        s.error(CANCEL, json!({ "id": "9999" }), "NOT_FOUND").await;
        s.error(UPDATE, json!({ "id": "9999", "s": "PAID" }), "NOT_FOUND").await;
        s.error(CANCEL, json!({ "id": "zero" }), "BAD_USER_INPUT").await;
        s
    })
    .await;
}

#[tokio::test]
async fn orders_paginate_globally_and_per_user_with_status_filter() {
    on_each_backend::<Orders, _, _>(|s| async move {
        for i in 0..5 {
            place(&s, "1", vec![item(&format!("S{i}"), 1, 10)]).await;
        }
        place(&s, "2", vec![item("X", 1, 10)]).await;
        let first_two = s.data("{ orders(first: 2) { edges { node { items { sku } } } pageInfo { hasNextPage endCursor } } }", json!({})).await;
        assert_eq!(first_two["orders"]["pageInfo"]["hasNextPage"], true);
        let after = first_two["orders"]["pageInfo"]["endCursor"].clone();
        let next = s.data("query($a: String) { orders(first: 10, after: $a) { edges { node { id } } pageInfo { hasNextPage } } }", json!({ "a": after })).await;
        assert_eq!(next["orders"]["edges"].as_array().unwrap().len(), 4);
        assert_eq!(next["orders"]["pageInfo"]["hasNextPage"], false);

        let cancel_id = s.data("{ orders(first: 1) { edges { node { id } } } }", json!({})).await["orders"]["edges"][0]["node"]["id"].clone();
        s.data("mutation($id: ID!) { cancelOrder(id: $id) { id } }", json!({ "id": cancel_id })).await;

        const USER: &str = "query($r: [_Any!]!, $st: OrderStatus) { _entities(representations: $r) { ... on User { id orderCount orders(first: 2, status: $st) { edges { node { status items { sku } } } pageInfo { hasNextPage } } } } }";
        let reps = json!([{ "__typename": "User", "id": "1" }, { "__typename": "User", "id": "2" }, { "__typename": "User", "id": "3" }]);
        let data = s.data(USER, json!({ "r": reps })).await;
        let users = data["_entities"].as_array().unwrap();
        assert_eq!(users[0]["orderCount"], 5);
        assert_eq!(users[0]["orders"]["edges"].as_array().unwrap().len(), 2);
        assert_eq!(users[0]["orders"]["pageInfo"]["hasNextPage"], true);
        assert_eq!(users[1]["orders"]["edges"][0]["node"]["items"], json!([{ "sku": "X" }]));
        assert_eq!(users[2], json!({ "id": "3", "orderCount": 0, "orders": { "edges": [], "pageInfo": { "hasNextPage": false } } }));

        let cancelled = s.data(USER, json!({ "r": reps, "st": "CANCELLED" })).await;
        assert_eq!(cancelled["_entities"][0]["orders"]["edges"], json!([{ "node": { "status": "CANCELLED", "items": [{ "sku": "S0" }] } }]));
        s.error("{ orders(first: 500) { edges { cursor } } }", json!({}), "BAD_USER_INPUT").await;
        s
    })
    .await;
}

#[tokio::test]
async fn nested_reads_cost_a_constant_number_of_statements() {
    on_each_backend_with::<Orders, _, _>(|c| c.cache_capacity = 0, |s| async move {
        for user in 1..=10 {
            for n in 0..2 {
                place(&s, &user.to_string(), vec![item(&format!("U{user}N{n}"), 1, 10), item("Z", 2, 5)]).await;
            }
        }
        const Q: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { orderCount orders { edges { node { id totalCents items { sku quantity } } } } } } }";
        let reps = |n: i32| json!((1..=n).map(|id| json!({ "__typename": "User", "id": id.to_string() })).collect::<Vec<_>>());
        let (three, few) = s.counting_sql(Q, json!({ "r": reps(3) })).await;
        let (ten, many) = s.counting_sql(Q, json!({ "r": reps(10) })).await;
        assert_eq!(three["_entities"].as_array().unwrap().len(), 3);
        assert_eq!(ten["_entities"][9]["orders"]["edges"][1]["node"]["items"][0]["sku"], "U10N1");
        assert_eq!(ten["_entities"][9]["orderCount"], 2);
        // orders of all users + their items + their counts
        assert_eq!(few, 3, "[{}]", s.backend);
        assert_eq!(many, 3, "[{}] statements do not grow with the number of users", s.backend);

        const ORDERS: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id totalCents } } }";
        let order_reps = json!([{ "__typename": "Order", "id": "3" }, { "__typename": "Order", "id": "999" }, { "__typename": "Order", "id": "1" }, { "__typename": "Order", "id": "3" }]);
        let (data, statements) = s.counting_sql(ORDERS, json!({ "r": order_reps })).await;
        assert_eq!(data["_entities"], json!([{ "id": "3", "totalCents": 20 }, null, { "id": "1", "totalCents": 20 }, { "id": "3", "totalCents": 20 }]));
        assert_eq!(statements, 1);
        s
    })
    .await;
}

#[tokio::test]
async fn a_status_change_is_seen_by_the_next_read() {
    on_each_backend::<Orders, _, _>(|s| async move {
        let id = place(&s, "1", vec![item("A", 1, 100)]).await["id"].clone();
        const READ: &str = "query($id: ID!) { order(id: $id) { status } }";
        assert_eq!(s.data(READ, json!({ "id": id })).await["order"]["status"], "PENDING");
        let (_, warm) = s.counting_sql(READ, json!({ "id": id })).await;
        assert_eq!(warm, 0, "[{}] a hot order comes from the cache", s.backend);
        s.data("mutation($id: ID!) { updateOrderStatus(id: $id, status: PAID) { id } }", json!({ "id": id })).await;
        assert_eq!(s.data(READ, json!({ "id": id })).await["order"]["status"], "PAID");
        s.data("mutation($id: ID!) { cancelOrder(id: $id) { id } }", json!({ "id": id })).await;
        let reps = json!([{ "__typename": "Order", "id": id }]);
        let entity = s.data("query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { status } } }", json!({ "r": reps })).await;
        assert_eq!(entity["_entities"][0]["status"], "CANCELLED");
        s
    })
    .await;
}

/// The outbox rows, oldest first: (kind, status, order id, user id, item count, total).
async fn outbox(s: &TestServer) -> Vec<(String, String, i32, i32, i32, i64)> {
    use sea_orm::{EntityTrait, QueryOrder};
    orders::entity::order_event::Entity::find()
        .order_by_asc(orders::entity::order_event::Column::Id)
        .all(&s.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.kind,
                e.status,
                e.order_id,
                e.user_id,
                e.item_count,
                e.total_cents,
            )
        })
        .collect()
}

#[tokio::test]
async fn each_committed_change_writes_exactly_one_event_and_a_refused_one_none() {
    on_each_backend::<Orders, _, _>(|s| async move {
        const UPDATE: &str = "mutation($id: ID!, $s: OrderStatus!) { updateOrderStatus(id: $id, status: $s) { status } }";
        const CANCEL: &str = "mutation($id: ID!) { cancelOrder(id: $id) { status } }";
        let order = place(&s, "7", vec![item("A", 2, 150), item("B", 1, 1000)]).await;
        let id = order["id"].clone();
        let n: i32 = id.as_str().unwrap().parse().unwrap();
        s.data(UPDATE, json!({ "id": id, "s": "PAID" })).await;
        s.error(UPDATE, json!({ "id": id, "s": "PENDING" }), "CONFLICT").await;
        s.data(CANCEL, json!({ "id": id })).await;
        s.error(CANCEL, json!({ "id": id }), "CONFLICT").await;
        s.error(CANCEL, json!({ "id": "9999" }), "NOT_FOUND").await;
        s.error(PLACE, json!({ "input": { "userId": "7", "items": [] } }), "BAD_USER_INPUT").await;
        let row = |kind: &str, status: &str| (kind.to_owned(), status.to_owned(), n, 7, 3, 1300);
        assert_eq!(
            outbox(&s).await,
            vec![
                row("OrderPlaced", "PENDING"),
                row("OrderStatusChanged", "PAID"),
                row("OrderStatusChanged", "CANCELLED"),
            ],
            "[{}]",
            s.backend
        );
        // Nothing consumes events in this process, so they wait in the outbox.
        assert_eq!(orders::outbox::pending(&s.db).await.unwrap(), 3);
        s
    })
    .await;
}

#[tokio::test]
async fn demo_data_is_history_not_events() {
    on_each_backend_with::<Orders, _, _>(
        |c| c.seed = true,
        |s| async move {
            assert!(order_count(&s).await > 0);
            assert!(outbox(&s).await.is_empty(), "[{}]", s.backend);
            s
        },
    )
    .await;
}

#[tokio::test]
async fn the_relay_delivers_pending_events_in_order_to_the_in_process_consumer() {
    use kit::events::{Broker, Handled, LocalBus, Topic};
    use std::sync::{Arc, Mutex};
    let bus = LocalBus::default();
    let tune = kit::testing::linked_by(&bus);
    on_each_backend_with::<Orders, _, _>(tune, |s| {
        let bus = bus.clone();
        async move {
            // Written while nobody consumes: they wait.
            let first = place(&s, "3", vec![item("A", 1, 100)]).await["id"].clone();
            assert_eq!(orders::outbox::pending(&s.db).await.unwrap(), 1);
            // A consumer starts; the doorbell of the next commit (or the poll) drains the outbox.
            let seen = Arc::new(Mutex::new(Vec::new()));
            let workers = kit::workers::Workers::default();
            let config = kit::SubgraphConfig::defaults("orders", 0);
            workers.spawn(|stop| {
                let seen = seen.clone();
                async move {
                    Broker::Local(bus)
                        .consume(&Topic::orders(&config), "test", stop, |event| {
                            seen.lock().unwrap().push(event.unwrap());
                            std::future::ready(Handled::Done)
                        })
                        .await
                }
            });
            let second = place(&s, "3", vec![item("B", 2, 100)]).await["id"].clone();
            for _ in 0..300 {
                if orders::outbox::pending(&s.db).await.unwrap() == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert_eq!(
                orders::outbox::pending(&s.db).await.unwrap(),
                0,
                "[{}]",
                s.backend
            );
            workers.stop().await;
            let seen = seen.lock().unwrap().clone();
            let ids: Vec<String> = seen.iter().map(|e| e.order_id.to_string()).collect();
            assert_eq!(ids, [first.as_str().unwrap(), second.as_str().unwrap()]);
            assert_eq!(seen[1].item_count, 2);
            s
        }
    })
    .await;
}

#[tokio::test]
async fn a_websocket_subscriber_sees_each_status_change_of_its_order() {
    on_each_backend::<Orders, _, _>(|s| async move {
        let id = place(&s, "4", vec![item("A", 1, 100)]).await["id"].clone();
        let other = place(&s, "4", vec![item("B", 1, 100)]).await["id"].clone();
        let mut sub = kit::testing::WsSubscription::start(
            &format!("{}/graphql", s.base),
            "subscription($id: ID!) { orderStatusChanged(orderId: $id) { id status user { id } } }",
            json!({ "id": id }),
        )
        .await;
        s.wait_for_subscribers("orderStatusChanged", 1).await;
        const UPDATE: &str = "mutation($id: ID!, $s: OrderStatus!) { updateOrderStatus(id: $id, status: $s) { status } }";
        s.data(UPDATE, json!({ "id": other, "s": "PAID" })).await;
        s.data(UPDATE, json!({ "id": id, "s": "PAID" })).await;
        s.data("mutation($id: ID!) { cancelOrder(id: $id) { status } }", json!({ "id": id })).await;
        let expect = |status: &str| json!({ "data": { "orderStatusChanged": { "id": id, "status": status, "user": { "id": "4" } } } });
        assert_eq!(sub.next_payload().await, expect("PAID"));
        assert_eq!(sub.next_payload().await, expect("CANCELLED"));
        s
    })
    .await;
}

/// Orders are their user's: placing one for someone else, reading or
/// cancelling another user's, or listing all orders is refused.
#[tokio::test]
async fn only_the_owner_or_an_admin_places_reads_and_cancels_orders() {
    on_each_backend::<Orders, _, _>(|s| async move {
        let code = |r: &Value| r["errors"][0]["extensions"]["code"].as_str().map(str::to_owned);
        let (seven, eight) = (user_token(7), user_token(8));
        let input = json!({ "input": { "userId": "7", "items": [item("A", 1, 100)] } });
        let for_other = s.gql_as(Some(&eight), PLACE, input.clone()).await;
        assert_eq!(code(&for_other).as_deref(), Some("FORBIDDEN"), "{for_other}");
        let anonymous = s.gql_as(None, PLACE, input.clone()).await;
        assert_eq!(code(&anonymous).as_deref(), Some("UNAUTHENTICATED"));
        assert_eq!(order_count(&s).await, 0, "nothing was written");
        let placed = s.gql_as(Some(&seven), PLACE, input).await;
        let id = placed["data"]["placeOrder"]["id"].as_str().expect("placed").to_owned();

        let read = "query($id: ID!) { order(id: $id) { totalCents } }";
        let other = s.gql_as(Some(&eight), read, json!({ "id": id })).await;
        assert_eq!((other["data"]["order"].clone(), code(&other).as_deref()), (Value::Null, Some("FORBIDDEN")));
        let own = s.gql_as(Some(&seven), read, json!({ "id": id })).await;
        assert_eq!(own["data"]["order"]["totalCents"], 100);
        let cancel = "mutation($id: ID!) { cancelOrder(id: $id) { status } }";
        let refused = s.gql_as(Some(&eight), cancel, json!({ "id": id })).await;
        assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"));
        let all = s.gql_as(Some(&seven), "{ orders { edges { cursor } } }", json!({})).await;
        assert_eq!(code(&all).as_deref(), Some("FORBIDDEN"), "listing every order is for admins");
        let user_orders = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { orders { edges { cursor } } orderCount } } }";
        let seen = s.gql_as(Some(&eight), user_orders, json!({ "r": [{ "__typename": "User", "id": "7" }] })).await;
        let entity = &seen["data"]["_entities"][0];
        assert_eq!((&entity["orders"], &entity["orderCount"]), (&Value::Null, &Value::Null), "{seen}");
        assert_eq!(code(&seen).as_deref(), Some("FORBIDDEN"));
        let cancelled = s.gql_as(Some(&seven), cancel, json!({ "id": id })).await;
        assert_eq!(cancelled["data"]["cancelOrder"]["status"], "CANCELLED");
        s
    })
    .await;
}
