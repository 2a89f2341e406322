use super::*;
use crate::supergraph::Supergraph;

fn input(name: &str, sdl: &str) -> SubgraphInput {
    SubgraphInput {
        name: name.to_owned(),
        url: format!("http://{name}/graphql"),
        sdl: sdl.to_owned(),
    }
}

const FED2: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable", "@external", "@requires"])"#;

#[test]
fn composes_two_subgraphs_into_a_loadable_supergraph() {
    let a = format!(
        "{FED2}\ntype User @key(fields: \"id\") {{ id: ID! name: String! }}\ntype Query {{ me: User }}"
    );
    let b = format!("{FED2}\ntype User @key(fields: \"id\") {{ id: ID! age: Int }}");
    let sdl = compose(&[input("b", &b), input("a", &a)]).expect("composes");
    let supergraph = Supergraph::parse(&sdl).expect("loads");
    assert_eq!(supergraph.subgraphs()[0].name, "a");
    let user = supergraph.type_info("User").expect("User");
    assert_eq!(user.graphs.len(), 2);
}
