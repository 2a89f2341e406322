//! `@inaccessible`: fields, an argument, an enum value, a type and a root
//! field that the subgraphs have and clients must not see; an inaccessible
//! key (`Badge.code`) still joins the subgraphs.

use async_graphql::{
    Context, Enum, Error, ID, Object, Result, Scalar, ScalarType, SimpleObject, Value,
};
use serde_json::json;

use crate::{
    Federation, assert_sdl_equivalent, exported_sdl, federated, federated_with, fixture_supergraph,
    subgraph,
};

/// id, name, password hash, role, last login.
const USERS: [(&str, &str, &str, Role, &str); 3] = [
    (
        "1",
        "Ada",
        "$argon2$ada",
        Role::Admin,
        "2026-11-01T08:00:00Z",
    ),
    (
        "2",
        "Bob",
        "$argon2$bob",
        Role::Member,
        "2026-11-20T17:30:00Z",
    ),
    (
        "3",
        "Sys",
        "$argon2$sys",
        Role::Internal,
        "2026-11-22T00:00:00Z",
    ),
];
/// code, label, awarded at.
const BADGES: [(&str, &str, &str); 2] = [
    ("early", "Early adopter", "2024-01-01"),
    ("helper", "Helper", "2025-06-15"),
];

/// b_audit fails `lastLogin` of this user, when set.
struct BrokenLogin(Option<&'static str>);

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
    #[graphql(inaccessible)]
    Internal,
}

// ---- a_users -------------------------------------------------------------------------------------

mod users {
    use super::*;

    #[derive(SimpleObject)]
    #[graphql(inaccessible)]
    pub struct Secret {
        value: String,
    }

    pub struct User(&'static (&'static str, &'static str, &'static str, Role, &'static str));

    #[Object]
    impl User {
        async fn id(&self) -> ID {
            ID(self.0.0.to_owned())
        }
        async fn name(&self) -> &str {
            self.0.1
        }
        #[graphql(inaccessible)]
        async fn password_hash(&self) -> &str {
            self.0.2
        }
        async fn role(&self) -> Role {
            self.0.3
        }
        #[graphql(inaccessible)]
        async fn secret(&self) -> Option<Secret> {
            None
        }
    }

    #[derive(SimpleObject)]
    pub struct Badge {
        #[graphql(inaccessible)]
        code: String,
        label: String,
    }

    fn user(id: &str) -> Option<User> {
        USERS.iter().find(|u| u.0 == id).map(User)
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn user(&self, id: ID, #[graphql(inaccessible)] debug: Option<bool>) -> Option<User> {
            let _ = debug;
            user(&id)
        }

        #[graphql(inaccessible)]
        async fn hidden(&self) -> Option<i32> {
            Some(42)
        }

        async fn badges(&self) -> Vec<Badge> {
            BADGES
                .iter()
                .map(|&(code, label, _)| Badge {
                    code: code.to_owned(),
                    label: label.to_owned(),
                })
                .collect()
        }

        #[graphql(entity)]
        async fn user_by_id(&self, id: ID) -> Option<User> {
            user(&id)
        }

        #[graphql(entity)]
        async fn badge_by_code(&self, code: String) -> Option<Badge> {
            BADGES
                .iter()
                .find(|b| b.0 == code)
                .map(|&(code, label, _)| Badge {
                    code: code.to_owned(),
                    label: label.to_owned(),
                })
        }
    }
}

// ---- b_audit ---------------------------------------------------------------------------------------

mod audit {
    use super::*;

    pub struct Url(String);

    #[Scalar(specified_by_url = "https://url.spec.whatwg.org/")]
    impl ScalarType for Url {
        fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
            match value {
                Value::String(s) => Ok(Url(s)),
                other => Err(async_graphql::InputValueError::expected_type(other)),
            }
        }
        fn to_value(&self) -> Value {
            Value::String(self.0.clone())
        }
    }

