use super::*;

const SWITCHYARD: &str = include_str!("../../tests/fixtures/switchyard/supergraph.graphql");
const INACCESSIBLE: &str = include_str!("../../tests/fixtures/inaccessible/supergraph.graphql");
const OVERRIDE: &str = include_str!("../../tests/fixtures/override/supergraph.graphql");

#[test]
fn reads_subgraphs_in_enum_order() {
    let supergraph = Supergraph::parse(SWITCHYARD).expect("fixture loads");
    let names: Vec<_> = supergraph
        .subgraphs()
        .iter()
        .map(|s| (s.name.as_str(), s.url.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("notifications", "http://127.0.0.1:4003/graphql"),
            ("orders", "http://127.0.0.1:4002/graphql"),
            ("users", "http://127.0.0.1:4001/graphql"),
        ]
    );
    assert_eq!(supergraph.join_version(), "0.3");
}

#[test]
fn reads_keys_and_field_owners() {
    let supergraph = Supergraph::parse(SWITCHYARD).expect("fixture loads");
    let users = supergraph.subgraph_id("users").expect("users");
    let orders = supergraph.subgraph_id("orders").expect("orders");
    let user = supergraph.type_info("User").expect("User");
    assert_eq!(user.kind, TypeKind::Object);
    assert_eq!(user.graphs.len(), 3);
    assert_eq!(user.graphs[&users].keys[0].fields, "id");
    assert!(user.graphs[&users].keys[0].resolvable);
    let owners =
        |field: &str| -> Vec<SubgraphId> { user.fields[field].graphs.keys().copied().collect() };
    assert_eq!(owners("email"), [users]);
    assert_eq!(owners("orderCount"), [orders]);
    // No @join__field: every subgraph that has User resolves `id`.
    assert_eq!(owners("id").len(), 3);
    let page_info = supergraph.type_info("PageInfo").expect("PageInfo");
    assert_eq!(page_info.fields["hasNextPage"].graphs.len(), 3);
}

#[test]
fn reads_override_and_labels() {
    let supergraph = Supergraph::parse(OVERRIDE).expect("fixture loads");
    let account = supergraph.type_info("Account").expect("Account");
    let new = supergraph.subgraph_id("b_new").expect("b_new");
    let old = supergraph.subgraph_id("a_old").expect("a_old");
    let balance = &account.fields["balance"].graphs;
    assert_eq!(balance.keys().copied().collect::<Vec<_>>(), [new]);
    assert_eq!(balance[&new].override_from.as_deref(), Some("a_old"));
    let plan = &account.fields["plan"].graphs;
    assert_eq!(plan[&old].override_label.as_deref(), Some("percent(25)"));
    assert_eq!(plan[&new].override_from.as_deref(), Some("a_old"));
}

#[test]
fn api_schema_drops_machinery_and_inaccessible() {
    let supergraph = Supergraph::parse(INACCESSIBLE).expect("fixture loads");
    insta::assert_snapshot!(supergraph.api_sdl());
}

#[test]
fn api_schema_of_switchyard() {
    let supergraph = Supergraph::parse(SWITCHYARD).expect("fixture loads");
    let sdl = supergraph.api_sdl();
    assert!(!sdl.contains("join__"), "{sdl}");
    assert!(!sdl.contains("link"), "{sdl}");
    assert!(supergraph.api_schema().get_object("User").is_some());
}

#[test]
fn rejects_bad_input_without_panicking() {
    for sdl in [
        "",
        "type Query {",
        "type Query { a: Int }",
        "schema @link(url: \"https://specs.apollo.dev/join/v9.9\") { query: Query } type Query { a: Int } directive @link(url: String) repeatable on SCHEMA",
        &SWITCHYARD.replace("graph: USERS", "graph: NOBODY"),
        &SWITCHYARD.replace(
            "@join__graph(name: \"users\", url: \"http://127.0.0.1:4001/graphql\")",
            "",
        ),
    ] {
        assert!(Supergraph::parse(sdl).is_err(), "accepted: {sdl:.80}");
    }
}

#[test]
fn renamed_join_prefix_is_followed() {
    let renamed = SWITCHYARD.replace("join__", "j__").replace(
        "@link(url: \"https://specs.apollo.dev/join/v0.3\", for: EXECUTION)",
        "@link(url: \"https://specs.apollo.dev/join/v0.3\", as: \"j\", for: EXECUTION)",
    );
    let supergraph = Supergraph::parse(&renamed).expect("renamed join loads");
    assert_eq!(supergraph.subgraphs().len(), 3);
    let user = supergraph.type_info("User").expect("User");
    assert_eq!(user.graphs.len(), 3);
    assert!(!supergraph.api_sdl().contains("j__"));
}

#[test]
fn join_v02_reads_like_v03() {
    let v02 = SWITCHYARD.replace("join/v0.3", "join/v0.2");
    let supergraph = Supergraph::parse(&v02).expect("v0.2 loads");
    assert_eq!(supergraph.join_version(), "0.2");
    let user = supergraph.type_info("User").expect("User");
    assert_eq!(user.fields["email"].graphs.len(), 1);
    assert_eq!(user.fields["id"].graphs.len(), 3);
}

#[test]
fn type_conditions_match_possible_types() {
    let sdl = include_str!("../../tests/fixtures/interface_object/supergraph.graphql");
    let supergraph = Supergraph::parse(sdl).expect("fixture loads");
    assert!(supergraph.type_condition_matches("Item", "Shoe"));
    assert!(supergraph.type_condition_matches("Shoe", "Shoe"));
    assert!(!supergraph.type_condition_matches("Shoe", "Hat"));
}
