//! Composition checked against an independent composer,
//! `@theguild/federation-composition`: every subgraph set here was composed by it
//! and its output (or its error messages) committed beside the SDLs, so this
//! test needs no Node. Regenerate with
//! `NODE_PATH=/tmp/compose/node_modules node gateway/tests/compose/refresh.mjs`
//! (corpus) and `node gateway/tests/fixtures/compose.mjs <dir>` (planner fixtures).
//!
//! Supergraphs are compared *normalized*: both are parsed with apollo-compiler and
//! reduced to a set of facts (one per type, field, argument, value, directive
//! application, description), so ordering and whitespace do not matter. Where we
//! differ on purpose, [`KNOWN_DIFFERENCES`] names the fact and the reason.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use apollo_compiler::ast::{self, Definition, DirectiveList};
use gateway::planner::{PlanOptions, Planner};
use gateway::supergraph::Supergraph;
use gateway::supergraph::compose::{ComposeError, SubgraphInput, compose};

/// (case, fact prefixed `-` when only the reference has it or `+` when only we
/// do, why). Empty while we match the reference everywhere.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[];

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The subgraphs of a folder, named after their files and numbered from port
/// 4001 unless a file starts with `# url: ...` (as compose.mjs reads them).
fn subgraphs_in(dir: &Path) -> Vec<SubgraphInput> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("case folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "graphql")
                && p.file_name().is_some_and(|n| n != "supergraph.graphql")
        })
        .collect();
    files.sort();
    files
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let sdl = std::fs::read_to_string(path).expect("subgraph SDL");
            let url = sdl
                .strip_prefix("# url: ")
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("http://127.0.0.1:{}/graphql", 4001 + i));
            SubgraphInput {
                name: path
                    .file_stem()
                    .expect("file name")
                    .to_string_lossy()
                    .into_owned(),
                url,
                sdl,
            }
        })
        .collect()
}

/// Our own subgraphs, as `schema/supergraph.toml` lists them.
fn switchyard_subgraphs() -> Vec<SubgraphInput> {
    let config = manifest().join("../schema/supergraph.toml");
    gateway::composition::sources_from_config(&config)
        .expect("schema/supergraph.toml")
        .into_iter()
        .map(|source| match source.location {
            gateway::composition::Location::File { path, url } => SubgraphInput {
                name: source.name,
                url,
                sdl: std::fs::read_to_string(path).expect("SDL file"),
            },
            other => panic!("schema/supergraph.toml names files, not {other:?}"),
        })
        .collect()
}

fn directive_fact(d: &ast::Directive) -> String {
    let mut args: Vec<String> = d
        .arguments
        .iter()
        .map(|a| format!("{}: {}", a.name, a.value))
        .collect();
    args.sort();
    if args.is_empty() {
        format!("@{}", d.name)
    } else {
        format!("@{}({})", d.name, args.join(", "))
    }
}

fn description_fact(
    owner: &str,
    description: &Option<apollo_compiler::Node<str>>,
    out: &mut BTreeSet<String>,
) {
    if let Some(d) = description {
        out.insert(format!("{owner} \"{}\"", d.trim()));
    }
}

fn directive_facts(owner: &str, directives: &DirectiveList, out: &mut BTreeSet<String>) {
    for d in directives.iter() {
        out.insert(format!("{owner} {}", directive_fact(d)));
    }
}

fn input_value_facts(
    owner: &str,
    values: &[apollo_compiler::Node<ast::InputValueDefinition>],
    out: &mut BTreeSet<String>,
) {
    for v in values {
        let coordinate = format!("{owner}({}:)", v.name);
        let default = v
            .default_value
            .as_ref()
            .map(|d| format!(" = {d}"))
            .unwrap_or_default();
        out.insert(format!("{coordinate} {}{default}", v.ty));
        description_fact(&coordinate, &v.description, out);
        directive_facts(&coordinate, &v.directives, out);
    }
}

