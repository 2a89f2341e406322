//! The users subgraph over HTTP, on SQLite and (with TEST_DATABASE_URL) PostgreSQL.

use kit::testing::{
    TestServer, check_schema_file, on_each_backend, on_each_backend_with, user_token,
};
use serde_json::{Value, json};
use users::Users;

const CREATE: &str = "mutation($email: String!, $name: String!) { createUser(input: {email: $email, name: $name}) { id email name createdAt } }";
const ENTITIES: &str =
    "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email name } } }";

async fn create(s: &TestServer, email: &str, name: &str) -> Value {
    s.data(CREATE, json!({ "email": email, "name": name }))
        .await["createUser"]
        .clone()
}

#[tokio::test]
async fn exported_sdl_matches_the_committed_schema_file() {
    on_each_backend::<Users, _, _>(|s| async move {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/users.graphql");
        check_schema_file(&s, &path).await;
        s
    })
    .await;
}

#[tokio::test]
async fn create_read_update_delete() {
    on_each_backend::<Users, _, _>(|s| async move {
        let ada = create(&s, " Ada@Example.com ", " Ada Lovelace ").await;
        assert_eq!(ada["email"], "ada@example.com");
        assert_eq!(ada["name"], "Ada Lovelace");
        let id = ada["id"].as_str().unwrap().to_owned();

        let read = s.data("query($id: ID!) { user(id: $id) { id email } }", json!({ "id": id })).await;
        assert_eq!(read["user"]["email"], "ada@example.com");
        let by_email = s.data("{ userByEmail(email: \"ADA@example.com\") { id } }", json!({})).await;
        assert_eq!(by_email["userByEmail"]["id"], id);

        let updated = s
            .data("mutation($id: ID!) { updateUser(id: $id, input: {name: \"Countess\"}) { name email } }", json!({ "id": id }))
            .await;
        assert_eq!(updated["updateUser"], json!({ "name": "Countess", "email": "ada@example.com" }));

        let deleted = s.data("mutation($id: ID!) { deleteUser(id: $id) { id name } }", json!({ "id": id })).await;
        assert_eq!(deleted["deleteUser"]["name"], "Countess");
        let gone = s.data("query($id: ID!) { user(id: $id) { id } }", json!({ "id": id })).await;
        assert_eq!(gone["user"], Value::Null);
        s
    })
    .await;
}

#[tokio::test]
async fn bad_input_gets_coded_errors_and_writes_nothing() {
    on_each_backend::<Users, _, _>(|s| async move {
        let ada = create(&s, "ada@example.com", "Ada").await;
        let id = ada["id"].as_str().unwrap().to_owned();
        s.error(CREATE, json!({ "email": "not-an-email", "name": "X" }), "BAD_USER_INPUT").await;
        s.error(CREATE, json!({ "email": "x@example.com", "name": "   " }), "BAD_USER_INPUT").await;
        let dup = s.error(CREATE, json!({ "email": "ADA@example.com", "name": "Twin" }), "CONFLICT").await;
        assert!(dup["message"].as_str().unwrap().contains("already exists"));
        create(&s, "grace@example.com", "Grace").await;
        s.error(
            "mutation($id: ID!) { updateUser(id: $id, input: {email: \"grace@example.com\"}) { id } }",
            json!({ "id": id }),
            "CONFLICT",
        )
        .await;
        s.error("mutation { updateUser(id: \"999\", input: {name: \"N\"}) { id } }", json!({}), "NOT_FOUND").await;
        s.error("mutation { deleteUser(id: \"999\") { id } }", json!({}), "NOT_FOUND").await;
        s.error("{ user(id: \"abc\") { id } }", json!({}), "BAD_USER_INPUT").await;

        let all = s.data("{ users(first: 100) { edges { node { email name } } } }", json!({})).await;
        assert_eq!(
            all["users"]["edges"],
            json!([{ "node": { "email": "ada@example.com", "name": "Ada" } }, { "node": { "email": "grace@example.com", "name": "Grace" } }])
        );
        s
    })
    .await;
}

