//! One module per fixture: its subgraphs and its tests.

mod abstract_types;
mod inaccessible;
mod interface_object;
mod keys;
mod overrides;
mod provides;
mod requires;
mod shareable;