fn field_facts(
    owner: &str,
    fields: &[apollo_compiler::Node<ast::FieldDefinition>],
    out: &mut BTreeSet<String>,
) {
    for f in fields {
        let coordinate = format!("{owner}.{}", f.name);
        out.insert(format!("{coordinate}: {}", f.ty));
        description_fact(&coordinate, &f.description, out);
        directive_facts(&coordinate, &f.directives, out);
        input_value_facts(&coordinate, &f.arguments, out);
    }
}

/// A supergraph reduced to facts that do not depend on order or layout.
fn facts(sdl: &str) -> BTreeSet<String> {
    let document = ast::Document::parse(sdl, "supergraph.graphql").expect("supergraph parses");
    let mut out = BTreeSet::new();
    for definition in &document.definitions {
        match definition {
            Definition::SchemaDefinition(s) => {
                directive_facts("schema", &s.directives, &mut out);
                for op in &s.root_operations {
                    out.insert(format!("schema {}: {}", op.0, op.1));
                }
            }
            Definition::DirectiveDefinition(d) => {
                let printed = d.to_string();
                out.insert(printed.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            Definition::ScalarTypeDefinition(t) => {
                out.insert(format!("scalar {}", t.name));
                description_fact(&t.name, &t.description, &mut out);
                directive_facts(&t.name, &t.directives, &mut out);
            }
            Definition::ObjectTypeDefinition(t) => {
                out.insert(format!("type {}", t.name));
                description_fact(&t.name, &t.description, &mut out);
                directive_facts(&t.name, &t.directives, &mut out);
                for i in &t.implements_interfaces {
                    out.insert(format!("{} implements {i}", t.name));
                }
                field_facts(&t.name, &t.fields, &mut out);
            }
            Definition::InterfaceTypeDefinition(t) => {
                out.insert(format!("interface {}", t.name));
                description_fact(&t.name, &t.description, &mut out);
                directive_facts(&t.name, &t.directives, &mut out);
                for i in &t.implements_interfaces {
                    out.insert(format!("{} implements {i}", t.name));
                }
                field_facts(&t.name, &t.fields, &mut out);
            }
            Definition::UnionTypeDefinition(t) => {
                out.insert(format!("union {}", t.name));
                description_fact(&t.name, &t.description, &mut out);
                directive_facts(&t.name, &t.directives, &mut out);
                for m in &t.members {
                    out.insert(format!("{} member {m}", t.name));
                }
            }
            Definition::EnumTypeDefinition(t) => {
                out.insert(format!("enum {}", t.name));
                description_fact(&t.name, &t.description, &mut out);
                directive_facts(&t.name, &t.directives, &mut out);
                for v in &t.values {
                    let coordinate = format!("{}.{}", t.name, v.value);
                    out.insert(coordinate.clone());
                    description_fact(&coordinate, &v.description, &mut out);
                    directive_facts(&coordinate, &v.directives, &mut out);
                }
            }
            Definition::InputObjectTypeDefinition(t) => {
                out.insert(format!("input {}", t.name));
                description_fact(&t.name, &t.description, &mut out);
                directive_facts(&t.name, &t.directives, &mut out);
                input_value_facts(&t.name, &t.fields, &mut out);
            }
            other => panic!("unexpected definition in a supergraph: {other}"),
        }
    }
    out
}

/// Facts only one side has, `-` for the reference, `+` for ours.
fn difference(reference: &str, ours: &str) -> BTreeSet<String> {
    let (a, b) = (facts(reference), facts(ours));
    a.difference(&b)
        .map(|f| format!("- {f}"))
        .chain(b.difference(&a).map(|f| format!("+ {f}")))
        .collect()
}

/// Composes `subgraphs` and compares with the reference supergraph; also checks
/// that our gateway loads what we produced.
fn assert_matches_reference(case: &str, subgraphs: &[SubgraphInput], reference: &Path) {
    let expected = std::fs::read_to_string(reference).expect("reference supergraph");
    let ours = compose(subgraphs).unwrap_or_else(|e| panic!("{case}: composition failed: {e}"));
    Supergraph::parse(&ours)
        .unwrap_or_else(|e| panic!("{case}: our supergraph does not load: {e}\n{ours}"));
    let known: BTreeSet<String> = KNOWN_DIFFERENCES
        .iter()
        .filter(|(c, _, _)| *c == case)
        .map(|(_, fact, _)| (*fact).to_owned())
        .collect();
    let diff = difference(&expected, &ours);
    let unexplained: Vec<&String> = diff.difference(&known).collect();
    let stale: Vec<&String> = known.difference(&diff).collect();
    assert!(
        unexplained.is_empty() && stale.is_empty(),
        "{case}: supergraphs differ\nunexplained:\n{}\nknown but gone:\n{}\n--- ours:\n{ours}",
        unexplained
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        stale
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

/// `schema/supergraph.graphql` is what our composer makes of `schema/*.graphql`;
/// `UPDATE_SCHEMA=1 cargo test -p gateway --test compose` rewrites it.
#[test]
fn committed_supergraph_is_our_composition() {
    let path = manifest().join("../schema/supergraph.graphql");
    let ours = compose(&switchyard_subgraphs()).expect("our subgraphs compose");
    if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &ours).expect("write schema/supergraph.graphql");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == ours,
        "schema/supergraph.graphql is not the composition of schema/*.graphql; run `UPDATE_SCHEMA=1 cargo test -p gateway --test compose` and commit it"
    );
}

/// The reference composer's output for the same subgraphs, refreshed with
/// `node gateway/tests/fixtures/compose.mjs gateway/tests/reference`.
#[test]
fn switchyard_subgraphs_compose_like_the_reference() {
    assert_matches_reference(
        "schema",
        &switchyard_subgraphs(),
        &manifest().join("tests/reference/supergraph.graphql"),
    );
}

macro_rules! fixture_cases {
    ($($name:ident => $dir:literal),* $(,)?) => {$(
        #[test]
        fn $name() {
            let dir = manifest().join("tests/fixtures").join($dir);
            assert_matches_reference(
                $dir,
                &subgraphs_in(&dir),
                &dir.join("supergraph.graphql"),
            );
        }
    )*};
}

mod planner_fixtures {
    use super::*;
    fixture_cases!(
        requires => "requires",
        provides => "provides",
        shareable => "shareable",
        keys => "keys",
        abstract_types => "abstract",
        override_progressive => "override",
        interface_object => "interface_object",
        inaccessible => "inaccessible",
        switchyard => "switchyard",
    );
}

macro_rules! corpus_cases {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let dir = manifest().join("tests/compose").join(stringify!($name));
            assert_matches_reference(
                stringify!($name),
                &subgraphs_in(&dir),
                &dir.join("supergraph.graphql"),
            );
        }
    )*};
}

