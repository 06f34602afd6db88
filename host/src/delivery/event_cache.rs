//! The parsed events of recent deliveries.
//!
//! An event with fifty recipients becomes fifty deliveries. Reading its stored JSON (several KiB,
//! recipients included) and validating it again for each of them cost more than the plugin call,
//! so the worker keeps the last few parsed events. Stored events never change, so an entry is
//! never stale; the cache is bounded and forgets the oldest first.

use crate::events::{Payload, ValidEvent, parse_stored_event};
use crate::store::Store;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// What a delivery needs of its event.
pub struct EventForDelivery {
    pub kind: crate::domain::EventType,
    pub occurred_at: String,
    pub payload: Payload,
}

/// The event as stored, or why it cannot be read (kept too, so a broken event fails each of its
/// deliveries with the same message without being read again).
pub type Loaded = Arc<Result<EventForDelivery, String>>;

pub struct EventCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_id: HashMap<String, Loaded>,
    oldest_first: VecDeque<String>,
}

impl EventCache {
    pub fn new(capacity: usize) -> EventCache {
        EventCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Entries::default()),
        }
    }

    /// The event `id`, parsed once; read through the store's read-only connection on a miss.
    pub fn get(&self, store: &Store, id: &str) -> Loaded {
        if let Some(hit) = self.lock().by_id.get(id) {
            return hit.clone();
        }
        let loaded = Arc::new(load(store, id));
        let mut entries = self.lock();
        if !entries.by_id.contains_key(id) {
            while entries.oldest_first.len() >= self.capacity {
                if let Some(old) = entries.oldest_first.pop_front() {
                    entries.by_id.remove(&old);
                }
            }
            entries.oldest_first.push_back(id.to_string());
            entries.by_id.insert(id.to_string(), loaded.clone());
        }
        loaded
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves a consistent map (each step is one insert or
        // remove), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn load(store: &Store, id: &str) -> Result<EventForDelivery, String> {
    let payload = store
        .stored_event(id)
        .map_err(|e| format!("the stored event cannot be read: {e:#}"))?
        .ok_or_else(|| format!("the event {id:?} is not stored"))?;
    let body: serde_json::Value = serde_json::from_str(&payload)
        .map_err(|e| format!("the stored event cannot be read: {e}"))?;
    let ValidEvent {
        kind,
        occurred_at,
        payload,
        ..
    } = parse_stored_event(&body).map_err(|e| format!("the stored event cannot be read: {e}"))?;
    Ok(EventForDelivery {
        kind,
        occurred_at,
        payload,
    })
}
