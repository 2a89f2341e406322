use std::sync::Arc;

use super::*;

const SWITCHYARD: &str = include_str!("../../tests/fixtures/switchyard/supergraph.graphql");

fn planner() -> Planner {
    let supergraph = Supergraph::parse(SWITCHYARD).expect("fixture loads");
    Planner::new(Arc::new(supergraph)).expect("planner builds")
}

#[test]
fn unknown_field_is_an_invalid_operation() {
    let err = planner()
        .plan_source("{ nope }", None, &PlanOptions::default())
        .expect_err("invalid");
    assert!(matches!(err, PlanError::InvalidOperation(_)), "{err}");
}

#[test]
fn operation_name_must_exist() {
    let err = planner()
        .plan_source(
            "query A { users { edges { cursor } } }",
            Some("B"),
            &PlanOptions::default(),
        )
        .expect_err("unknown");
    assert!(matches!(err, PlanError::UnknownOperation(_)), "{err}");
}
