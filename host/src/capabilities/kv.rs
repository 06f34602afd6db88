//! `mica:plugin/kv`: the shared store, persisted in the database. A call holds only its plugin's
//! namespace (`store::KvSpace`), never the store itself.

use crate::runtime::bindings::mica::plugin::kv::{Entry, Host, KvError};
use crate::runtime::state::CallState;
use crate::store;

pub const MAX_KEY_BYTES: u64 = 256;
pub const MAX_VALUE_BYTES: u64 = 64 * 1024;

fn map_err(e: store::KvError) -> KvError {
    match e {
        store::KvError::Conflict => KvError::Conflict,
        store::KvError::Full(max) => KvError::Unavailable(format!(
            "this plugin keeps {max} entries already: delete some or let them expire"
        )),
        store::KvError::Store(why) => KvError::Unavailable(why),
    }
}

impl CallState {
    fn kv_space(&self, key: &str) -> Result<store::KvSpace, KvError> {
        if key.len() as u64 > MAX_KEY_BYTES {
            return Err(KvError::TooLarge(MAX_KEY_BYTES));
        }
        self.plugin
            .kv
            .clone()
            .ok_or_else(|| KvError::Unavailable("no store during describe".into()))
    }
}

impl Host for CallState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Entry>, KvError>> {
        let kv = match self.kv_space(&key) {
            Ok(kv) => kv,
            Err(e) => return Ok(Err(e)),
        };
        let got = kv.get(&key);
        Ok(got
            .map(|e| {
                e.map(|e| Entry {
                    value: e.value,
                    version: e.version,
                })
            })
            .map_err(map_err))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> wasmtime::Result<Result<u64, KvError>> {
        self.put(key, value, ttl_ms, None).await
    }

    async fn compare_and_set(
        &mut self,
        key: String,
        expected: Option<u64>,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> wasmtime::Result<Result<u64, KvError>> {
        self.put(key, value, ttl_ms, Some(expected)).await
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), KvError>> {
        let kv = match self.kv_space(&key) {
            Ok(kv) => kv,
            Err(e) => return Ok(Err(e)),
        };
        let done = tokio::task::spawn_blocking(move || kv.delete(&key)).await?;
        Ok(done.map_err(map_err))
    }
}

impl CallState {
    async fn put(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
        check: Option<Option<u64>>,
    ) -> wasmtime::Result<Result<u64, KvError>> {
        if value.len() as u64 > MAX_VALUE_BYTES {
            return Ok(Err(KvError::TooLarge(MAX_VALUE_BYTES)));
        }
        let kv = match self.kv_space(&key) {
            Ok(kv) => kv,
            Err(e) => return Ok(Err(e)),
        };
        let done = tokio::task::spawn_blocking(move || kv.put(&key, &value, ttl_ms, check)).await?;
        Ok(done.map_err(map_err))
    }
}
