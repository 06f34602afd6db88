//! The core's ports implemented with the host's imports.

use super::mica::plugin::{config, kv, log, secrets};
use crate::ports::{Clock, Env, Kv, KvEntry, KvError, Level, Log, Settings};

struct HostSettings;

impl Settings for HostSettings {
    fn config(&self, key: &str) -> Option<String> {
        config::get(key)
    }
    fn secret(&self, key: &str) -> Option<String> {
        secrets::get(key)
    }
}

struct HostKv;

fn kv_error(e: kv::KvError) -> KvError {
    match e {
        kv::KvError::Conflict => KvError::Conflict,
        kv::KvError::TooLarge(n) => KvError::TooLarge(n),
        kv::KvError::Unavailable(why) => KvError::Unavailable(why),
    }
}

impl Kv for HostKv {
    fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        kv::get(key)
            .map(|e| {
                e.map(|e| KvEntry {
                    value: e.value,
                    version: e.version,
                })
            })
            .map_err(kv_error)
    }
    fn set(&self, key: &str, value: &[u8], ttl_ms: Option<u64>) -> Result<u64, KvError> {
        kv::set(key, value, ttl_ms).map_err(kv_error)
    }
    fn compare_and_set(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<u64, KvError> {
        kv::compare_and_set(key, expected, value, ttl_ms).map_err(kv_error)
    }
    fn delete(&self, key: &str) -> Result<(), KvError> {
        kv::delete(key).map_err(kv_error)
    }
}

struct WasiClock;

impl Clock for WasiClock {
    fn sleep_ms(&self, ms: u64) {
        wasip2::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
    }
    fn now_ms(&self) -> u64 {
        let now = wasip2::clocks::wall_clock::now();
        now.seconds * 1000 + u64::from(now.nanoseconds / 1_000_000)
    }
}

struct HostLog;

impl Log for HostLog {
    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
        };
        log::log(level, message);
    }
}

/// Run `f` with the host-backed environment.
pub fn with_env<R>(f: impl FnOnce(&Env) -> R) -> R {
    let env = Env {
        settings: &HostSettings,
        kv: &HostKv,
        http: &super::http::WasiHttp,
        clock: &WasiClock,
        log: &HostLog,
    };
    f(&env)
}
