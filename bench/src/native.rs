//! The plugin core run natively: the same `notify` the component runs, with in-memory ports.

use crate::feishu_answers::answer;
use mica_feishu_plugin::model::{NotifyRequest, PluginError, Receipt};
use mica_feishu_plugin::ports::*;
use mica_feishu_plugin::settings::{APP_ID, APP_SECRET, BASE_URL, ENABLED};
use std::cell::RefCell;
use std::collections::HashMap;

pub struct NativeEnv {
    settings: MapSettings,
    kv: MemoryKv,
    http: InProcessHttp,
    clock: SystemClock,
    log: NoLog,
}

struct MapSettings(HashMap<&'static str, String>);
impl Settings for MapSettings {
    fn config(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn secret(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}

#[derive(Default)]
struct MemoryKv(RefCell<HashMap<String, KvEntry>>);
impl Kv for MemoryKv {
    fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        Ok(self.0.borrow().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8], _ttl: Option<u64>) -> Result<u64, KvError> {
        let mut map = self.0.borrow_mut();
        let version = map.get(key).map_or(1, |e| e.version + 1);
        map.insert(
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
        let current = self.0.borrow().get(key).map(|e| e.version);
        if current != expected {
            return Err(KvError::Conflict);
        }
        self.set(key, value, ttl)
    }
    fn delete(&self, key: &str) -> Result<(), KvError> {
        self.0.borrow_mut().remove(key);
        Ok(())
    }
}

struct InProcessHttp;
impl Http for InProcessHttp {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let path = request.url.split('?').next().unwrap_or("");
        Ok(HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: answer(path).to_vec(),
        })
    }
}

struct SystemClock;
impl Clock for SystemClock {
    fn sleep_ms(&self, ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

struct NoLog;
impl Log for NoLog {
    fn log(&self, _level: Level, _message: &str) {}
}

impl NativeEnv {
    /// Enabled, with credentials, pointed at Feishu (answered in process).
    pub fn new() -> NativeEnv {
        let settings = [
            (ENABLED, "true".to_string()),
            (APP_ID, "\"cli_9f5343c580712544\"".to_string()),
            (
                APP_SECRET,
                "\"bench-app-secret-0000000000000001\"".to_string(),
            ),
            (BASE_URL, "\"https://open.feishu.cn\"".to_string()),
        ];
        NativeEnv {
            settings: MapSettings(settings.into_iter().collect()),
            kv: MemoryKv::default(),
            http: InProcessHttp,
            clock: SystemClock,
            log: NoLog,
        }
    }

    pub fn notify(&self, request: &NotifyRequest) -> Result<Receipt, PluginError> {
        let env = Env {
            settings: &self.settings,
            kv: &self.kv,
            http: &self.http,
            clock: &self.clock,
            log: &self.log,
        };
        mica_feishu_plugin::notify::notify(&env, request)
    }
}

impl Default for NativeEnv {
    fn default() -> Self {
        Self::new()
    }
}
