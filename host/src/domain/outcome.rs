//! What a plugin answers a send: a receipt, or an error whose kind decides what the worker does
//! next (`delivery::outcome`).

/// What the remote service said when it refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// Feishu's `code`, when it sent one.
    pub remote_code: Option<i64>,
    /// Feishu's `x-tt-logid`, for its support.
    pub log_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimited {
    pub retry_after_ms: u64,
    pub failure: Failure,
}

/// Each kind is handled differently: skipped is final and fine, invalid input and permanent fail
/// at once, the rest are retried (rate-limited ones without spending an attempt).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginError {
    Skipped(String),
    NotConfigured(String),
    InvalidInput(String),
    Unauthorized(Failure),
    RateLimited(RateLimited),
    Transient(Failure),
    Permanent(Failure),
}

impl PluginError {
    /// A retried error the host itself raised (the store could not be read, say).
    pub fn transient(message: impl Into<String>) -> PluginError {
        PluginError::Transient(Failure::message(message))
    }

    /// A final error the host itself raised.
    pub fn permanent(message: impl Into<String>) -> PluginError {
        PluginError::Permanent(Failure::message(message))
    }
}

impl Failure {
    /// A failure with no remote code or log id (raised by the host, not by Feishu).
    pub fn message(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            remote_code: None,
            log_id: None,
        }
    }
}

/// A sent (or redrawn, or created) thing's id, as the delivery records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub message_id: String,
    pub chat_id: Option<String>,
    pub log_id: Option<String>,
}

impl Receipt {
    /// A receipt for something with an id and nothing else (an approval instance).
    pub fn of(id: impl Into<String>) -> Receipt {
        Receipt {
            message_id: id.into(),
            chat_id: None,
            log_id: None,
        }
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginError::Skipped(why) => write!(f, "skipped: {why}"),
            PluginError::NotConfigured(why) => write!(f, "not configured: {why}"),
            PluginError::InvalidInput(why) => write!(f, "invalid input: {why}"),
            PluginError::Unauthorized(e) => write!(f, "unauthorized: {}", e.message),
            PluginError::RateLimited(r) => write!(
                f,
                "rate limited (retry after {} ms): {}",
                r.retry_after_ms, r.failure.message
            ),
            PluginError::Transient(e) => write!(f, "transient: {}", e.message),
            PluginError::Permanent(e) => write!(f, "permanent: {}", e.message),
        }
    }
}

impl std::error::Error for PluginError {}
