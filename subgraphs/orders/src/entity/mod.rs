//! SeaORM entities of the orders database.
pub mod order;
pub mod order_event;
pub mod order_item;
