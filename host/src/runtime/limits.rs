//! The sandbox every plugin call runs in.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SandboxLimits {
    /// Wall-clock budget of one call, instantiation included.
    pub call_deadline: Duration,
    /// Linear memory a call may grow to.
    pub memory_bytes: usize,
    /// Largest request body a plugin may send, and response body it may receive.
    pub http_body_bytes: usize,
    /// Most data a plugin may hand the host in one import call (strings, lists).
    pub host_call_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            call_deadline: Duration::from_secs(30),
            memory_bytes: 64 * 1024 * 1024,
            http_body_bytes: 1024 * 1024,
            host_call_bytes: 4 * 1024 * 1024,
        }
    }
}

/// How often the epoch ticks; a looping plugin is interrupted within one tick of its deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
