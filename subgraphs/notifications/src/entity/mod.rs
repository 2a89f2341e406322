//! SeaORM entities of the notifications database.
pub mod notification;
