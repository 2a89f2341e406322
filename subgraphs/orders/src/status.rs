//! The order life cycle: PENDING → PAID → SHIPPED → DELIVERED, and CANCELLED
//! from PENDING or PAID. Transitions only go forward.

use async_graphql::Enum;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Paid => "PAID",
            Self::Shipped => "SHIPPED",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// The states an order may be in for a move to `self`.
    pub fn allowed_from(self) -> Vec<Self> {
        match self {
            Self::Pending => vec![],
            Self::Paid => vec![Self::Pending],
            Self::Shipped => vec![Self::Pending, Self::Paid],
            Self::Delivered => vec![Self::Pending, Self::Paid, Self::Shipped],
            Self::Cancelled => vec![Self::Pending, Self::Paid],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;

    #[test]
    fn transitions_only_go_forward() {
        assert!(Paid.allowed_from().contains(&Pending));
        assert!(!Pending.allowed_from().contains(&Paid));
        assert!(!Cancelled.allowed_from().contains(&Shipped));
        assert!(
            Delivered
                .allowed_from()
                .iter()
                .all(|s| *s != Cancelled && *s != Delivered)
        );
        for s in super::OrderStatus::ALL {
            assert_eq!(super::OrderStatus::parse(s.as_str()), Some(s));
        }
    }
}
