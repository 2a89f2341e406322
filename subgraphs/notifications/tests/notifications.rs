//! The notifications subgraph over HTTP, on SQLite and (with TEST_DATABASE_URL) PostgreSQL.

use kit::{
    demo,
    testing::{TestServer, check_schema_file, on_each_backend, on_each_backend_with, user_token},
};
use notifications::Notifications;
use serde_json::{Value, json};

const SEND: &str = "mutation($input: SendNotificationInput!) { sendNotification(input: $input) { id channel title body read createdAt user { id } order { id } } }";
const READ: &str = "query($id: ID!) { notification(id: $id) { id title read } }";
const MARK: &str = "mutation($id: ID!) { markNotificationRead(id: $id) { id read } }";
const MARK_ALL: &str = "mutation($u: ID!) { markAllNotificationsRead(userId: $u) }";
const ENTITIES: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Notification { id title read } } }";
const USER_PAGE: &str = "query($r: [_Any!]!, $unreadOnly: Boolean, $first: Int, $after: String) { _entities(representations: $r) { ... on User { id notifications(unreadOnly: $unreadOnly, first: $first, after: $after) { edges { cursor node { title read } } pageInfo { hasNextPage endCursor } } unreadNotificationCount } } }";

/// Sends a notification and returns its id.
async fn send(s: &TestServer, user: i32, order: Option<i32>, title: &str) -> String {
    let input = json!({
        "userId": user.to_string(),
        "orderId": order.map(|o| o.to_string()),
        "channel": "EMAIL",
        "title": title,
        "body": "body",
    });
    s.data(SEND, json!({ "input": input })).await["sendNotification"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn user_rep(id: i32) -> Value {
    json!({ "__typename": "User", "id": id.to_string() })
}

/// One user's `notifications` connection and unread count, through `_entities`.
async fn user_page(s: &TestServer, user: i32, vars: Value) -> Value {
    let mut vars = vars;
    vars["r"] = json!([user_rep(user)]);
    s.data(USER_PAGE, vars).await["_entities"][0].clone()
}

fn titles(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn exported_sdl_matches_the_committed_schema_file() {
    on_each_backend::<Notifications, _, _>(|s| async move {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../schema/notifications.graphql");
        check_schema_file(&s, &path).await;
        s
    })
    .await;
}

#[tokio::test]
async fn send_and_read_back() {
    on_each_backend::<Notifications, _, _>(|s| async move {
        let input = json!({ "userId": "7", "orderId": "42", "channel": "IN_APP", "title": "  Shipped  ", "body": " On its way. " });
        let sent = s.data(SEND, json!({ "input": input })).await["sendNotification"].clone();
        assert_eq!(sent["channel"], "IN_APP");
        assert_eq!(sent["title"], "Shipped");
        assert_eq!(sent["body"], "On its way.");
        assert_eq!(sent["read"], false);
        assert_eq!(sent["user"], json!({ "id": "7" }));
        assert_eq!(sent["order"], json!({ "id": "42" }));
        assert!(sent["createdAt"].as_str().unwrap().contains('T'));

        let id = sent["id"].as_str().unwrap();
        let read = s.data("query($id: ID!) { notification(id: $id) { id channel title body read user { id } order { id } } }", json!({ "id": id })).await;
        assert_eq!(read["notification"]["title"], "Shipped");
        assert_eq!(read["notification"]["order"]["id"], "42");

        let no_order = json!({ "userId": "7", "channel": "SMS", "title": "Hi", "body": "x" });
        let sent = s.data(SEND, json!({ "input": no_order })).await["sendNotification"].clone();
        assert_eq!(sent["order"], Value::Null);
        assert_eq!(sent["channel"], "SMS");

        assert_eq!(s.data(READ, json!({ "id": "999" })).await["notification"], Value::Null);
        s.error(READ, json!({ "id": "abc" }), "BAD_USER_INPUT").await;
        s.error(READ, json!({ "id": "0" }), "BAD_USER_INPUT").await;
        s
    })
    .await;
}

#[tokio::test]
async fn send_rejects_bad_input_and_writes_nothing() {
    on_each_backend::<Notifications, _, _>(|s| async move {
        let valid = json!({ "userId": "3", "channel": "PUSH", "title": "T", "body": "B" });
        let with = |field: &str, value: Value| {
            let mut input = valid.clone();
            input[field] = value;
            json!({ "input": input })
        };
        for (field, value) in [
            ("userId", json!("abc")),
            ("userId", json!("-1")),
            ("orderId", json!("x1")),
            ("title", json!("   ")),
            ("title", json!("t".repeat(201))),
            ("body", json!("")),
            ("body", json!("b".repeat(5001))),
        ] {
            let err = s.error(SEND, with(field, value), "BAD_USER_INPUT").await;
            assert!(!err["message"].as_str().unwrap().is_empty());
        }
        // The bounds themselves are allowed, counted in characters.
        s.data(SEND, with("title", json!("é".repeat(200)))).await;
        s.data(SEND, with("body", json!("b".repeat(5000)))).await;

        let page = user_page(&s, 3, json!({})).await;
        assert_eq!(page["notifications"]["edges"].as_array().unwrap().len(), 2);
        assert_eq!(page["unreadNotificationCount"], 2);
        s
    })
    .await;
}

#[tokio::test]
async fn mark_read_is_idempotent_and_mark_all_counts_changes() {
    on_each_backend::<Notifications, _, _>(|s| async move {
        let a = send(&s, 7, None, "a").await;
        send(&s, 7, Some(1), "b").await;
        send(&s, 7, None, "c").await;
        let other = send(&s, 8, None, "other").await;

        let marked = s.data(MARK, json!({ "id": a })).await;
        assert_eq!(
            marked["markNotificationRead"],
            json!({ "id": a, "read": true })
        );
        let again = s.data(MARK, json!({ "id": a })).await;
        assert_eq!(
            again["markNotificationRead"],
            json!({ "id": a, "read": true })
        );
        s.error(MARK, json!({ "id": "999" }), "NOT_FOUND").await;
        s.error(MARK, json!({ "id": "nope" }), "BAD_USER_INPUT")
            .await;

        let changed = s.data(MARK_ALL, json!({ "u": "7" })).await;
        assert_eq!(changed["markAllNotificationsRead"], 2);
        let changed = s.data(MARK_ALL, json!({ "u": "7" })).await;
        assert_eq!(changed["markAllNotificationsRead"], 0);
        let nobody = s.data(MARK_ALL, json!({ "u": "12345" })).await;
        assert_eq!(nobody["markAllNotificationsRead"], 0);
        s.error(MARK_ALL, json!({ "u": "x" }), "BAD_USER_INPUT")
            .await;

        assert_eq!(
            user_page(&s, 7, json!({})).await["unreadNotificationCount"],
            0
        );
        let untouched = s.data(READ, json!({ "id": other })).await;
        assert_eq!(untouched["notification"]["read"], false);
        assert_eq!(
            user_page(&s, 8, json!({})).await["unreadNotificationCount"],
            1
        );
        s
    })
    .await;
}

#[tokio::test]
async fn user_notifications_paginate_by_cursor_with_unread_only() {
    on_each_backend::<Notifications, _, _>(|s| async move {
        let mut ids = Vec::new();
        for i in 1..=5 {
            ids.push(send(&s, 4, None, &format!("n{i}")).await);
            send(&s, 5, None, &format!("someone else {i}")).await;
        }
        s.data(MARK, json!({ "id": ids[1] })).await;
        s.data(MARK, json!({ "id": ids[2] })).await;

        let first = user_page(&s, 4, json!({ "first": 2 })).await;
        let conn = &first["notifications"];
        assert_eq!(titles(conn), ["n1", "n2"]);
        assert_eq!(conn["pageInfo"]["hasNextPage"], true);
        assert_eq!(conn["pageInfo"]["endCursor"], conn["edges"][1]["cursor"]);
        assert_eq!(first["unreadNotificationCount"], 3);

        let after = conn["pageInfo"]["endCursor"].clone();
        let second = user_page(&s, 4, json!({ "first": 2, "after": after })).await;
        assert_eq!(titles(&second["notifications"]), ["n3", "n4"]);
        let after = second["notifications"]["pageInfo"]["endCursor"].clone();
        let last = user_page(&s, 4, json!({ "first": 2, "after": after })).await;
        assert_eq!(titles(&last["notifications"]), ["n5"]);
        assert_eq!(last["notifications"]["pageInfo"]["hasNextPage"], false);

        let all = user_page(&s, 4, json!({})).await;
        assert_eq!(
            titles(&all["notifications"]),
            ["n1", "n2", "n3", "n4", "n5"]
        );
        let explicit_false = user_page(&s, 4, json!({ "unreadOnly": false })).await;
        assert_eq!(titles(&explicit_false["notifications"]).len(), 5);

        let unread = user_page(&s, 4, json!({ "unreadOnly": true, "first": 2 })).await;
        assert_eq!(titles(&unread["notifications"]), ["n1", "n4"]);
        assert_eq!(unread["notifications"]["pageInfo"]["hasNextPage"], true);
        let after = unread["notifications"]["pageInfo"]["endCursor"].clone();
        let rest = user_page(
            &s,
            4,
            json!({ "unreadOnly": true, "first": 2, "after": after }),
        )
        .await;
        assert_eq!(titles(&rest["notifications"]), ["n5"]);
        assert_eq!(rest["notifications"]["pageInfo"]["hasNextPage"], false);

        let empty = user_page(&s, 4, json!({ "first": 0 })).await;
        assert_eq!(titles(&empty["notifications"]).len(), 0);
        assert_eq!(empty["notifications"]["pageInfo"]["hasNextPage"], true);

        let r = json!([user_rep(4)]);
        s.error(USER_PAGE, json!({ "r": r, "first": 101 }), "BAD_USER_INPUT")
            .await;
        s.error(USER_PAGE, json!({ "r": r, "first": -1 }), "BAD_USER_INPUT")
            .await;
        s.error(
            USER_PAGE,
            json!({ "r": r, "after": "garbage" }),
            "BAD_USER_INPUT",
        )
        .await;
        s
    })
    .await;
}

#[tokio::test]
async fn user_notifications_default_to_twenty_and_allow_a_hundred() {
    on_each_backend_with::<Notifications, _, _>(seeded, |s| async move {
        // Lots of notifications for one user, in one request each.
        for i in 0..110 {
            send(&s, 1, None, &format!("bulk {i}")).await;
        }
        let default = user_page(&s, 1, json!({})).await;
        assert_eq!(titles(&default["notifications"]).len(), 20);
        assert_eq!(default["notifications"]["pageInfo"]["hasNextPage"], true);
        let max = user_page(&s, 1, json!({ "first": 100 })).await;
        assert_eq!(titles(&max["notifications"]).len(), 100);
        s
    })
    .await;
}

#[tokio::test]
async fn notification_entities_keep_order_duplicates_and_missing_keys_in_one_statement() {
    // Cache off: every representation must come from the database, in one batch.
    on_each_backend_with::<Notifications, _, _>(
        |c| c.cache_capacity = 0,
        |s| async move {
            let mut ids = Vec::new();
            for i in 1..=3 {
                ids.push(send(&s, 1, None, &format!("E{i}")).await);
            }
            let reps = json!([
                { "__typename": "Notification", "id": ids[2] },
                { "__typename": "Notification", "id": "424242" },
                { "__typename": "Notification", "id": ids[0] },
                { "__typename": "Notification", "id": ids[2] },
                { "__typename": "Notification", "id": "not-a-number" },
                { "__typename": "Notification", "id": ids[1] },
            ]);
            let label = [("entity", "Notification")];
            let batches_before = s.metric("dataloader_batches_total", &label).await;
            let (data, statements) = s.counting_sql(ENTITIES, json!({ "r": reps })).await;
            let got: Vec<Value> = data["_entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["title"].clone())
                .collect();
            assert_eq!(
                got,
                [
                    json!("E3"),
                    Value::Null,
                    json!("E1"),
                    json!("E3"),
                    Value::Null,
                    json!("E2")
                ]
            );
            assert_eq!(
                statements, 1,
                "[{}] six representations, one SQL statement",
                s.backend
            );
            let batches = s.metric("dataloader_batches_total", &label).await - batches_before;
            assert_eq!(batches, 1.0);
            s
        },
    )
    .await;
}

#[tokio::test]
async fn user_and_order_stub_entities_keep_order_duplicates_and_missing_keys() {
    on_each_backend::<Notifications, _, _>(|s| async move {
        send(&s, 2, Some(20), "u2 o20 a").await;
        send(&s, 3, Some(30), "u3 o30").await;
        send(&s, 2, Some(20), "u2 o20 b").await;
        send(&s, 2, None, "u2 none").await;

        let reps = json!([
            user_rep(3),
            user_rep(99),
            user_rep(2),
            user_rep(3),
            { "__typename": "User", "id": "bad" },
        ]);
        let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id notifications { edges { node { title } } } unreadNotificationCount } } }";
        let users = s.data(q, json!({ "r": reps })).await["_entities"].clone();
        assert_eq!(users[0]["id"], "3");
        assert_eq!(titles(&users[0]["notifications"]), ["u3 o30"]);
        assert_eq!(users[1]["id"], "99", "a user without notifications is still a user");
        assert_eq!(titles(&users[1]["notifications"]).len(), 0);
        assert_eq!(users[1]["unreadNotificationCount"], 0);
        assert_eq!(titles(&users[2]["notifications"]), ["u2 o20 a", "u2 o20 b", "u2 none"]);
        assert_eq!(users[2]["unreadNotificationCount"], 3);
        assert_eq!(users[3], users[0]);
        assert_eq!(users[4], Value::Null);

        let reps = json!([
            { "__typename": "Order", "id": "30" },
            { "__typename": "Order", "id": "20" },
            { "__typename": "Order", "id": "77" },
            { "__typename": "Order", "id": "20" },
            { "__typename": "Order", "id": "x" },
        ]);
        let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id notifications { title user { id } order { id } } } } }";
        let orders = s.data(q, json!({ "r": reps })).await["_entities"].clone();
        assert_eq!(
            orders,
            json!([
                { "id": "30", "notifications": [{ "title": "u3 o30", "user": { "id": "3" }, "order": { "id": "30" } }] },
                { "id": "20", "notifications": [
                    { "title": "u2 o20 a", "user": { "id": "2" }, "order": { "id": "20" } },
                    { "title": "u2 o20 b", "user": { "id": "2" }, "order": { "id": "20" } },
                ] },
                { "id": "77", "notifications": [] },
                { "id": "20", "notifications": [
                    { "title": "u2 o20 a", "user": { "id": "2" }, "order": { "id": "20" } },
                    { "title": "u2 o20 b", "user": { "id": "2" }, "order": { "id": "20" } },
                ] },
                null,
            ])
        );
        s
    })
    .await;
}

