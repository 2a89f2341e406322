//! Planner snapshot tests: one fixture supergraph per feature (composed from the
//! subgraph SDLs beside it by `fixtures/compose.mjs`), one operation per test;
//! each snapshot holds the operation and its plan.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use gateway::planner::{PlanError, PlanNode, PlanOptions, Planner, QueryPlan};
use gateway::supergraph::Supergraph;

fn planner(fixture: &str) -> Arc<Planner> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Planner>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().expect("planner cache");
    cache
        .entry(fixture.to_owned())
        .or_insert_with(|| {
            // `exported` is the committed supergraph of the real subgraphs.
            let path = match fixture {
                "exported" => format!(
                    "{}/../schema/supergraph.graphql",
                    env!("CARGO_MANIFEST_DIR")
                ),
                _ => format!(
                    "{}/tests/fixtures/{fixture}/supergraph.graphql",
                    env!("CARGO_MANIFEST_DIR")
                ),
            };
            let sdl = std::fs::read_to_string(&path).expect("fixture exists");
            let supergraph = Supergraph::parse(&sdl).expect("fixture supergraph loads");
            Arc::new(Planner::new(Arc::new(supergraph)).expect("planner builds"))
        })
        .clone()
}

fn try_plan(fixture: &str, operation: &str, options: &PlanOptions) -> Result<QueryPlan, PlanError> {
    planner(fixture).plan_source(operation, None, options)
}

/// The operation, then its plan: what the snapshot shows.
fn plan(fixture: &str, operation: &str) -> String {
    plan_with(fixture, operation, &PlanOptions::default())
}

fn plan_with(fixture: &str, operation: &str, options: &PlanOptions) -> String {
    match try_plan(fixture, operation, options) {
        Ok(plan) => format!("{}\n---\n{plan}", operation.trim()),
        Err(err) => panic!("planning failed: {err}\n{operation}"),
    }
}

macro_rules! snapshot {
    ($fixture:expr, $operation:expr) => {
        insta::assert_snapshot!(plan($fixture, $operation))
    };
}

// ---- root fields -----------------------------------------------------------

#[test]
fn root_fields_grouped_per_subgraph() {
    snapshot!(
        "switchyard",
        r#"{
  a: user(id: "1") { name }
  b: userByEmail(email: "x@y.z") { email }
  orders(first: 2) { edges { node { id totalCents } } }
}"#
    );
}