#[tokio::test]
async fn users_paginate_by_cursor() {
    on_each_backend::<Users, _, _>(|s| async move {
        for i in 1..=5 {
            create(&s, &format!("u{i}@example.com"), &format!("User {i}")).await;
        }
        const PAGE: &str = "query($first: Int, $after: String) { users(first: $first, after: $after) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }";
        let first = s.data(PAGE, json!({ "first": 2 })).await["users"].clone();
        assert_eq!(first["edges"][0]["node"]["name"], "User 1");
        assert_eq!(first["edges"].as_array().unwrap().len(), 2);
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        assert_eq!(first["pageInfo"]["endCursor"], first["edges"][1]["cursor"]);

        let second = s.data(PAGE, json!({ "first": 2, "after": first["pageInfo"]["endCursor"] })).await["users"].clone();
        assert_eq!(second["edges"][0]["node"]["name"], "User 3");
        let last = s.data(PAGE, json!({ "first": 2, "after": second["pageInfo"]["endCursor"] })).await["users"].clone();
        assert_eq!(last["edges"].as_array().unwrap().len(), 1);
        assert_eq!(last["pageInfo"]["hasNextPage"], false);

        let default = s.data(PAGE, json!({})).await["users"].clone();
        assert_eq!(default["edges"].as_array().unwrap().len(), 5);
        s.error(PAGE, json!({ "first": 101 }), "BAD_USER_INPUT").await;
        s.error(PAGE, json!({ "first": -1 }), "BAD_USER_INPUT").await;
        s.error(PAGE, json!({ "after": "garbage" }), "BAD_USER_INPUT").await;
        s
    })
    .await;
}