#[tokio::test]
async fn cache_serves_hot_notifications_and_forgets_them_on_write() {
    on_each_backend::<Notifications, _, _>(|s| async move {
        let a = send(&s, 6, None, "a").await;
        let b = send(&s, 6, None, "b").await;
        let elsewhere = send(&s, 9, None, "elsewhere").await;
        for id in [&a, &b, &elsewhere] {
            let (_, cold) = s.counting_sql(READ, json!({ "id": id })).await;
            assert_eq!(cold, 1);
            let (warm_data, warm) = s.counting_sql(READ, json!({ "id": id })).await;
            assert_eq!(
                warm, 0,
                "[{}] a hot notification is served from the cache",
                s.backend
            );
            assert_eq!(warm_data["notification"]["read"], false);
        }
        let hits = s
            .metric("entity_cache_hits_total", &[("entity", "Notification")])
            .await;
        assert!(hits >= 3.0);

        s.data(MARK, json!({ "id": a })).await;
        assert_eq!(
            s.data(READ, json!({ "id": a })).await["notification"]["read"],
            true
        );
        let reps = json!([{ "__typename": "Notification", "id": a }]);
        assert_eq!(
            s.data(ENTITIES, json!({ "r": reps })).await["_entities"][0]["read"],
            true
        );

        s.data(MARK_ALL, json!({ "u": "6" })).await;
        assert_eq!(
            s.data(READ, json!({ "id": b })).await["notification"]["read"],
            true
        );
        let reps = json!([{ "__typename": "Notification", "id": b }]);
        assert_eq!(
            s.data(ENTITIES, json!({ "r": reps })).await["_entities"][0]["read"],
            true
        );
        // Another user's cached notification stays cached.
        let (other, statements) = s.counting_sql(READ, json!({ "id": elsewhere })).await;
        assert_eq!(other["notification"]["read"], false);
        assert_eq!(
            statements, 0,
            "[{}] markAll only forgets that user's rows",
            s.backend
        );
        s
    })
    .await;
}