#[test]
fn single_root_fetch() {
    snapshot!("switchyard", r#"{ user(id: "1") { id name email } }"#);
}

// ---- entities ----------------------------------------------------------------

#[test]
fn entity_fetch_across_two_subgraphs() {
    snapshot!("switchyard", r#"{ user(id: "1") { name orderCount } }"#);
}

#[test]
fn nested_lists_across_three_subgraphs() {
    snapshot!(
        "switchyard",
        r#"{
  users(first: 10) {
    edges {
      node {
        name
        orders(first: 5) {
          edges { node { id totalCents notifications { title read } } }
          pageInfo { hasNextPage }
        }
        unreadNotificationCount
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"#
    );
}

#[test]
fn entity_back_to_owner() {
    snapshot!(
        "switchyard",
        r#"{ notification(id: "n1") { title user { name orderCount } order { totalCents status } } }"#
    );
}

// ---- operation features -------------------------------------------------------

#[test]
fn aliases_fragments_and_typename() {
    snapshot!(
        "switchyard",
        r#"query Profile($id: ID!) {
  __typename
  me: user(id: $id) {
    __typename
    ...UserBits
    ... on User { placed: orderCount }
  }
}
fragment UserBits on User { id fullName: name orders { edges { node { ...OrderBits } } } }
fragment OrderBits on Order { total: totalCents currency }"#
    );
}

#[test]
fn variables_and_skip_include() {
    snapshot!(
        "switchyard",
        r#"query ($id: ID!, $withOrders: Boolean!, $noMail: Boolean = false, $status: OrderStatus) {
  user(id: $id) {
    name
    email @skip(if: $noMail)
    orders(status: $status) @include(if: $withOrders) { edges { node { id } } }
    hidden: createdAt @skip(if: true)
    shown: createdAt @include(if: true)
  }
}"#
    );
}

#[test]
fn condition_on_whole_root_fetch() {
    snapshot!(
        "switchyard",
        r#"query ($n: Boolean!) {
  order(id: "o1") @include(if: $n) { id status }
  user(id: "1") { name }
}"#
    );
}

#[test]
fn introspection_is_answered_by_the_gateway() {
    snapshot!(
        "switchyard",
        r#"{ __schema { queryType { name } } t: __type(name: "User") { name } user(id: "1") { name } }"#
    );
}

#[test]
fn only_introspection_needs_no_fetch() {
    snapshot!(
        "switchyard",
        r#"{ __typename __schema { types { name } } }"#
    );
}

// ---- mutations ----------------------------------------------------------------

#[test]
fn mutations_run_in_document_order() {
    snapshot!(
        "switchyard",
        r#"mutation ($input: CreateUserInput!, $order: PlaceOrderInput!) {
  createUser(input: $input) { id name orderCount }
  placeOrder(input: $order) { id user { name } }
  cancelOrder(id: "o1") { status }
  markAllNotificationsRead(userId: "1")
  deleteUser(id: "2") { id }
}"#
    );
}

// ---- @requires / @provides / @shareable ----------------------------------------

#[test]
fn requires_fetches_inputs_first() {
    snapshot!(
        "requires",
        r#"{ topProducts { name shippingEstimate inStock } }"#
    );
}

#[test]
fn requires_nested_and_chained() {
    snapshot!(
        "requires",
        r#"{ topProducts(first: 3) { packaging reviewScore } }"#
    );
}

#[test]
fn provides_skips_a_fetch() {
    snapshot!("provides", r#"{ topReviews { body author { username } } }"#);
}

#[test]
fn provides_does_not_cover_other_fields() {
    snapshot!(
        "provides",
        r#"{ topReviews { author { username birthYear } editor { username } } }"#
    );
}

#[test]
fn shareable_prefers_the_current_subgraph() {
    snapshot!(
        "shareable",
        r#"{ search(text: "x") { id name price { amount } discount } }"#
    );
}

#[test]
fn shareable_root_picks_subgraph_covering_selection() {
    snapshot!(
        "shareable",
        r#"{ product(id: "1") { price { amount currency } discount } }"#
    );
}

// ---- keys -----------------------------------------------------------------------

#[test]
fn key_chosen_that_the_parent_can_provide() {
    snapshot!(
        "keys",
        r#"{ products { name stock rating } bestRated { stock } }"#
    );
}

#[test]
fn compound_key_and_resolvable_false() {
    snapshot!(
        "keys",
        r#"{ locations { aisle shelves footfall store { id name } } }"#
    );
}

// ---- abstract types ------------------------------------------------------------

#[test]
fn interface_fields_and_type_conditions() {
    snapshot!(
        "abstract",
        r#"{ media { __typename id title ... on Book { pages reviews } ... on Movie { rating } } }"#
    );
}

#[test]
fn union_members_differ_per_subgraph() {
    snapshot!(
        "abstract",
        r#"{ search(text: "x") { ... on Book { title reviews } ... on Song { title } } reviewable { ... on Movie { title minutes rating } } }"#
    );
}

// ---- @override ------------------------------------------------------------------

#[test]
fn override_moves_the_owner() {
    snapshot!(
        "override",
        r#"{ account(id: "1") { name balance plan limit } }"#
    );
}

#[test]
fn override_label_active() {
    let options = PlanOptions {
        override_labels: ["percent(25)".to_owned()].into_iter().collect(),
    };
    insta::assert_snapshot!(plan_with(
        "override",
        r#"{ account(id: "1") { name balance plan limit } }"#,
        &options
    ));
}

// ---- @inaccessible ---------------------------------------------------------------

#[test]
fn inaccessible_fields_are_invalid_for_clients() {
    let err = try_plan(
        "inaccessible",
        r#"{ user(id: "1") { passwordHash } }"#,
        &Default::default(),
    )
    .expect_err("hidden field");
    assert!(matches!(err, PlanError::InvalidOperation(_)), "{err}");
    snapshot!(
        "inaccessible",
        r#"{ user(id: "1") { name lastLogin role } }"#
    );
}

// ---- @interfaceObject -------------------------------------------------------------

#[test]
fn interface_object_field_from_concrete_types() {
    snapshot!(
        "interface_object",
        r#"{ items { __typename id name price } }"#
    );
}

#[test]
fn interface_object_root_needs_concrete_type() {
    snapshot!(
        "interface_object",
        r#"{ cheapest { __typename price name ... on Shoe { size } } }"#
    );
}

#[test]
fn interface_object_fetch_rewrites_typename() {
    let plan = try_plan(
        "interface_object",
        "{ items { price } }",
        &Default::default(),
    )
    .expect("plans");
    let text = format!("{:?}", plan.node);
    assert!(
        text.contains("typename_overrides: [(\"Item\", \"Item\")]"),
        "{text}"
    );
}

// ---- Federation 1 supergraph (join v0.1) ----------------------------------------

#[test]
fn federation_1_supergraph_plans() {
    snapshot!(
        "fed1_join_v01",
        r#"{ me { name orders { total { amount } shippingCost buyer { name } } } recentOrders { buyer { id name } } }"#
    );
}

#[test]
fn federation_1_api_schema() {
    insta::assert_snapshot!(planner("fed1_join_v01").supergraph().api_sdl());
}

// ---- what is sent to subgraphs ------------------------------------------------------

/// Every fetch's operation text, in plan order.
fn operations(plan: &QueryPlan) -> Vec<String> {
    fn walk(node: &PlanNode, out: &mut Vec<String>) {
        match node {
            PlanNode::Fetch(fetch) => out.push(format!(
                "{} <- {}  [variables: {}]",
                fetch.service_name,
                fetch.operation,
                fetch.variable_usages.join(", ")
            )),
            PlanNode::Flatten(flatten) => walk(&flatten.node, out),
            PlanNode::Sequence(nodes) | PlanNode::Parallel(nodes) => {
                nodes.iter().for_each(|n| walk(n, out))
            }
            PlanNode::Condition(condition) => {
                condition.if_true.iter().for_each(|n| walk(n, out));
                condition.if_false.iter().for_each(|n| walk(n, out));
            }
        }
    }
    let mut out = Vec::new();
    if let Some(node) = &plan.node {
        walk(node, &mut out);
    }
    out
}

#[test]
fn subgraph_operations_declare_the_variables_they_use() {
    let plan = try_plan(
        "switchyard",
        r#"query Dashboard($id: ID!, $first: Int = 5, $withOrders: Boolean!) {
  user(id: $id) {
    name
    orders(first: $first) @include(if: $withOrders) { edges { node { id } } }
    notifications(first: $first, unreadOnly: true) { edges { node { title } } }
  }
}"#,
        &Default::default(),
    )
    .expect("plans");
    insta::assert_snapshot!(operations(&plan).join("\n"));
}

#[test]
fn type_condition_the_subgraph_cannot_return_is_dropped() {
    snapshot!(
        "abstract",
        r#"{ featured { id ... on Song { title } ... on Movie { title } } }"#
    );
}

#[test]
fn requires_from_the_subgraph_already_fetched() {
    // `inventory` is resolved by the subgraph that owns shippingEstimate, but
    // its `@requires` inputs live in a_products: out and back in again.
    snapshot!("requires", r#"{ inventory { inStock shippingEstimate } }"#);
}

#[test]
fn variable_condition_on_fragment_spread() {
    snapshot!(
        "switchyard",
        r#"query ($full: Boolean!) {
  user(id: "1") { id ...Stats @include(if: $full) }
}
fragment Stats on User { orderCount unreadNotificationCount }"#
    );
}

// ---- the subgraphs' own exported SDLs ------------------------------------------------

/// `exported` is composed from `schema/*.graphql` as the subgraphs print them;
/// the hand-written `switchyard` fixture must plan exactly like it.
#[test]
fn exported_schemas_plan_like_the_fixture() {
    for operation in [
        r#"{ users(first: 10) { edges { node { name orders(first: 5) { edges { node { id totalCents notifications { title read } } } } unreadNotificationCount } } } }"#,
        r#"{ notification(id: "n1") { title user { name orderCount } order { totalCents status user { email } } } }"#,
        r#"mutation ($input: CreateUserInput!) { createUser(input: $input) { id orderCount } markAllNotificationsRead(userId: "1") }"#,
    ] {
        let fixture =
            try_plan("switchyard", operation, &Default::default()).expect("fixture plans");
        let exported =
            try_plan("exported", operation, &Default::default()).expect("exported plans");
        assert_eq!(fixture.to_string(), exported.to_string(), "{operation}");
    }
}

#[test]
fn plans_and_planners_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Planner>();
    send_sync::<Supergraph>();
    send_sync::<QueryPlan>();
}