mod corpus {
    use super::*;
    corpus_cases!(
        fed1_extends,
        renamed_imports,
        enums,
        inputs_args,
        metadata,
        compose_directive,
        nullability,
        override_used,
        fed2_extensions,
        entity_interfaces,
        roots,
        descriptions,
        tags_everywhere,
        fed1_mixed,
        interface_object_args,
        provides_paths,
        fed1_implicit_external,
        auth,
        external_type,
        fed29,
    );
}

/// The quoted names in the reference's messages (`"Product.name"`, `"Thing"`).
fn quoted_names(message: &str) -> Vec<String> {
    message
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        })
        .map(str::to_owned)
        .collect()
}

/// Both composers reject the set; our message names something the reference
/// names too; the message itself is snapshotted.
fn assert_fails_like_reference(case: &str) -> ComposeError {
    let dir = manifest().join("tests/compose").join(case);
    let reference = std::fs::read_to_string(dir.join("errors.txt"))
        .unwrap_or_else(|_| panic!("{case}: the reference composes this set (no errors.txt)"));
    let err = match compose(&subgraphs_in(&dir)) {
        Ok(sdl) => panic!("{case}: we compose a set the reference rejects:\n{reference}\n{sdl}"),
        Err(e) => e,
    };
    let message = err.to_string();
    let names = quoted_names(&reference);
    assert!(
        names.is_empty() || names.iter().any(|n| message.contains(n.as_str())),
        "{case}: our error names none of {names:?}\nours: {message}\nreference: {reference}"
    );
    insta::assert_snapshot!(format!("compose_error_{case}"), message);
    err
}