#[tokio::test]
async fn related_fields_cost_a_constant_number_of_statements() {
    on_each_backend_with::<Notifications, _, _>(seeded, |s| async move {
        let all = demo::notifications();

        let reps: Vec<Value> = (1..=10).map(user_rep).collect();
        let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id notifications { edges { node { id } } } unreadNotificationCount } } }";
        let (data, statements) = s.counting_sql(q, json!({ "r": reps })).await;
        assert_eq!(statements, 2, "[{}] ten users: one page query, one count query", s.backend);
        for (i, user) in data["_entities"].as_array().unwrap().iter().enumerate() {
            let user_id = i as i32 + 1;
            let mine: Vec<(usize, bool)> = all
                .iter()
                .enumerate()
                .filter(|(_, n)| n.user_id == user_id)
                .map(|(i, n)| (i + 1, n.read))
                .collect();
            let ids: Vec<Value> = user["notifications"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].clone())
                .collect();
            let expected: Vec<Value> = mine.iter().map(|(id, _)| json!(id.to_string())).collect();
            assert_eq!(ids, expected, "user {user_id}");
            let unread = mine.iter().filter(|(_, read)| !read).count();
            assert_eq!(user["unreadNotificationCount"], unread, "user {user_id}");
        }

        // Different arguments on the same users: one statement per distinct argument set.
        let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { a: notifications(first: 1) { edges { node { id } } } b: notifications(unreadOnly: true) { edges { node { id } } } } } }";
        let (_, statements) = s.counting_sql(q, json!({ "r": reps })).await;
        assert_eq!(statements, 2, "[{}] two argument sets, two statements", s.backend);

        let reps: Vec<Value> = (1..=10)
            .map(|id| json!({ "__typename": "Order", "id": id.to_string() }))
            .collect();
        let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id notifications { id } } } }";
        let (data, statements) = s.counting_sql(q, json!({ "r": reps })).await;
        assert_eq!(statements, 1, "[{}] ten orders, one statement", s.backend);
        for (i, order) in data["_entities"].as_array().unwrap().iter().enumerate() {
            let order_id = i as i32 + 1;
            let expected: Vec<Value> = all
                .iter()
                .enumerate()
                .filter(|(_, n)| n.order_id == Some(order_id))
                .map(|(i, _)| json!({ "id": (i + 1).to_string() }))
                .collect();
            assert_eq!(order["notifications"], json!(expected), "order {order_id}");
        }
        s
    })
    .await;
}

