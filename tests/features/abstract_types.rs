//! Interfaces and unions whose members and fields differ per subgraph:
//! `Media` has `title` and a `Song` only in a_media; `Reviewable` and
//! `featured` (b_reviews) know only books and movies.

use async_graphql::{Context, Error, ID, Interface, Object, Result, SimpleObject, Union};
use serde_json::json;

use crate::{
    Federation, assert_sdl_equivalent, exported_sdl, federated, federated_with, fixture_supergraph,
    subgraph,
};

/// id, title, pages.
const BOOKS: [(&str, &str, i32); 2] = [("b1", "Dune", 412), ("b2", "Lux", 250)];
/// id, title, minutes, rating.
const MOVIES: [(&str, &str, i32, f64); 2] = [("m1", "Alien", 117, 8.5), ("m2", "Matrix", 136, 8.7)];
/// id, title.
const SONGS: [(&str, &str); 1] = [("s1", "Xanadu")];
/// id, reviews.
const REVIEWS: [(&str, &[&str]); 4] = [
    ("b1", &["classic"]),
    ("b2", &[]),
    ("m1", &["scary", "tense"]),
    ("m2", &["mind-bending"]),
];

/// b_reviews fails `rating` of this movie, when set.
struct BrokenRating(Option<&'static str>);

fn reviews_of(id: &str) -> Vec<String> {
    REVIEWS
        .iter()
        .find(|r| r.0 == id)
        .map(|r| r.1.iter().map(|s| (*s).to_owned()).collect())
        .unwrap_or_default()
}

// ---- a_media -------------------------------------------------------------------------------

mod media {
    use super::*;

    #[derive(SimpleObject, Clone)]
    pub struct Book {
        id: ID,
        title: String,
        pages: i32,
    }

    #[derive(SimpleObject, Clone)]
    pub struct Movie {
        id: ID,
        title: String,
        minutes: i32,
    }

    #[derive(SimpleObject, Clone)]
    pub struct Song {
        id: ID,
        title: String,
    }

    #[derive(Interface)]
    #[graphql(field(name = "id", ty = "&ID"), field(name = "title", ty = "&String"))]
    pub enum Media {
        Book(Book),
        Movie(Movie),
        Song(Song),
    }

    #[derive(Union)]
    pub enum SearchResult {
        Book(Book),
        Movie(Movie),
        Song(Song),
    }

    fn book(id: &str) -> Option<Book> {
        BOOKS
            .iter()
            .find(|b| b.0 == id)
            .map(|&(id, title, pages)| Book {
                id: ID(id.to_owned()),
                title: title.to_owned(),
                pages,
            })
    }

    fn movie(id: &str) -> Option<Movie> {
        MOVIES
            .iter()
            .find(|m| m.0 == id)
            .map(|&(id, title, minutes, _)| Movie {
                id: ID(id.to_owned()),
                title: title.to_owned(),
                minutes,
            })
    }

    fn song(id: &str) -> Option<Song> {
        SONGS.iter().find(|s| s.0 == id).map(|&(id, title)| Song {
            id: ID(id.to_owned()),
            title: title.to_owned(),
        })
    }

    /// Everything, in catalogue order.
    fn all() -> Vec<Media> {
        ["b1", "m1", "s1", "b2", "m2"]
            .into_iter()
            .filter_map(|id| {
                book(id)
                    .map(Media::Book)
                    .or_else(|| movie(id).map(Media::Movie))
                    .or_else(|| song(id).map(Media::Song))
            })
            .collect()
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn media(&self) -> Vec<Media> {
            all()
        }

        /// Titles containing `text`, ignoring case.
        async fn search(&self, text: String) -> Vec<SearchResult> {
            let text = text.to_lowercase();
            all()
                .into_iter()
                .filter_map(|m| match m {
                    Media::Book(b) if b.title.to_lowercase().contains(&text) => {
                        Some(SearchResult::Book(b))
                    }
                    Media::Movie(m) if m.title.to_lowercase().contains(&text) => {
                        Some(SearchResult::Movie(m))
                    }
                    Media::Song(s) if s.title.to_lowercase().contains(&text) => {
                        Some(SearchResult::Song(s))
                    }
                    _ => None,
                })
                .collect()
        }

        #[graphql(entity)]
        async fn book_by_id(&self, id: ID) -> Option<Book> {
            book(&id)
        }

        #[graphql(entity)]
        async fn movie_by_id(&self, id: ID) -> Option<Movie> {
            movie(&id)
        }

        #[graphql(entity)]
        async fn song_by_id(&self, id: ID) -> Option<Song> {
            song(&id)
        }
    }
}

// ---- b_reviews -------------------------------------------------------------------------------

mod reviews {
    use super::*;

    #[derive(SimpleObject)]
    pub struct Book {
        id: ID,
        reviews: Vec<String>,
    }

    pub struct Movie {
        id: ID,
        rating: f64,
    }

    #[Object]
    impl Movie {
        async fn id(&self) -> &ID {
            &self.id
        }
        async fn reviews(&self) -> Vec<String> {
            reviews_of(&self.id)
        }
        async fn rating(&self, ctx: &Context<'_>) -> Result<f64> {
            match ctx.data_opt::<BrokenRating>() {
                Some(BrokenRating(Some(id))) if *id == self.id.as_str() => {
                    Err(Error::new(format!("rating of {id} is being recomputed")))
                }
                _ => Ok(self.rating),
            }
        }
    }

    #[derive(Interface)]
    #[graphql(field(name = "id", ty = "&ID"))]
    pub enum Media {
        Book(Book),
        Movie(Movie),
    }

    #[derive(Union)]
    pub enum Reviewable {
        Book(Book),
        Movie(Movie),
    }

    fn book(id: &str) -> Option<Book> {
        BOOKS.iter().find(|b| b.0 == id).map(|b| Book {
            id: ID(b.0.to_owned()),
            reviews: reviews_of(b.0),
        })
    }

    fn movie(id: &str) -> Option<Movie> {
        MOVIES.iter().find(|m| m.0 == id).map(|m| Movie {
            id: ID(m.0.to_owned()),
            rating: m.3,
        })
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn reviewable(&self) -> Vec<Reviewable> {
            ["b1", "m1", "b2", "m2"]
                .into_iter()
                .filter_map(|id| {
                    book(id)
                        .map(Reviewable::Book)
                        .or_else(|| movie(id).map(Reviewable::Movie))
                })
                .collect()
        }

        async fn featured(&self) -> Vec<Media> {
            movie("m2")
                .map(Media::Movie)
                .into_iter()
                .chain(book("b1").map(Media::Book))
                .collect()
        }

        #[graphql(entity)]
        async fn book_by_id(&self, id: ID) -> Option<Book> {
            book(&id)
        }

        #[graphql(entity)]
        async fn movie_by_id(&self, id: ID) -> Option<Movie> {
            movie(&id)
        }
    }
}

async fn federation(broken_rating: Option<&'static str>) -> Federation {
    let reviews = federated_with(reviews::Query, BrokenRating(broken_rating));
    Federation::start(
        &fixture_supergraph("abstract"),
        vec![
            ("a_media", subgraph(federated(media::Query))),
            ("b_reviews", subgraph(reviews)),
        ],
    )
    .await
}

#[test]
fn subgraphs_export_the_fixture_sdl() {
    assert_sdl_equivalent(
        "abstract/a_media.graphql",
        &exported_sdl(&federated(media::Query)),
        &[],
    );
    assert_sdl_equivalent(
        "abstract/b_reviews.graphql",
        &exported_sdl(&federated(reviews::Query)),
        &[],
    );
}

#[tokio::test]
async fn interface_fields_and_type_conditions() {
    federation(None)
        .await
        .assert_response(
            "{ media { __typename id title ... on Book { pages reviews } ... on Movie { rating } } }",
            json!({ "data": { "media": [
                { "__typename": "Book", "id": "b1", "title": "Dune", "pages": 412, "reviews": ["classic"] },
                { "__typename": "Movie", "id": "m1", "title": "Alien", "rating": 8.5 },
                { "__typename": "Song", "id": "s1", "title": "Xanadu" },
                { "__typename": "Book", "id": "b2", "title": "Lux", "pages": 250, "reviews": [] },
                { "__typename": "Movie", "id": "m2", "title": "Matrix", "rating": 8.7 },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn union_members_differ_per_subgraph() {
    federation(None)
        .await
        .assert_response(
            r#"{ search(text: "x") { ... on Book { title reviews } ... on Song { title } } reviewable { ... on Movie { title minutes rating } } }"#,
            json!({ "data": {
                "search": [
                    { "title": "Xanadu" },
                    { "title": "Lux", "reviews": [] },
                    {},
                ],
                "reviewable": [
                    {},
                    { "title": "Alien", "minutes": 117, "rating": 8.5 },
                    {},
                    { "title": "Matrix", "minutes": 136, "rating": 8.7 },
                ],
            } }),
        )
        .await;
}

#[tokio::test]
async fn type_condition_the_subgraph_cannot_return_is_dropped() {
    federation(None)
        .await
        .assert_response(
            "{ featured { id ... on Song { title } ... on Movie { title } } }",
            json!({ "data": { "featured": [
                { "id": "m2", "title": "Matrix" },
                { "id": "b1" },
            ] } }),
        )
        .await;
}

#[tokio::test]
async fn error_under_a_type_condition_has_the_client_path() {
    // rating: Float! of m2 (5th) fails; every parent is non-null up to `data`.
    federation(Some("m2"))
        .await
        .assert_response(
            "{ media { id ... on Movie { rating } } }",
            json!({
                "errors": [{
                    "message": "rating of m2 is being recomputed",
                    "path": ["media", 4, "rating"],
                    "extensions": { "serviceName": "b_reviews" },
                }],
                "data": null,
            }),
        )
        .await;
}