#[tokio::test]
async fn entities_keep_order_duplicates_and_missing_keys_in_one_statement() {
    // Cache off: every representation must come from the database, in one batch.
    on_each_backend_with::<Users, _, _>(
        |c| c.cache_capacity = 0,
        |s| async move {
            let mut ids = Vec::new();
            for i in 1..=3 {
                ids.push(
                    create(&s, &format!("e{i}@example.com"), &format!("E{i}")).await["id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
            let reps = json!([
                { "__typename": "User", "id": ids[2] },
                { "__typename": "User", "id": "424242" },
                { "__typename": "User", "id": ids[0] },
                { "__typename": "User", "id": ids[2] },
                { "__typename": "User", "id": "not-a-number" },
                { "__typename": "User", "id": ids[1] },
            ]);
            let batches_before = s
                .metric("dataloader_batches_total", &[("entity", "User")])
                .await;
            let (data, statements) = s.counting_sql(ENTITIES, json!({ "r": reps })).await;
            let names: Vec<Value> = data["_entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].clone())
                .collect();
            assert_eq!(
                names,
                vec![
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
            let batches = s
                .metric("dataloader_batches_total", &[("entity", "User")])
                .await
                - batches_before;
            assert_eq!(batches, 1.0);
            s
        },
    )
    .await;
}

#[tokio::test]
async fn cache_serves_hot_users_and_forgets_them_on_write() {
    on_each_backend::<Users, _, _>(|s| async move {
        let id = create(&s, "c@example.com", "Cached").await["id"].as_str().unwrap().to_owned();
        let q = "query($id: ID!) { user(id: $id) { name email } }";
        let (_, cold) = s.counting_sql(q, json!({ "id": id })).await;
        assert_eq!(cold, 1);
        let (warm_data, warm) = s.counting_sql(q, json!({ "id": id })).await;
        assert_eq!(warm, 0, "[{}] a hot user is served from the cache", s.backend);
        assert_eq!(warm_data["user"]["name"], "Cached");
        assert!(s.metric("entity_cache_hits_total", &[("entity", "User")]).await >= 1.0);

        s.data("mutation($id: ID!) { updateUser(id: $id, input: {name: \"Fresh\", email: \"f@example.com\"}) { id } }", json!({ "id": id }))
            .await;
        let after = s.data(q, json!({ "id": id })).await;
        assert_eq!(after["user"], json!({ "name": "Fresh", "email": "f@example.com" }));
        let reps = json!([{ "__typename": "User", "id": id }]);
        let entity = s.data(ENTITIES, json!({ "r": reps })).await;
        assert_eq!(entity["_entities"][0]["name"], "Fresh");

        s.data("mutation($id: ID!) { deleteUser(id: $id) { id } }", json!({ "id": id })).await;
        assert_eq!(s.data(q, json!({ "id": id })).await["user"], Value::Null);
        s
    })
    .await;
}

#[tokio::test]
async fn health_ready_metrics_and_playground() {
    on_each_backend::<Users, _, _>(|s| async move {
        assert_eq!(s.get("/health").await.status(), 200);
        assert_eq!(s.get("/ready").await.status(), 200);
        let metrics = s.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains("http_requests_total{subgraph=\"users\"}"),
            "{metrics}"
        );
        assert!(metrics.contains("sql_statements_total"), "{metrics}");
        let page = reqwest_html(&s).await;
        assert!(
            page.contains("<title>Switchyard: users</title>")
                && page.contains("src=\"/playground/playground.js?v="),
            "GET /graphql in a browser serves the playground: {page}"
        );
        // Its script comes from this server, not a CDN.
        let script = s.get("/playground/playground.js").await;
        assert_eq!(script.status(), 200);
        assert_eq!(
            script.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        s
    })
    .await;
}

#[tokio::test]
async fn a_lost_database_is_internal_without_details_and_not_ready() {
    on_each_backend::<Users, _, _>(|s| async move {
        create(&s, "before@example.com", "Before").await;
        s.db.clone().close().await.expect("close pool");
        let err = s
            .error("{ users { edges { cursor } } }", json!({}), "INTERNAL")
            .await;
        assert_eq!(
            err["message"], "internal error",
            "no database text leaks to the client"
        );
        assert_eq!(s.get("/ready").await.status(), 503);
        assert_eq!(s.get("/health").await.status(), 200);
        s
    })
    .await;
}

async fn reqwest_html(s: &TestServer) -> String {
    s.get_with_accept("/graphql", "text/html").await
}

#[tokio::test]
async fn replicas_starting_at_once_migrate_and_seed_once() {
    kit::testing::each_fresh_database(|backend, url| async move {
        let config = || {
            let mut c = kit::SubgraphConfig::defaults("users", 0);
            c.database_url = url.clone();
            c.seed = true;
            c
        };
        let (a, b, c) = tokio::join!(
            kit::server::build::<Users>(config()),
            kit::server::build::<Users>(config()),
            kit::server::build::<Users>(config())
        );
        let (a, b, c) = (
            a.expect("first replica"),
            b.expect("second replica"),
            c.expect("third replica"),
        );
        let users = users::repo::count(&a.ctx.db).await.unwrap();
        assert_eq!(
            users,
            kit::demo::USER_COUNT as u64,
            "[{backend}] seeded once"
        );
        use sea_orm::{ConnectionTrait, Statement};
        let row = a
            .ctx
            .db
            .query_one_raw(Statement::from_string(
                a.ctx.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM seaql_migrations",
            ))
            .await
            .unwrap()
            .unwrap();
        let migrations: i64 = row.try_get("", "n").unwrap();
        assert_eq!(migrations, 1, "[{backend}] the migration is recorded once");
        for built in [a, b, c] {
            built.ctx.db.close().await.ok();
        }
    })
    .await;
}

/// A user's email is theirs (or an admin's) to read; changing a user needs
/// that user's token; creating one needs an admin.
#[tokio::test]
async fn only_the_user_or_an_admin_sees_the_email_and_changes_the_user() {
    on_each_backend::<Users, _, _>(|s| async move {
        let id = create(&s, "ada@example.com", "Ada").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let rep = json!([{ "__typename": "User", "id": id }]);
        let code = |r: &Value| {
            r["errors"][0]["extensions"]["code"]
                .as_str()
                .map(str::to_owned)
        };
        let mine = user_token(id.parse().unwrap());
        let other = user_token(id.parse::<i32>().unwrap() + 1);

        let anonymous = s.gql_as(None, ENTITIES, json!({ "r": rep })).await;
        // `email` is non-null: refusing it nulls the user (GraphQL's rules).
        assert_eq!(
            anonymous["data"]["_entities"][0]["email"],
            Value::Null,
            "{anonymous}"
        );
        assert_eq!(code(&anonymous).as_deref(), Some("UNAUTHENTICATED"));
        let stranger = s.gql_as(Some(&other), ENTITIES, json!({ "r": rep })).await;
        assert_eq!(stranger["data"]["_entities"][0]["email"], Value::Null);
        assert_eq!(code(&stranger).as_deref(), Some("FORBIDDEN"));
        let own = s.gql_as(Some(&mine), ENTITIES, json!({ "r": rep })).await;
        assert_eq!(
            own["data"]["_entities"][0]["email"], "ada@example.com",
            "{own}"
        );

        let rename =
            "mutation($id: ID!) { updateUser(id: $id, input: { name: \"Eve\" }) { name } }";
        let refused = s.gql_as(Some(&other), rename, json!({ "id": id })).await;
        assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"));
        let renamed = s.gql_as(Some(&mine), rename, json!({ "id": id })).await;
        assert_eq!(renamed["data"]["updateUser"]["name"], "Eve", "{renamed}");
        let created = s
            .gql_as(
                Some(&mine),
                CREATE,
                json!({ "email": "x@example.com", "name": "X" }),
            )
            .await;
        assert_eq!(code(&created).as_deref(), Some("FORBIDDEN"));
        s
    })
    .await;
}
