//! The demo data set, in one place so that the three databases agree: orders
//! point at users by id, notifications at users and orders. Ids are positions
//! (1-based) in these lists, as the seeding inserts them in order.

pub const USER_COUNT: i32 = 50;

const FIRST_NAMES: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tony",
];
const LAST_NAMES: &[&str] = &["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov"];

pub struct DemoUser {
    pub name: String,
    pub email: String,
}

pub struct DemoItem {
    pub sku: String,
    pub name: &'static str,
    pub quantity: i32,
    pub unit_price_cents: i64,
}

pub struct DemoOrder {
    pub user_id: i32,
    pub status: &'static str,
    pub currency: &'static str,
    pub items: Vec<DemoItem>,
}

pub struct DemoNotification {
    pub user_id: i32,
    pub order_id: Option<i32>,
    pub channel: &'static str,
    pub title: String,
    pub body: String,
    pub read: bool,
}

const PRODUCTS: &[(&str, i64)] = &[
    ("Rail spike", 199),
    ("Signal lamp", 4_500),
    ("Switch lever", 12_900),
    ("Timetable", 350),
];
const STATUSES: &[&str] = &["PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"];
const CHANNELS: &[&str] = &["EMAIL", "SMS", "PUSH", "IN_APP"];

pub fn users() -> Vec<DemoUser> {
    (1..=USER_COUNT)
        .map(|i| {
            let first = FIRST_NAMES[(i as usize - 1) % FIRST_NAMES.len()];
            let last = LAST_NAMES[(i as usize - 1) / FIRST_NAMES.len() % LAST_NAMES.len()];
            DemoUser {
                name: format!("{first} {last}"),
                email: format!(
                    "{}.{}{i}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase()
                ),
            }
        })
        .collect()
}

/// One to three orders per user.
pub fn orders() -> Vec<DemoOrder> {
    let mut orders = Vec::new();
    for user_id in 1..=USER_COUNT {
        for n in 0..(user_id % 3 + 1) {
            let k = (user_id + n) as usize;
            let items = (0..(k % 3 + 1))
                .map(|j| {
                    let (name, price) = PRODUCTS[(k + j) % PRODUCTS.len()];
                    DemoItem {
                        sku: format!("SKU-{:03}", (k + j) % PRODUCTS.len() + 1),
                        name,
                        quantity: (j as i32) + 1,
                        unit_price_cents: price,
                    }
                })
                .collect();
            orders.push(DemoOrder {
                user_id,
                status: STATUSES[k % STATUSES.len()],
                currency: "EUR",
                items,
            });
        }
    }
    orders
}

/// A welcome note per user, and a status note per order.
pub fn notifications() -> Vec<DemoNotification> {
    let mut out: Vec<DemoNotification> = (1..=USER_COUNT)
        .map(|user_id| DemoNotification {
            user_id,
            order_id: None,
            channel: "IN_APP",
            title: "Welcome to Switchyard".into(),
            body: "Your account is ready.".into(),
            read: user_id % 2 == 0,
        })
        .collect();
    for (i, order) in orders().iter().enumerate() {
        let order_id = i as i32 + 1;
        out.push(DemoNotification {
            user_id: order.user_id,
            order_id: Some(order_id),
            channel: CHANNELS[i % CHANNELS.len()],
            title: format!("Order #{order_id} is {}", order.status.to_lowercase()),
            body: format!("Order #{order_id} with {} item(s).", order.items.len()),
            read: i % 3 == 0,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_stay_inside_the_data_set() {
        let orders = orders();
        assert!(
            orders
                .iter()
                .all(|o| (1..=USER_COUNT).contains(&o.user_id) && !o.items.is_empty())
        );
        let emails: std::collections::HashSet<_> = users().into_iter().map(|u| u.email).collect();
        assert_eq!(emails.len(), USER_COUNT as usize, "demo emails are unique");
        assert!(
            notifications()
                .iter()
                .all(|n| n.order_id.is_none_or(|id| id as usize <= orders.len()))
        );
    }
}