macro_rules! failing_cases {
    ($($name:ident => $variant:pat),* $(,)?) => {$(
        #[test]
        fn $name() {
            let err = assert_fails_like_reference(stringify!($name));
            assert!(
                err.errors().iter().any(|e| matches!(e, $variant)),
                "{}: unexpected error kind: {err:?}",
                stringify!($name)
            );
        }
    )*};
}

mod must_fail {
    use super::*;
    failing_cases!(
        fail_non_shareable => ComposeError::NonShareable { .. },
        fail_kind_mismatch => ComposeError::KindMismatch { .. },
        fail_field_type => ComposeError::FieldTypeMismatch { .. },
        fail_requires_unknown => ComposeError::InvalidFieldSet { directive: "@requires", .. },
        fail_requires_not_external => ComposeError::InvalidFieldSet { directive: "@requires", .. },
        fail_provides_unknown => ComposeError::InvalidFieldSet { directive: "@provides", .. },
        fail_key_unknown => ComposeError::InvalidFieldSet { directive: "@key", .. },
        fail_unreachable => ComposeError::Unreachable { .. },
        fail_enum_mismatch => ComposeError::EnumMismatch { .. },
        fail_input_required => ComposeError::RequiredMissing { .. },
        fail_provides_not_external => ComposeError::InvalidFieldSet { directive: "@provides", .. },
        fail_external_everywhere => ComposeError::ExternalEverywhere { .. },
        fail_syntax => ComposeError::InvalidSdl { .. },
        fail_list_type_mismatch => ComposeError::FieldTypeMismatch { .. },
        fail_shareable_extension_only => ComposeError::NonShareable { .. },
        fail_value_type_unreachable => ComposeError::Unreachable { .. },
        fail_key_not_resolvable => ComposeError::Unreachable { .. },
    );
}

#[test]
fn every_corpus_folder_has_a_test() {
    let covered = [
        "fed1_extends",
        "renamed_imports",
        "enums",
        "inputs_args",
        "metadata",
        "compose_directive",
        "nullability",
        "override_used",
        "fed2_extensions",
        "entity_interfaces",
        "roots",
        "descriptions",
        "tags_everywhere",
        "fed1_mixed",
        "interface_object_args",
        "fail_non_shareable",
        "fail_kind_mismatch",
        "fail_field_type",
        "fail_requires_unknown",
        "fail_requires_not_external",
        "fail_provides_unknown",
        "fail_key_unknown",
        "fail_unreachable",
        "fail_enum_mismatch",
        "fail_input_required",
        "fail_provides_not_external",
        "fail_external_everywhere",
        "fail_syntax",
        "fail_list_type_mismatch",
        "fail_shareable_extension_only",
        "fail_value_type_unreachable",
        "fail_key_not_resolvable",
        "provides_paths",
        "fed1_implicit_external",
        "auth",
        "external_type",
        "fed29",
    ];
    for entry in std::fs::read_dir(manifest().join("tests/compose")).expect("corpus") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            assert!(
                covered.contains(&name.as_str()),
                "corpus case `{name}` has no test"
            );
        }
    }
}