    pub struct User(&'static str);

    #[Object]
    impl User {
        async fn id(&self) -> ID {
            ID(self.0.to_owned())
        }
        #[graphql(deprecation = "use sessions")]
        async fn last_login(&self, ctx: &Context<'_>) -> Result<&str> {
            match ctx.data_opt::<BrokenLogin>() {
                Some(BrokenLogin(Some(id))) if *id == self.0 => {
                    Err(Error::new(format!("audit log of user {id} is archived")))
                }
                _ => Ok(USERS
                    .iter()
                    .find(|u| u.0 == self.0)
                    .map(|u| u.4)
                    .unwrap_or_default()),
            }
        }
    }

    #[derive(SimpleObject)]
    pub struct Badge {
        #[graphql(inaccessible)]
        code: String,
        awarded_at: String,
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn audit_url(&self) -> Option<Url> {
            Some(Url("https://audit.example/log".to_owned()))
        }

        #[graphql(entity)]
        async fn user_by_id(&self, id: ID) -> Option<User> {
            USERS.iter().find(|u| u.0 == id.as_str()).map(|u| User(u.0))
        }

        #[graphql(entity)]
        async fn badge_by_code(&self, code: String) -> Option<Badge> {
            BADGES
                .iter()
                .find(|b| b.0 == code)
                .map(|&(code, _, awarded_at)| Badge {
                    code: code.to_owned(),
                    awarded_at: awarded_at.to_owned(),
                })
        }
    }
}

async fn federation(broken_login: Option<&'static str>) -> Federation {
    let audit = federated_with(audit::Query, BrokenLogin(broken_login));
    Federation::start(
        &fixture_supergraph("inaccessible"),
        vec![
            ("a_users", subgraph(federated(users::Query))),
            ("b_audit", subgraph(audit)),
        ],
    )
    .await
}

#[test]
fn subgraphs_export_the_fixture_sdl() {
    assert_sdl_equivalent(
        "inaccessible/a_users.graphql",
        &exported_sdl(&federated(users::Query)),
        &[],
    );
    assert_sdl_equivalent(
        "inaccessible/b_audit.graphql",
        &exported_sdl(&federated(audit::Query)),
        &[],
    );
}

#[tokio::test]
async fn accessible_fields_across_subgraphs() {
    federation(None)
        .await
        .assert_response(
            r#"{ user(id: "1") { name lastLogin role } }"#,
            json!({ "data": { "user": {
                "name": "Ada",
                "lastLogin": "2026-11-01T08:00:00Z",
                "role": "ADMIN",
            } } }),
        )
        .await;
}

#[tokio::test]
async fn inaccessible_key_still_joins_subgraphs() {
    federation(None)
        .await
        .assert_response(
            "{ badges { label awardedAt } }",
            json!({ "data": { "badges": [
                { "label": "Early adopter", "awardedAt": "2024-01-01" },
                { "label": "Helper", "awardedAt": "2025-06-15" },
            ] } }),
        )
        .await;
}

/// The validation error a client gets for `message` at 1:`column`.
fn invalid(message: &str, column: u32) -> serde_json::Value {
    json!({ "errors": [{
        "message": message,
        "locations": [{ "line": 1, "column": column }],
        "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" },
    }] })
}

#[tokio::test]
async fn inaccessible_elements_are_invalid_for_clients() {
    let federation = federation(None).await;
    federation
        .assert_response(
            r#"{ user(id: "1") { name passwordHash } }"#,
            invalid("type `User` does not have a field `passwordHash`", 24),
        )
        .await;
    federation
        .assert_response(
            r#"{ user(id: "1") { name secret { value } } }"#,
            invalid("type `User` does not have a field `secret`", 24),
        )
        .await;
    federation
        .assert_response(
            r#"{ user(id: "1", debug: true) { name } }"#,
            invalid("the argument `debug` is not supported by `Query.user`", 17),
        )
        .await;
    federation
        .assert_response(
            "{ hidden badges { label } }",
            invalid("type `Query` does not have a field `hidden`", 3),
        )
        .await;
    federation
        .assert_response(
            "{ badges { label code } }",
            invalid("type `Badge` does not have a field `code`", 18),
        )
        .await;
}

#[tokio::test]
async fn only_an_inaccessible_field_is_one_validation_error() {
    federation(None)
        .await
        .assert_response(
            r#"{ user(id: "1") { passwordHash } }"#,
            invalid("type `User` does not have a field `passwordHash`", 19),
        )
        .await;
}

#[tokio::test]
async fn custom_scalar_passes_through() {
    federation(None)
        .await
        .assert_response(
            "{ auditUrl }",
            json!({ "data": { "auditUrl": "https://audit.example/log" } }),
        )
        .await;
}

#[tokio::test]
async fn inaccessible_enum_value_from_a_subgraph_is_not_shown() {
    // a_users answers INTERNAL, which the API schema does not have: a client
    // must not see it; `role: Role!` is null, and so is `user`.
    federation(None)
        .await
        .assert_response(
            r#"{ user(id: "3") { name role } }"#,
            json!({
                "errors": [{
                    "message": "Enum \"Role\" cannot represent value: \"INTERNAL\"",
                    "path": ["user", "role"],
                }],
                "data": { "user": null },
            }),
        )
        .await;
}

#[tokio::test]
async fn error_from_the_second_subgraph_nulls_the_nullable_user() {
    federation(Some("2"))
        .await
        .assert_response(
            r#"{ user(id: "2") { name lastLogin } }"#,
            json!({
                "errors": [{
                    "message": "audit log of user 2 is archived",
                    "path": ["user", "lastLogin"],
                    "extensions": { "serviceName": "b_audit" },
                }],
                "data": { "user": null },
            }),
        )
        .await;
}
