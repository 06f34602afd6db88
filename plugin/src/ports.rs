//! What the core needs from its environment. The wasm glue implements these with the host's imports;
//! unit tests implement them with in-memory fakes.

use crate::model::PluginError;

/// Read the plugin's own settings and secrets.
pub trait Settings {
    /// A non-sensitive setting's value as JSON text, or `None` when unset.
    fn config(&self, key: &str) -> Option<String>;
    /// A secret's plain value, or `None` when unset.
    fn secret(&self, key: &str) -> Option<String>;
}

/// A kv entry and its version (for compare-and-set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvEntry {
    pub value: Vec<u8>,
    pub version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvError {
    Conflict,
    TooLarge(u64),
    Unavailable(String),
}

/// The host's shared key-value store (values expire after their time to live).
pub trait Kv {
    fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError>;
    fn set(&self, key: &str, value: &[u8], ttl_ms: Option<u64>) -> Result<u64, KvError>;
    fn compare_and_set(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<u64, KvError>;
    fn delete(&self, key: &str) -> Result<(), KvError>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The first header named `name` (case-insensitive) in a header list.
pub fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// Why a request got no HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// The host's outbound allow-list refused the request.
    Denied(String),
    /// No answer in time.
    Timeout(String),
    /// Connection refused, reset, DNS, TLS and the like.
    Connection(String),
}

/// Outbound HTTP.
pub trait Http {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// Time: waiting, for the few places the core must (another instance is fetching the token), and
/// the wall clock.
pub trait Clock {
    fn sleep_ms(&self, ms: u64);
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
}

/// Messages for the host's log (never with a secret in them).
pub trait Log {
    fn log(&self, level: Level, message: &str);
}

/// Everything the core needs, bundled so call sites take one argument.
pub struct Env<'a> {
    pub settings: &'a dyn Settings,
    pub kv: &'a dyn Kv,
    pub http: &'a dyn Http,
    pub clock: &'a dyn Clock,
    pub log: &'a dyn Log,
}

impl From<KvError> for PluginError {
    fn from(e: KvError) -> Self {
        let msg = match e {
            KvError::Conflict => "the host's key-value store reported a conflict".to_string(),
            KvError::TooLarge(n) => {
                format!("a value exceeded the host's key-value limit of {n} bytes")
            }
            KvError::Unavailable(why) => {
                format!("the host's key-value store is unavailable: {why}")
            }
        };
        PluginError::Transient(crate::model::Failure::new(msg))
    }
}
