//! The outbox worker: takes due deliveries from the store, runs them through the active notifier
//! plugin, records each outcome and schedules retries.

mod approval_jobs;
pub mod class;
mod event_cache;
pub mod kind;
mod outcome;
mod outcome_writer;
pub mod rate;
pub mod redraw;
mod redraw_job;
mod retry;
mod worker;

pub use class::Class;
pub use event_cache::load as load_event;
pub use kind::Kind;
pub use rate::RateLimits;
pub use retry::RetryPolicy;
pub use worker::{Worker, WorkerHandle};