/// Composition returns an error, never panics, on any prefix of real SDLs.
#[test]
fn truncated_subgraphs_never_panic() {
    for fixture in ["requires", "keys", "interface_object", "override"] {
        let subgraphs = subgraphs_in(&manifest().join("tests/fixtures").join(fixture));
        for (i, victim) in subgraphs.iter().enumerate() {
            let sdl = &victim.sdl;
            for cut in (0..sdl.len())
                .step_by(5)
                .filter(|c| sdl.is_char_boundary(*c))
            {
                let mut set = subgraphs.clone();
                set[i].sdl = sdl[..cut].to_owned();
                if let Ok(supergraph) = compose(&set) {
                    Supergraph::parse(&supergraph).unwrap_or_else(|e| {
                        panic!("{fixture}: cut at {cut} composes to an invalid supergraph: {e}")
                    });
                }
            }
        }
    }
}

// ---- round trip: our supergraph plans like the reference --------------------

const ROUND_TRIP_QUERIES: &[&str] = &[
    r#"{ user(id: "1") { id name email } }"#,
    r#"{ user(id: "1") { name orders(first: 2) { edges { node { id totalCents status } } } unreadNotificationCount } }"#,
    r#"{ order(id: "1") { id user { name email } notifications { title read user { name } } } }"#,
    r#"{ orders(first: 3) { pageInfo { hasNextPage endCursor } edges { cursor node { items { sku quantity } user { orderCount createdAt } } } } }"#,
    r#"mutation { placeOrder(input: { userId: "1", currency: "EUR", items: [] }) { id user { name } } sendNotification(input: { userId: "1", channel: EMAIL, title: "t", body: "b" }) { id order { status } } }"#,
    r#"query($id: ID!) { notification(id: $id) { ... on Notification { channel user { ...U } } } } fragment U on User { email orders { edges { node { currency } } } }"#,
];

fn plans(sdl: &str) -> Vec<String> {
    let supergraph = Supergraph::parse(sdl).expect("supergraph loads");
    let planner = Planner::new(Arc::new(supergraph)).expect("planner builds");
    ROUND_TRIP_QUERIES
        .iter()
        .map(|q| {
            planner
                .plan_source(q, None, &PlanOptions::default())
                .map(|p| p.to_string())
                .unwrap_or_else(|e| format!("error: {e}"))
        })
        .collect()
}

#[test]
fn round_trip_our_supergraph_plans_like_the_reference() {
    let reference = std::fs::read_to_string(manifest().join("tests/reference/supergraph.graphql"))
        .expect("reference supergraph");
    let ours = compose(&switchyard_subgraphs()).expect("our subgraphs compose");
    for ((query, expected), actual) in ROUND_TRIP_QUERIES
        .iter()
        .zip(plans(&reference))
        .zip(plans(&ours))
    {
        assert!(!expected.starts_with("error:"), "{query}: {expected}");
        assert_eq!(expected, actual, "plans differ for {query}");
    }
}

