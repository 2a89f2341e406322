//! `@provides`: b_reviews answers `author { username }` itself, but not
//! `birthYear`, nor `username` of an `editor` (no `@provides` there).

use async_graphql::{Context, Error, ID, Object, Result};
use serde_json::{Value, json};

use crate::{
    Federation, assert_sdl_equivalent, exported_sdl, federated, federated_with, fixture_supergraph,
    subgraph,
};

/// id, username, birth year: a_accounts owns them all.
const USERS: [(&str, &str, i32); 3] = [
    ("u1", "ada", 1815),
    ("u2", "alan", 1912),
    ("u3", "grace", 1906),
];

/// id, body, author, editor.
const REVIEWS: [(&str, &str, &str, Option<&str>); 3] = [
    ("r1", "Great", "u1", Some("u2")),
    ("r2", "Meh", "u2", None),
    ("r3", "Fine", "u3", Some("u1")),
];

/// How a_accounts misbehaves in a test.
#[derive(Clone, Copy)]
enum Fault {
    None,
    /// `username` of this user fails: that entity only.
    Username(&'static str),
    /// Looking up this user fails: async-graphql then fails all of `_entities`.
    Lookup(&'static str),
}

// ---- a_accounts --------------------------------------------------------------------

mod accounts {
    use super::*;

    pub struct User {
        id: &'static str,
        username: &'static str,
        birth_year: i32,
    }

    #[Object]
    impl User {
        async fn id(&self) -> ID {
            ID(self.id.to_owned())
        }
        async fn username(&self, ctx: &Context<'_>) -> Result<&str> {
            match ctx.data_opt::<Fault>() {
                Some(Fault::Username(id)) if *id == self.id => {
                    Err(Error::new(format!("user {id} is suspended")))
                }
                _ => Ok(self.username),
            }
        }
        async fn birth_year(&self) -> i32 {
            self.birth_year
        }
    }

    fn user(id: &str) -> Option<User> {
        USERS
            .iter()
            .find(|u| u.0 == id)
            .map(|&(id, username, birth_year)| User {
                id,
                username,
                birth_year,
            })
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn me(&self) -> Option<User> {
            user("u1")
        }

        #[graphql(entity)]
        async fn user_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
            if let Some(Fault::Lookup(bad)) = ctx.data_opt::<Fault>()
                && *bad == id.as_str()
            {
                return Err(Error::new(format!("accounts store lost user {bad}")));
            }
            Ok(user(&id))
        }
    }
}

// ---- b_reviews -----------------------------------------------------------------------

mod reviews {
    use super::*;

    /// b_reviews keeps its own copy of usernames, for `@provides`.
    pub struct User {
        id: &'static str,
    }

    #[Object]
    impl User {
        async fn id(&self) -> ID {
            ID(self.id.to_owned())
        }
        #[graphql(external)]
        async fn username(&self) -> Result<&str> {
            USERS
                .iter()
                .find(|u| u.0 == self.id)
                .map(|u| u.1)
                .ok_or_else(|| Error::new("unknown user"))
        }
        async fn reviews(&self) -> Vec<Review> {
            REVIEWS
                .iter()
                .filter(|r| r.2 == self.id)
                .map(|&r| Review(r))
                .collect()
        }
    }

    pub struct Review(
        (
            &'static str,
            &'static str,
            &'static str,
            Option<&'static str>,
        ),
    );

