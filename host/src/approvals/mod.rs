//! Payment approvals: the monotonic status of each instance, and the reconciler that re-reads
//! instances whose decision never arrived.

mod reconcile;
mod status;

pub use reconcile::Reconciler;
pub use status::{Status, accepts};