#[tokio::test]
async fn seeding_fills_an_empty_database_with_the_demo_data() {
    on_each_backend_with::<Notifications, _, _>(seeded, |s| async move {
        let all = demo::notifications();
        let last = all.len();
        let q = "query($id: ID!) { notification(id: $id) { title read user { id } order { id } } }";
        let read = s.data(q, json!({ "id": last.to_string() })).await["notification"].clone();
        let expected = &all[last - 1];
        assert_eq!(read["title"], expected.title);
        assert_eq!(read["read"], expected.read);
        assert_eq!(read["user"]["id"], expected.user_id.to_string());
        assert_eq!(read["order"]["id"], expected.order_id.unwrap().to_string());
        let past_the_end = s.data(q, json!({ "id": (last + 1).to_string() })).await;
        assert_eq!(past_the_end["notification"], Value::Null);
        s
    })
    .await;
}

#[tokio::test]
async fn health_ready_and_metrics() {
    on_each_backend::<Notifications, _, _>(|s| async move {
        assert_eq!(s.get("/health").await.status(), 200);
        assert_eq!(s.get("/ready").await.status(), 200);
        s.data(READ, json!({ "id": "1" })).await;
        let metrics = s.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains("http_requests_total{subgraph=\"notifications\"}"),
            "{metrics}"
        );
        s
    })
    .await;
}

