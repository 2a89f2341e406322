//! `@override`: b_new took `balance` from a_old for good, and `plan` for a
//! percentage of requests (`label: "percent(25)"`). The two subgraphs keep
//! different values on purpose, so a response shows which one answered.

use async_graphql::{Context, Error, ID, Object, Result, SimpleObject};
use serde_json::{Value, json};

use crate::{
    Federation, assert_sdl_equivalent, exported_sdl, federated, federated_with, fixture_supergraph,
    subgraph,
};

/// id, name, balance, plan: a_old's (stale) view.
const OLD: [(&str, &str, i32, &str); 2] = [("1", "Ada", 100, "free"), ("2", "Bob", 5, "free")];
/// id, balance, plan, limit: b_new's view.
const NEW: [(&str, i32, &str, i32); 2] = [("1", 120, "pro", 500), ("2", 7, "pro", 50)];

/// b_new fails `limit` of this account, when set.
struct BrokenLimit(Option<&'static str>);

// ---- a_old -------------------------------------------------------------------------------------

mod old {
    use super::*;

    #[derive(SimpleObject)]
    pub struct Account {
        id: ID,
        name: String,
        balance: i32,
        plan: String,
    }

    fn account(id: &str) -> Option<Account> {
        OLD.iter()
            .find(|a| a.0 == id)
            .map(|&(id, name, balance, plan)| Account {
                id: ID(id.to_owned()),
                name: name.to_owned(),
                balance,
                plan: plan.to_owned(),
            })
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn account(&self, id: ID) -> Option<Account> {
            account(&id)
        }

        #[graphql(entity)]
        async fn account_by_id(&self, id: ID) -> Option<Account> {
            account(&id)
        }
    }
}

// ---- b_new ---------------------------------------------------------------------------------------

mod new {
    use super::*;

    pub struct Account((&'static str, i32, &'static str, i32));

    #[Object]
    impl Account {
        async fn id(&self) -> ID {
            ID(self.0.0.to_owned())
        }
        #[graphql(override_from = "a_old")]
        async fn balance(&self) -> i32 {
            self.0.1
        }
        /// async-graphql 7 cannot write `label: "percent(25)"`: the fixture
        /// supergraph (which has it) is what the gateway serves.
        #[graphql(override_from = "a_old")]
        async fn plan(&self) -> &str {
            self.0.2
        }
        async fn limit(&self, ctx: &Context<'_>) -> Result<i32> {
            match ctx.data_opt::<BrokenLimit>() {
                Some(BrokenLimit(Some(id))) if *id == self.0.0 => {
                    Err(Error::new(format!("limit of account {id} is under review")))
                }
                _ => Ok(self.0.3),
            }
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn account_by_id(&self, id: ID) -> Option<Account> {
            NEW.iter().find(|a| a.0 == id.as_str()).map(|&a| Account(a))
        }
    }
}

async fn federation(broken_limit: Option<&'static str>) -> Federation {
    let new = federated_with(new::Query, BrokenLimit(broken_limit));
    Federation::start(
        &fixture_supergraph("override"),
        vec![
            ("a_old", subgraph(federated(old::Query))),
            ("b_new", subgraph(new)),
        ],
    )
    .await
}

#[test]
fn subgraphs_export_the_fixture_sdl() {
    assert_sdl_equivalent(
        "override/a_old.graphql",
        &exported_sdl(&federated(old::Query)),
        &[],
    );
    assert_sdl_equivalent(
        "override/b_new.graphql",
        &exported_sdl(&federated(new::Query)),
        // async-graphql 7 has no `label` on `@override`.
        &[
            r#"Account.plan: String! @override(from: "a_old", label: "percent(25)")"#,
            r#"Account.plan: String! @override(from: "a_old")"#,
        ],
    );
}

const QUERY: &str = r#"{ account(id: "1") { name balance plan limit } }"#;

/// `plan` from a_old (label inactive) or from b_new (label active).
fn account_with_plan(plan: &str) -> Value {
    json!({ "data": { "account": {
        "name": "Ada",
        "balance": 120,
        "plan": plan,
        "limit": 500,
    } } })
}

#[tokio::test]
async fn override_moves_the_owner_and_label_splits_traffic() {
    // Each request rolls percent(25) anew: over 80 requests both owners of
    // `plan` answer (all from a_old: 0.75^80 ≈ 1e-10), `balance` is always
    // b_new's.
    let federation = federation(None).await;
    let text = |v: &Value| serde_json::to_string_pretty(v).expect("JSON");
    let (from_old, from_new) = (
        text(&account_with_plan("free")),
        text(&account_with_plan("pro")),
    );
    let (mut old, mut new) = (0, 0);
    for _ in 0..80 {
        let response = text(&federation.query(QUERY).await);
        if response == from_old {
            old += 1;
        } else if response == from_new {
            new += 1;
        } else {
            panic!("unexpected response: {response}");
        }
    }
    assert!(old > 0 && new > 0, "a_old answered {old}, b_new {new}");
}

#[tokio::test]
async fn error_from_the_new_owner_nulls_the_nullable_account() {
    federation(Some("2"))
        .await
        .assert_response(
            r#"{ account(id: "2") { name balance limit } }"#,
            json!({
                "errors": [{
                    "message": "limit of account 2 is under review",
                    "path": ["account", "limit"],
                    "extensions": { "serviceName": "b_new" },
                }],
                "data": { "account": null },
            }),
        )
        .await;
}

#[tokio::test]
async fn unknown_account_is_null() {
    federation(None)
        .await
        .assert_response(
            r#"{ account(id: "9") { name balance } }"#,
            json!({ "data": { "account": null } }),
        )
        .await;
}