#[test]
fn same_entity_hop_again_deeper_down() {
    snapshot!(
        "switchyard",
        r#"{ notification(id: "n1") { user { orders { edges { node { notifications { user { orderCount email } } } } } } } }"#
    );
}

#[test]
fn override_labels_are_rolled_per_percentage() {
    let supergraph = planner("override");
    let supergraph = supergraph.supergraph();
    assert_eq!(supergraph.override_labels(), ["percent(25)"]);
    let active = PlanOptions::rolled(supergraph, || 0.10);
    assert!(active.override_labels.contains("percent(25)"));
    let inactive = PlanOptions::rolled(supergraph, || 0.30);
    assert!(inactive.override_labels.is_empty());
}

#[test]
fn requires_with_arguments() {
    snapshot!("requires", r#"{ topProducts { importDuty } }"#);
}

#[test]
fn value_type_field_missing_locally_moves_the_parent_field() {
    // catalog resolves Product.price, but its Money lacks `formatted`, and a
    // value type has no key to hop through: price comes from pricing.
    snapshot!(
        "shareable",
        r#"{ products { name price { amount formatted } } }"#
    );
}

#[test]
fn inaccessible_key_still_joins_subgraphs() {
    snapshot!("inaccessible", r#"{ badges { label awardedAt } }"#);
}

// ---- client aliases that shadow key or required fields ---------------------------------

#[test]
fn alias_shadowing_a_key_fetches_the_key_under_another_alias() {
    // `requires` reads `sy_id` and sends it as `id`.
    snapshot!(
        "switchyard",
        r#"{ user(id: "1") { orderCount id: email sy_id: name } }"#
    );
}

#[test]
fn alias_shadowing_a_key_fetched_through_another_hop() {
    // c_reviews knows Product by id only; inventory's key `sku` comes from
    // catalog, where it is fetched as `sy_sku` because `sku` is the client's.
    snapshot!("keys", r#"{ bestRated { stock sku: rating } }"#);
}

#[test]
fn alias_shadowing_a_required_field() {
    snapshot!(
        "requires",
        r#"{ topProducts { weight: name shippingEstimate } }"#
    );
}

#[test]
fn skip_on_an_entity_hop_and_named_operation_choice() {
    let source = r#"query Other { users { pageInfo { hasNextPage } } }
query Wanted($lite: Boolean!) { user(id: "1") { name orderCount @skip(if: $lite) } }"#;
    let plan = planner("switchyard")
        .plan_source(source, Some("Wanted"), &PlanOptions::default())
        .expect("plans");
    insta::assert_snapshot!(plan.to_string());
}

// ---- federation patterns ---------------------------------------------------

#[test]
fn skipped_selections_leave_an_object_with_typename_only() {
    snapshot!(
        "switchyard",
        r#"{ users(first: 2) { edges { cursor @skip(if: true) node @include(if: false) { id } } } }"#
    );
}

#[test]
fn shared_root_value_type_split_into_parallel_root_fetches() {
    snapshot!(
        "shared_root",
        r#"{ config { theme locale limits { pageSize maxUpload } } }"#
    );
}

#[test]
fn shared_root_entity_then_entity_jumps() {
    snapshot!("shared_root", r#"{ featured { name price stock rating } }"#);
}

#[test]
fn value_type_split_goes_back_to_the_parent_entity() {
    snapshot!(
        "parent_entity",
        r#"{ products { name details { weight color origin { country port } } variants { size stock } } }"#
    );
}

#[test]
fn value_type_under_compound_key_from_a_third_subgraph() {
    snapshot!(
        "parent_entity",
        r#"{ products { seller { name rating profile { bio avatar } } } }"#
    );
}

#[test]
fn value_type_split_inside_an_aliased_conditional_path() {
    snapshot!(
        "parent_entity",
        r#"query($c: Boolean!) { products { d: details @include(if: $c) { w: weight color } } }"#
    );
}

#[test]
fn requires_with_conflicting_argument_is_aliased() {
    snapshot!(
        "requires_advanced",
        r#"{ products { p: price(currency: "GBP") price: price(currency: "JPY") eurTax finalPrice } }"#
    );
}

#[test]
fn requires_with_fragments_on_interface_and_union() {
    snapshot!(
        "requires_advanced",
        r#"{ products { mediaCost tagScore } }"#
    );
}

#[test]
fn requires_of_a_provided_field_and_a_required_chain() {
    snapshot!(
        "requires_advanced",
        r#"{ products { sellerLabel seller { score } } }"#
    );
}

#[test]
fn circular_requires_between_two_subgraphs() {
    snapshot!("requires_cycle", r#"{ things { peak base } }"#);
}

#[test]
fn circular_requires_with_the_intermediate_fields_asked() {
    snapshot!("requires_cycle", r#"{ things { peak middle top } }"#);
}

#[test]
fn interface_object_fields_through_concrete_types() {
    snapshot!(
        "interface_object_advanced",
        r#"{ accounts { id balance statement ... on Personal { birthday } } }"#
    );
}

#[test]
fn interface_object_typename_and_concrete_fields() {
    snapshot!(
        "interface_object_advanced",
        r#"{ richest { __typename id owner balance ... on Business { vat } } }"#
    );
}

#[test]
fn interface_object_behind_a_non_resolvable_key() {
    snapshot!(
        "interface_object_advanced",
        r#"{ events { account { id owner balance } } }"#
    );
}

#[test]
fn unions_whose_members_differ_per_subgraph() {
    snapshot!(
        "abstract_advanced",
        r#"{ search { __typename ... on Book { title price } ... on Pen { ink label color } } deals { ... on Book { title } ... on Mug { volume } } }"#
    );
}

#[test]
fn interface_field_overridden_on_one_implementation() {
    snapshot!(
        "abstract_advanced",
        r#"{ items { id label ... on Book { price } } }"#
    );
}

#[test]
fn shared_node_interface_with_types_in_some_subgraphs() {
    snapshot!(
        "robust_shapes",
        r#"{ node(id: "1") { id ... on User { name favourite { title } } ... on Product { title owner { name } } } }"#
    );
}

#[test]
fn entities_nested_through_several_hops() {
    snapshot!(
        "robust_shapes",
        r#"{ users { name favourite { owner { favourite { title owner { name } } } } } }"#
    );
}

#[test]
fn interface_object_fields_asked_on_each_implementation() {
    // Only objects of each type are sent, as the interface, in a fetch of
    // their own: the two fragments ask `balance` for different objects.
    snapshot!(
        "interface_object_advanced",
        r#"{ accounts { ... on Personal { balance birthday statement } ... on Business { balance } } }"#
    );
}

#[test]
fn concrete_fragment_under_an_interface_object_answer_fetches_the_real_type() {
    snapshot!(
        "interface_object_advanced",
        r#"{ richest { ... on Business { vat } } }"#
    );
}

#[test]
fn nested_conditions_of_one_kind_on_one_field_are_sent_as_fragments() {
    snapshot!(
        "switchyard",
        r#"query($a: Boolean!, $b: Boolean!) { users { pageInfo { ... @skip(if: $a) { hasNextPage @skip(if: $b) } } } }"#
    );
}

#[test]
fn unsatisfiable_field_is_refused_naming_it() {
    // c_reviews resolves `rating` but cannot be entered without a key: no
    // plan exists, and the error names the field (not a panic, not a guess).
    let sdl = std::fs::read_to_string(format!(
        "{}/tests/fixtures/shared_root/supergraph.graphql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture exists")
    .replace(
        r#"@join__type(graph: C_REVIEWS, key: "id") {"#,
        r#"@join__type(graph: C_REVIEWS, key: "id", resolvable: false) {"#,
    );
    let planner = Planner::new(Arc::new(Supergraph::parse(&sdl).expect("loads"))).expect("builds");
    let err = planner
        .plan_source(
            "{ featured { name rating } }",
            None,
            &PlanOptions::default(),
        )
        .expect_err("no plan exists");
    assert!(
        matches!(&err, PlanError::UnreachableField { type_name, field, .. } if type_name == "Product" && field == "rating"),
        "{err}"
    );
    // The rest of the graph still plans.
    planner
        .plan_source(
            "{ featured { name price } config { theme locale } }",
            None,
            &PlanOptions::default(),
        )
        .expect("plans");
}

#[test]
fn shared_field_returning_an_object_in_one_subgraph_and_an_interface_in_another() {
    // a_cats returns `Cat` where the supergraph says `Animal`: it is asked
    // nothing about dogs.
    snapshot!(
        "type_mismatch",
        r#"{ pet { name ... on Cat { meow } ... on Dog { bark } } }"#
    );
}

#[test]
fn shared_field_with_a_subtype_answered_where_more_resolves() {
    snapshot!(
        "type_mismatch",
        r#"{ pet { id name ... on Cat { meow purr } ... on Dog { bark } } }"#
    );
}