/// Each planner fixture, composed by us, plans its features like the fixture.
#[test]
fn round_trip_fixtures_plan_like_the_reference() {
    let cases: &[(&str, &str)] = &[
        (
            "requires",
            "{ topProducts { name shippingEstimate packaging importDuty reviewScore } }",
        ),
        (
            "provides",
            "{ topReviews { author { username birthYear } editor { username } } }",
        ),
        (
            "shareable",
            "{ products { name price { amount formatted } discount } search(text: \"x\") { name price { currency } } }",
        ),
        (
            "keys",
            "{ locations { shelves footfall store { name } } bestRated { name stock } }",
        ),
        (
            "abstract",
            "{ media { title ... on Book { reviews } ... on Movie { rating } } reviewable { ... on Book { title pages } } }",
        ),
        (
            "override",
            "{ account(id: \"1\") { name balance plan limit } }",
        ),
        (
            "interface_object",
            "{ items { name price ... on Shoe { size } } cheapest { id name price } }",
        ),
        (
            "inaccessible",
            "{ user(id: \"1\") { name role lastLogin } badges { label awardedAt } }",
        ),
        (
            "parent_entity",
            "{ products { name details { weight color origin { country port } } seller { rating profile { bio avatar } } } }",
        ),
        (
            "shared_root",
            "{ config { theme locale limits { pageSize maxUpload } } featured { name price rating } }",
        ),
        (
            "requires_advanced",
            "{ products { p: price(currency: \"GBP\") eurTax finalPrice mediaCost tagScore sellerLabel seller { score } } }",
        ),
        ("requires_cycle", "{ things { peak middle top } }"),
        (
            "interface_object_advanced",
            "{ accounts { id balance statement ... on Personal { birthday } } richest { ... on Business { vat } } }",
        ),
        (
            "abstract_advanced",
            "{ items { id label ... on Book { price } } deals { ... on Book { title } ... on Mug { volume } } }",
        ),
        (
            "robust_shapes",
            "{ users { name favourite { owner { favourite { title } } } } }",
        ),
    ];
    for (fixture, query) in cases {
        let dir = manifest().join("tests/fixtures").join(fixture);
        let reference = std::fs::read_to_string(dir.join("supergraph.graphql")).expect("fixture");
        let ours = compose(&subgraphs_in(&dir)).expect("fixture composes");
        let plan = |sdl: &str| {
            let planner =
                Planner::new(Arc::new(Supergraph::parse(sdl).expect("loads"))).expect("planner");
            planner
                .plan_source(query, None, &PlanOptions::default())
                .map(|p| p.to_string())
                .unwrap_or_else(|e| format!("error: {e}"))
        };
        let expected = plan(&reference);
        assert!(!expected.starts_with("error:"), "{fixture}: {expected}");
        assert_eq!(expected, plan(&ours), "{fixture}: plans differ for {query}");
    }
}

#[test]
fn a_shared_field_returning_a_subtype_composes_to_the_supertype() {
    // `Query.pet` is `Cat` in a_cats and `Animal` in b_zoo: the supergraph
    // says `Animal` and records each subgraph's own type, which the planner
    // needs to ask a_cats nothing but `Cat`. (The reference composer keeps
    // `Cat` and drops the per-subgraph types, so the fixture is ours.)
    let dir = manifest().join("tests/fixtures/type_mismatch");
    let ours = compose(&subgraphs_in(&dir)).expect("composes");
    assert!(
        ours.contains(
            r#"pet: Animal @join__field(graph: A_CATS, type: "Cat") @join__field(graph: B_ZOO, type: "Animal")"#
        ),
        "{ours}"
    );
    let committed = std::fs::read_to_string(dir.join("supergraph.graphql")).expect("fixture");
    assert_eq!(committed, ours, "fixture is our composition");
}

// ---- live subgraphs: `_service { sdl }`, retry, hot swap ----------------------

mod live {
    use std::sync::Mutex;
    use std::time::Duration;

    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use gateway::composition::{
        Location, SubgraphSource, compose_sources, compose_with_retry, sdl_client, watch_subgraphs,
    };
    use gateway::{GatewayConfig, build};

    use super::*;

