//! Orders events end to end, on real NATS JetStream (`TEST_NATS_URL`, each test
//! on a stream and subjects of its own) and on the in-process link of dev mode:
//! an order placed through the gateway becomes one notification of its user;
//! notifications restarted while orders keep coming, or an orders relay that
//! died before marking what it had published, still end with exactly one
//! notification per order.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use kit::{SubgraphConfig, events::LocalBus, testing::TestServer};
use notifications::Notifications;
use orders::Orders;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use super::Federation;

type Tune = Arc<dyn Fn(&mut SubgraphConfig) + Send + Sync>;

/// How the orders events travel in one test.
struct Link {
    tune: Tune,
    /// The stream of a NATS test, deleted at the end.
    nats: Option<(String, String)>,
}

impl Link {
    fn in_process() -> Self {
        Self {
            tune: Arc::new(kit::testing::linked_by(&LocalBus::default())),
            nats: None,
        }
    }

    /// None (the test is skipped) unless `TEST_NATS_URL` names a server.
    fn nats() -> Option<Self> {
        let Ok(url) = std::env::var("TEST_NATS_URL") else {
            eprintln!("skipped: set TEST_NATS_URL=nats://127.0.0.1:4222 to run on JetStream");
            return None;
        };
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let run = format!(
            "sytest{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let stream = run.to_ascii_uppercase();
        let tune: Tune = {
            let (url, stream) = (url.clone(), stream.clone());
            Arc::new(move |c| {
                c.nats_url = Some(url.clone());
                c.events_stream = stream.clone();
                c.events_subject = format!("{run}.orders");
                c.events_consumer = run.clone();
            })
        };
        Some(Self {
            tune,
            nats: Some((url, stream)),
        })
    }

    async fn federation(&self) -> Federation {
        let tune = self.tune.clone();
        Federation::start_with(|_| {}, move |c| tune(c)).await
    }

    /// How many messages the JetStream stream holds (after the server's dedup).
    async fn stream_messages(&self) -> Option<u64> {
        let (url, stream) = self.nats.as_ref()?;
        let js = async_nats::jetstream::new(async_nats::connect(url.as_str()).await.unwrap());
        let mut stream = js.get_stream(stream).await.unwrap();
        Some(stream.info().await.unwrap().state.messages)
    }

    async fn finish(self) {
        if let Some((url, stream)) = self.nats {
            let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
            let _ = js.delete_stream(stream).await;
        }
    }
}

impl Federation {
    fn subgraph(&self, name: &str) -> &TestServer {
        &self
            .subgraphs
            .iter()
            .find(|(n, _)| *n == name)
            .expect("subgraph")
            .1
    }

    fn database_url(&self, name: &str) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            self._dir.path().join(format!("{name}.db")).display()
        )
    }

    /// Stops subgraph `name` and starts it again on its database (another port:
    /// tests that restart talk to the subgraphs directly afterwards).
    async fn restart<S: kit::server::Subgraph>(&mut self, name: &'static str, tune: &Tune) {
        self.stop_subgraph(name).await;
        let url = self.database_url(name);
        let tune = tune.clone();
        let server = TestServer::start::<S>(url, "sqlite", &move |c: &mut SubgraphConfig| {
            c.seed = true;
            tune(c)
        })
        .await;
        self.subgraphs.push((name, server));
    }
}

const PLACE: &str = r#"mutation($u: ID!, $q: Int!) { placeOrder(input: { userId: $u,
    items: [{ sku: "EV-1", name: "Event", quantity: $q, unitPriceCents: 1995 }] }) { id } }"#;

async fn place(fed: &Federation, user: &str, quantity: i32) -> i32 {
    let placed = fed.gql(PLACE, json!({ "u": user, "q": quantity })).await;
    placed["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{placed:#}"))
        .parse()
        .unwrap()
}

/// Notification rows per order, counted in the notifications database.
async fn rows_of(notifications: &TestServer, order: i32) -> u64 {
    use notifications::entity::notification::{Column, Entity};
    Entity::find()
        .filter(Column::OrderId.eq(order))
        .count(&notifications.db)
        .await
        .unwrap()
}