    #[Object]
    impl Review {
        async fn id(&self) -> ID {
            ID(self.0.0.to_owned())
        }
        async fn body(&self) -> &str {
            self.0.1
        }
        #[graphql(provides = "username")]
        async fn author(&self) -> User {
            User { id: self.0.2 }
        }
        async fn editor(&self) -> Option<User> {
            self.0.3.map(|id| User { id })
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn top_reviews(&self) -> Vec<Review> {
            REVIEWS.iter().map(|&r| Review(r)).collect()
        }

        #[graphql(entity)]
        async fn review_by_id(&self, id: ID) -> Option<Review> {
            REVIEWS
                .iter()
                .find(|r| r.0 == id.as_str())
                .map(|&r| Review(r))
        }

        #[graphql(entity)]
        async fn user_by_id(&self, id: ID) -> Option<User> {
            USERS
                .iter()
                .find(|u| u.0 == id.as_str())
                .map(|u| User { id: u.0 })
        }
    }
}

async fn federation(fault: Fault) -> Federation {
    let accounts = federated_with(accounts::Query, fault);
    Federation::start(
        &fixture_supergraph("provides"),
        vec![
            ("a_accounts", subgraph(accounts)),
            ("b_reviews", subgraph(federated(reviews::Query))),
        ],
    )
    .await
}

#[test]
fn subgraphs_export_the_fixture_sdl() {
    assert_sdl_equivalent(
        "provides/a_accounts.graphql",
        &exported_sdl(&federated(accounts::Query)),
        &[],
    );
    assert_sdl_equivalent(
        "provides/b_reviews.graphql",
        &exported_sdl(&federated(reviews::Query)),
        &[],
    );
}

#[tokio::test]
async fn provides_skips_a_fetch() {
    let federation = federation(Fault::None).await;
    federation
        .assert_response(
            "{ topReviews { body author { username } } }",
            json!({ "data": { "topReviews": [
                { "body": "Great", "author": { "username": "ada" } },
                { "body": "Meh", "author": { "username": "alan" } },
                { "body": "Fine", "author": { "username": "grace" } },
            ] } }),
        )
        .await;
    assert_eq!(federation.received("a_accounts"), Vec::<Value>::new());
}

#[tokio::test]
async fn provides_does_not_cover_other_fields() {
    federation(Fault::None)
        .await
        .assert_response(
            "{ topReviews { author { username birthYear } editor { username } } }",
            json!({ "data": { "topReviews": [
                {
                    "author": { "username": "ada", "birthYear": 1815 },
                    "editor": { "username": "alan" },
                },
                {
                    "author": { "username": "alan", "birthYear": 1912 },
                    "editor": null,
                },
                {
                    "author": { "username": "grace", "birthYear": 1906 },
                    "editor": { "username": "ada" },
                },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn entity_field_error_nulls_the_nullable_editor() {
    // u1 edits r3; `editor: User` is nullable: only that editor is null.
    federation(Fault::Username("u1"))
        .await
        .assert_response(
            "{ topReviews { body editor { username } } }",
            json!({
                "errors": [{
                    "message": "user u1 is suspended",
                    "path": ["topReviews", 2, "editor", "username"],
                    "extensions": { "serviceName": "a_accounts" },
                }],
                "data": { "topReviews": [
                    { "body": "Great", "editor": { "username": "alan" } },
                    { "body": "Meh", "editor": null },
                    { "body": "Fine", "editor": null },
                ] },
            }),
        )
        .await;
}

#[tokio::test]
async fn failed_entities_field_nulls_every_editor_of_the_fetch() {
    // async-graphql fails the whole `_entities` field when one lookup fails:
    // both editors are null, the subgraph's error points at the first one,
    // and the other null is explained at its own path too.
    federation(Fault::Lookup("u1"))
        .await
        .assert_response(
            "{ topReviews { body editor { username } } }",
            json!({
                "errors": [{
                    "message": "accounts store lost user u1",
                    "path": ["topReviews", 0, "editor"],
                    "extensions": { "serviceName": "a_accounts" },
                }, {
                    "message": "Cannot return null for non-nullable field User.username",
                    "path": ["topReviews", 2, "editor", "username"],
                }],
                "data": { "topReviews": [
                    { "body": "Great", "editor": null },
                    { "body": "Meh", "editor": null },
                    { "body": "Fine", "editor": null },
                ] },
            }),
        )
        .await;
}