    /// reqwest is built without a default crypto provider; tests install ring.
    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        sdl_client().expect("client")
    }

    /// The SDL a fake subgraph serves; `None` answers 503 (not up yet).
    type Sdl = Arc<Mutex<Option<String>>>;

    async fn service(State(sdl): State<Sdl>) -> Response {
        match sdl.lock().expect("sdl lock").clone() {
            Some(sdl) => axum::Json(serde_json::json!({ "data": { "_service": { "sdl": sdl } } }))
                .into_response(),
            None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }

    /// A subgraph answering `_service { sdl }` on port 0, as a source.
    async fn fake_subgraph(name: &str, sdl: Option<String>) -> (SubgraphSource, Sdl) {
        let state: Sdl = Arc::new(Mutex::new(sdl));
        let app = axum::Router::new()
            .route("/graphql", axum::routing::post(service))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let source = SubgraphSource {
            name: name.to_owned(),
            location: Location::Url(format!("http://{addr}/graphql")),
        };
        (source, state)
    }

    fn switchyard_sdl(name: &str) -> String {
        switchyard_subgraphs()
            .into_iter()
            .find(|s| s.name == name)
            .expect("subgraph")
            .sdl
    }

    async fn switchyard_fakes(users: Option<String>) -> (Vec<SubgraphSource>, Vec<Sdl>) {
        let mut sources = Vec::new();
        let mut states = Vec::new();
        for (name, sdl) in [
            ("users", users),
            ("orders", Some(switchyard_sdl("orders"))),
            ("notifications", Some(switchyard_sdl("notifications"))),
        ] {
            let (source, state) = fake_subgraph(name, sdl).await;
            sources.push(source);
            states.push(state);
        }
        (sources, states)
    }

    #[tokio::test]
    async fn composes_from_service_sdl_like_from_files() {
        let (sources, _) = switchyard_fakes(Some(switchyard_sdl("users"))).await;
        let client = client();
        let live = compose_sources(&client, &sources).await.expect("composes");
        let files = compose(&switchyard_subgraphs()).expect("composes");
        // Same supergraph up to the routing URLs (the fakes listen on port 0).
        let without_urls = |sdl: &str| {
            facts(sdl)
                .into_iter()
                .filter(|f| !f.contains("@join__graph("))
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(without_urls(&live), without_urls(&files));
        assert!(live.contains(&format!(
            "url: \"{}\"",
            match &sources[0].location {
                Location::Url(u) => u.clone(),
                Location::File { url, .. } => url.clone(),
            }
        )));
    }

    #[tokio::test]
    async fn start_up_waits_for_a_subgraph_that_is_not_up_yet() {
        let (sources, states) = switchyard_fakes(None).await;
        let client = client();
        let users = states[0].clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            *users.lock().expect("lock") = Some(switchyard_sdl("users"));
        });
        let sdl = tokio::time::timeout(
            Duration::from_secs(10),
            compose_with_retry(
                &client,
                &sources,
                Duration::from_millis(20),
                Duration::from_millis(100),
            ),
        )
        .await
        .expect("composes once users is up");
        assert!(sdl.contains("userByEmail"));
    }

    async fn eventually(check: impl Fn() -> bool) -> bool {
        for _ in 0..250 {
            if check() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test]
    async fn hot_swaps_on_change_and_keeps_the_old_supergraph_on_failure() {
        let (sources, states) = switchyard_fakes(Some(switchyard_sdl("users"))).await;
        let client = client();
        let sdl = compose_sources(&client, &sources).await.expect("composes");
        let gateway = build(GatewayConfig::default(), &sdl).expect("gateway");
        let watcher = tokio::spawn(watch_subgraphs(
            gateway.clone(),
            client,
            sources,
            sdl,
            Duration::from_millis(30),
        ));
        let has_field = |field: &str| {
            gateway
                .current()
                .expect("loaded")
                .supergraph
                .type_info("User")
                .is_some_and(|t| t.fields.contains_key(field))
        };
        // A new field in users: recomposed and swapped in.
        let changed = switchyard_sdl("users").replacen(
            "createdAt: DateTime!",
            "createdAt: DateTime!\n\tnickname: String",
            1,
        );
        assert_ne!(changed, switchyard_sdl("users"));
        *states[0].lock().expect("lock") = Some(changed);
        assert!(
            eventually(|| has_field("nickname")).await,
            "supergraph was not swapped"
        );

        // A set that does not compose (orders now also resolves User.email):
        // the served supergraph stays.
        let broken = switchyard_sdl("orders").replacen(
            "orderCount: Int!",
            "orderCount: Int!\n\temail: String!",
            1,
        );
        *states[1].lock().expect("lock") = Some(broken);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(has_field("nickname"));
        watcher.abort();
    }
}
