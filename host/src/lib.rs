//! Mica's extension host: loads plugin components, gives them capabilities, calls them on Mica's
//! domain events, and keeps everything durable.

pub mod capabilities;
pub mod runtime;
pub mod store;