#[tokio::test]
async fn a_lost_database_is_internal_without_details_and_not_ready() {
    on_each_backend::<Notifications, _, _>(|s| async move {
        let id = send(&s, 1, None, "before").await;
        s.db.clone().close().await.expect("close pool");
        // Through a loader and through a repository call: both hide the database text.
        for (query, vars) in [(READ, json!({ "id": id })), (MARK_ALL, json!({ "u": "1" }))] {
            let err = s.error(query, vars, "INTERNAL").await;
            assert_eq!(
                err["message"], "internal error",
                "no database text leaks to the client"
            );
        }
        assert_eq!(s.get("/ready").await.status(), 503);
        assert_eq!(s.get("/health").await.status(), 200);
        s
    })
    .await;
}

/// Starts with the demo data, seeded the way a real start seeds it.
fn seeded(config: &mut kit::SubgraphConfig) {
    config.seed = true;
}

/// Hands `payload` to the subgraph's in-process consumer and waits for its
/// confirmation (retrying while the consumer is still starting).
async fn deliver(bus: &kit::events::LocalBus, payload: Vec<u8>) {
    for _ in 0..200 {
        match bus.publish_raw(payload.clone()).await {
            Ok(()) => return,
            Err(kit::events::EventsError::NoLocalConsumer) => {
                tokio::time::sleep(std::time::Duration::from_millis(25)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the consumer did not start");
}

fn order_event(
    kind: kit::events::OrderEventKind,
    user: i32,
    status: &str,
) -> kit::events::OrderEvent {
    kit::events::OrderEvent {
        event_id: kit::events::new_event_id(),
        kind,
        order_id: 42,
        user_id: user,
        status: status.into(),
        item_count: 3,
        total_cents: 5990,
        currency: "EUR".into(),
        occurred_at: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn order_events_become_one_notification_each_and_poison_is_counted_not_retried() {
    use kit::events::OrderEventKind::*;
    let bus = kit::events::LocalBus::default();
    let tune = kit::testing::linked_by(&bus);
    on_each_backend_with::<Notifications, _, _>(tune, |s| {
        let bus = bus.clone();
        async move {
            let mut sub = kit::testing::WsSubscription::start(
                &format!("{}/graphql", s.base),
                "subscription { notificationAdded(userId: \"5\") { title body channel order { id } user { id } } }",
                json!({}),
            )
            .await;
            s.wait_for_subscribers("notificationAdded", 1).await;
            let placed = order_event(OrderPlaced, 5, "PENDING");
            deliver(&bus, placed.encode()).await;
            // Redelivered, as after a crash before the ack: no second notification.
            deliver(&bus, placed.encode()).await;
            deliver(&bus, order_event(OrderStatusChanged, 5, "SHIPPED").encode()).await;
            deliver(&bus, b"{ not an event".to_vec()).await;
            deliver(&bus, order_event(OrderPlaced, 0, "PENDING").encode()).await;

            let page = user_page(&s, 5, json!({})).await;
            assert_eq!(
                page["notifications"]["edges"],
                json!([
                    { "cursor": page["notifications"]["edges"][0]["cursor"], "node": { "title": "Order 42 placed", "read": false } },
                    { "cursor": page["notifications"]["edges"][1]["cursor"], "node": { "title": "Order 42 shipped", "read": false } },
                ]),
                "[{}]",
                s.backend
            );
            let first = sub.next_payload().await;
            assert_eq!(
                first["data"]["notificationAdded"],
                json!({ "title": "Order 42 placed", "body": "Order 42 placed: 3 items, 59.90 EUR", "channel": "IN_APP", "order": { "id": "42" }, "user": { "id": "5" } })
            );
            assert_eq!(sub.next_payload().await["data"]["notificationAdded"]["body"], "Order 42 shipped");
            let outcome = async |o: &str| s.metric("events_consumed_total", &[("outcome", o)]).await;
            assert_eq!(outcome("created").await, 2.0);
            assert_eq!(outcome("duplicate").await, 1.0);
            assert_eq!(outcome("poison").await, 2.0);
            s
        }
    })
    .await;
}

#[tokio::test]
async fn a_sent_notification_reaches_the_subscribers_of_its_user_only() {
    on_each_backend::<Notifications, _, _>(|s| async move {
        let mut sub = kit::testing::WsSubscription::start(
            &format!("{}/graphql", s.base),
            "subscription($u: ID!) { notificationAdded(userId: $u) { id title } }",
            json!({ "u": "2" }),
        )
        .await;
        s.wait_for_subscribers("notificationAdded", 1).await;
        send(&s, 1, None, "for someone else").await;
        let id = send(&s, 2, Some(3), "for you").await;
        assert_eq!(
            sub.next_payload().await,
            json!({ "data": { "notificationAdded": { "id": id, "title": "for you" } } })
        );
        s
    })
    .await;
}

/// Reached directly, the subgraph checks the token itself: anonymous callers
/// get nothing protected, a user only their own notifications, and nobody
/// marks someone else's read; a forged token is 401 before anything runs.
#[tokio::test]
async fn only_the_owner_or_an_admin_reads_and_marks_notifications() {
    on_each_backend::<Notifications, _, _>(|s| async move {
        let mine = send(&s, 7, None, "for seven").await;
        let (seven, eight) = (user_token(7), user_token(8));
        let code = |r: &Value| {
            r["errors"][0]["extensions"]["code"]
                .as_str()
                .map(str::to_owned)
        };

        let anonymous = s.gql_as(None, READ, json!({ "id": mine })).await;
        assert_eq!(
            anonymous["data"]["notification"],
            Value::Null,
            "{anonymous}"
        );
        assert_eq!(code(&anonymous).as_deref(), Some("UNAUTHENTICATED"));
        let page = s
            .gql_as(None, USER_PAGE, json!({ "r": [user_rep(7)] }))
            .await;
        assert_eq!(
            page["data"]["_entities"][0]["notifications"],
            Value::Null,
            "{page}"
        );
        assert_eq!(code(&page).as_deref(), Some("UNAUTHENTICATED"));

        let other = s.gql_as(Some(&eight), READ, json!({ "id": mine })).await;
        assert_eq!(other["data"]["notification"], Value::Null);
        assert_eq!(code(&other).as_deref(), Some("FORBIDDEN"));
        let marked = s.gql_as(Some(&eight), MARK, json!({ "id": mine })).await;
        assert_eq!(code(&marked).as_deref(), Some("FORBIDDEN"), "{marked}");
        let all = s.gql_as(Some(&eight), MARK_ALL, json!({ "u": "7" })).await;
        assert_eq!(code(&all).as_deref(), Some("FORBIDDEN"), "{all}");
        assert_eq!(
            s.data(READ, json!({ "id": mine })).await["notification"]["read"],
            false,
            "still unread"
        );

        let own = s.gql_as(Some(&seven), MARK, json!({ "id": mine })).await;
        assert_eq!(own["data"]["markNotificationRead"]["read"], true, "{own}");
        let sent = s
            .gql_as(
                Some(&seven),
                SEND,
                json!({ "input": { "userId": "7", "channel": "SMS", "title": "t", "body": "b" } }),
            )
            .await;
        assert_eq!(
            code(&sent).as_deref(),
            Some("FORBIDDEN"),
            "sending is for admins: {sent}"
        );

        let forged = format!("{}x", seven);
        let response = s.send_as(Some(&forged), READ, json!({ "id": mine })).await;
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(code(&body).as_deref(), Some("UNAUTHENTICATED"));
        s
    })
    .await;
}