/// Polls (generously) until every order has a notification, then checks there
/// is exactly one each.
async fn exactly_one_each(notifications: &TestServer, orders: &[i32]) {
    for _ in 0..600 {
        let mut all = true;
        for &order in orders {
            all &= rows_of(notifications, order).await >= 1;
        }
        if all {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for &order in orders {
        assert_eq!(rows_of(notifications, order).await, 1, "order {order}");
    }
}

async fn wait_until_relayed(orders: &TestServer) {
    for _ in 0..600 {
        if orders::outbox::pending(&orders.db).await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox did not drain");
}

async fn placed_order_notifies_its_user_once(link: Link) {
    let fed = link.federation().await;
    let notifications = fed.subgraph("notifications");
    let mut sub = kit::testing::WsSubscription::start(
        &format!("{}/graphql", notifications.base),
        "subscription { notificationAdded(userId: \"4\") { title body order { id } } }",
        json!({}),
    )
    .await;
    notifications
        .wait_for_subscribers("notificationAdded", 1)
        .await;
    let order = place(&fed, "4", 3).await;
    let body = format!("Order {order} placed: 3 items, 59.85 EUR");
    assert_eq!(
        sub.next_payload().await["data"]["notificationAdded"],
        json!({ "title": format!("Order {order} placed"), "body": body, "order": { "id": order.to_string() } })
    );
    // Through the gateway, with fields of all three subgraphs.
    let query = "query($id: ID!) { order(id: $id) { totalCents user { name } notifications { body user { id } } } }";
    let mut seen = Value::Null;
    for _ in 0..600 {
        seen = fed.gql(query, json!({ "id": order.to_string() })).await;
        if seen["data"]["order"]["notifications"] != json!([]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen["data"]["order"],
        json!({ "totalCents": 5985, "user": { "name": kit::demo::users()[3].name },
                "notifications": [{ "body": body, "user": { "id": "4" } }] }),
        "{seen:#}"
    );
    // A status change is news too.
    let shipped = fed
        .gql(
            "mutation($id: ID!) { updateOrderStatus(id: $id, status: SHIPPED) { status } }",
            json!({ "id": order.to_string() }),
        )
        .await;
    assert_eq!(shipped["data"]["updateOrderStatus"]["status"], "SHIPPED");
    assert_eq!(
        sub.next_payload().await["data"]["notificationAdded"]["body"],
        format!("Order {order} shipped")
    );
    wait_until_relayed(fed.subgraph("orders")).await;
    assert_eq!(rows_of(notifications, order).await, 2);
    if let Some(messages) = link.stream_messages().await {
        assert_eq!(messages, 2);
    }
    drop(fed);
    link.finish().await;
}

#[tokio::test]
async fn placed_order_notifies_its_user_once_in_process() {
    placed_order_notifies_its_user_once(Link::in_process()).await;
}

#[tokio::test]
async fn placed_order_notifies_its_user_once_over_nats() {
    if let Some(link) = Link::nats() {
        placed_order_notifies_its_user_once(link).await;
    }
}

async fn notifications_restarted_while_orders_are_placed(link: Link) {
    let mut fed = link.federation().await;
    let mut orders = Vec::new();
    for round in 0..3 {
        for _ in 0..5 {
            orders.push(place(&fed, "2", 1).await);
        }
        // Mid-stream: the consumer stops (wherever it is) and comes back.
        if round == 0 {
            fed.subgraph("notifications").workers.abort();
        }
        fed.restart::<Notifications>("notifications", &link.tune)
            .await;
    }
    exactly_one_each(fed.subgraph("notifications"), &orders).await;
    wait_until_relayed(fed.subgraph("orders")).await;
    if let Some(messages) = link.stream_messages().await {
        assert_eq!(messages, orders.len() as u64);
    }
    drop(fed);
    link.finish().await;
}

#[tokio::test]
async fn notifications_restarted_while_orders_are_placed_ends_with_one_each_in_process() {
    notifications_restarted_while_orders_are_placed(Link::in_process()).await;
}

#[tokio::test]
async fn notifications_restarted_while_orders_are_placed_ends_with_one_each_over_nats() {
    if let Some(link) = Link::nats() {
        notifications_restarted_while_orders_are_placed(link).await;
    }
}

async fn a_relay_killed_before_marking_resends_nothing_twice_in_effect(link: Link) {
    let mut fed = link.federation().await;
    let mut orders = Vec::new();
    for _ in 0..12 {
        orders.push(place(&fed, "6", 2).await);
    }
    exactly_one_each(fed.subgraph("notifications"), &orders).await;
    wait_until_relayed(fed.subgraph("orders")).await;
    // The relay dies after publishing, before marking: its events are pending
    // again, and the next relay (after a restart) publishes them once more.
    fed.subgraph("orders").workers.abort();
    {
        use orders::entity::order_event::{Column, Entity};
        Entity::update_many()
            .col_expr(Column::SentAt, sea_orm::sea_query::Expr::cust("NULL"))
            .exec(&fed.subgraph("orders").db)
            .await
            .unwrap();
    }
    assert_eq!(
        orders::outbox::pending(&fed.subgraph("orders").db)
            .await
            .unwrap(),
        12
    );
    fed.restart::<Orders>("orders", &link.tune).await;
    wait_until_relayed(fed.subgraph("orders")).await;
    let notifications = fed.subgraph("notifications");
    exactly_one_each(notifications, &orders).await;
    match link.stream_messages().await {
        // JetStream dropped the second copies by message id.
        Some(messages) => assert_eq!(messages, 12),
        // In process, the consumer saw them and inserted nothing.
        None => assert_eq!(
            notifications
                .metric("events_consumed_total", &[("outcome", "duplicate")])
                .await,
            12.0
        ),
    }
    drop(fed);
    link.finish().await;
}

#[tokio::test]
async fn a_relay_killed_before_marking_resends_nothing_twice_in_effect_in_process() {
    a_relay_killed_before_marking_resends_nothing_twice_in_effect(Link::in_process()).await;
}

#[tokio::test]
async fn a_relay_killed_before_marking_resends_nothing_twice_in_effect_over_nats() {
    if let Some(link) = Link::nats() {
        a_relay_killed_before_marking_resends_nothing_twice_in_effect(link).await;
    }
}
