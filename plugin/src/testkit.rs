//! In-memory fakes of the ports, for unit tests of the core.

use crate::ports::*;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

#[derive(Default)]
pub struct MapSettings(pub HashMap<String, String>);

impl MapSettings {
    /// Enabled, with credentials, pointing at a fake host.
    pub fn configured() -> Self {
        let mut m = HashMap::new();
        m.insert(crate::settings::ENABLED.into(), "true".into());
        m.insert(crate::settings::APP_ID.into(), "\"cli_test\"".into());
        m.insert(crate::settings::APP_SECRET.into(), "secret".into());
        m.insert(
            crate::settings::BASE_URL.into(),
            "\"http://feishu.test\"".into(),
        );
        MapSettings(m)
    }
    pub fn with(mut self, key: &str, json: &str) -> Self {
        self.0.insert(key.into(), json.into());
        self
    }
}

impl Settings for MapSettings {
    fn config(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn secret(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}

#[derive(Default)]
pub struct MemKv {
    pub map: RefCell<HashMap<String, KvEntry>>,
    next: RefCell<u64>,
}

impl MemKv {
    fn bump(&self) -> u64 {
        *self.next.borrow_mut() += 1;
        *self.next.borrow()
    }
}

impl Kv for MemKv {
    fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        Ok(self.map.borrow().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8], _ttl: Option<u64>) -> Result<u64, KvError> {
        let version = self.bump();
        self.map.borrow_mut().insert(
            key.into(),
            KvEntry {
                value: value.to_vec(),
                version,
            },
        );
        Ok(version)
    }
    fn compare_and_set(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &[u8],
        ttl: Option<u64>,
    ) -> Result<u64, KvError> {
        let current = self.map.borrow().get(key).map(|e| e.version);
        if current != expected {
            return Err(KvError::Conflict);
        }
        self.set(key, value, ttl)
    }
    fn delete(&self, key: &str) -> Result<(), KvError> {
        self.map.borrow_mut().remove(key);
        Ok(())
    }
}

/// Answers requests from a script, in order, and records them.
#[derive(Default)]
pub struct ScriptedHttp {
    pub replies: RefCell<VecDeque<Result<HttpResponse, TransportError>>>,
    pub seen: RefCell<Vec<HttpRequest>>,
}

impl ScriptedHttp {
    pub fn reply(self, status: u16, body: &str) -> Self {
        self.replies.borrow_mut().push_back(Ok(HttpResponse {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }));
        self
    }
    pub fn token(self, token: &str) -> Self {
        self.reply(
            200,
            &format!(r#"{{"code":0,"msg":"ok","tenant_access_token":"{token}","expire":7200}}"#),
        )
    }
    pub fn paths(&self) -> Vec<String> {
        self.seen
            .borrow()
            .iter()
            .map(|r| r.url.trim_start_matches("http://feishu.test").to_string())
            .collect()
    }
}

impl Http for ScriptedHttp {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.seen.borrow_mut().push(request.clone());
        self.replies
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Err(TransportError::Connection("script exhausted".into())))
    }
}

pub struct NoSleep;
impl Clock for NoSleep {
    fn sleep_ms(&self, _ms: u64) {}
    fn now_ms(&self) -> u64 {
        0
    }
}

pub struct NoLog;
impl Log for NoLog {
    fn log(&self, _level: Level, _message: &str) {}
}

/// An environment of fakes (no waiting, no logging).
pub fn env<'a>(settings: &'a MapSettings, kv: &'a dyn Kv, http: &'a ScriptedHttp) -> Env<'a> {
    Env {
        settings,
        kv,
        http,
        clock: &NoSleep,
        log: &NoLog,
    }
}
