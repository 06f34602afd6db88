//! The sandbox every plugin call runs in.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SandboxLimits {
    /// Wall-clock budget of one call, instantiation included.
    pub call_deadline: Duration,
    /// Linear memory a call may grow to, all of its memories together.
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

/// The resource limits of one call's store. Memory is counted across all of the call's linear
/// memories together (wasmtime's `StoreLimits` bounds each memory alone, so four memories had
/// four times the budget); a grow past the budget traps.
pub struct CallLimits {
    memory_left: usize,
    budget: usize,
}

/// Instances, tables and memories one component may create, and elements per table.
const MAX_INSTANCES: usize = 16;
const MAX_TABLES: usize = 16;
const MAX_MEMORIES: usize = 4;
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl CallLimits {
    pub fn new(memory_bytes: usize) -> CallLimits {
        CallLimits {
            memory_left: memory_bytes,
            budget: memory_bytes,
        }
    }
}

impl wasmtime::ResourceLimiter for CallLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let more = desired.saturating_sub(current);
        if more > self.memory_left {
            wasmtime::bail!(
                "the call's memory would exceed its {} MiB limit (all memories together)",
                self.budget / (1024 * 1024)
            );
        }
        self.memory_left -= more;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            wasmtime::bail!("a table would exceed {MAX_TABLE_ELEMENTS} elements");
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn memory_is_one_budget_for_all_of_a_calls_memories() {
        let mut limits = CallLimits::new(32 * MIB);
        // Three memories of 10 MiB each fit; a fourth of 10 MiB does not (each alone would).
        for _ in 0..3 {
            assert!(limits.memory_growing(0, 10 * MIB, None).unwrap());
        }
        let refused = limits.memory_growing(0, 10 * MIB, None).unwrap_err();
        assert!(refused.to_string().contains("32 MiB"), "{refused}");
        // Growing an existing memory counts only the growth.
        assert!(limits.memory_growing(10 * MIB, 12 * MIB, None).unwrap());
        assert!(limits.memory_growing(12 * MIB, 13 * MIB, None).is_err());
        assert!(limits.table_growing(0, MAX_TABLE_ELEMENTS, None).unwrap());
        assert!(
            limits
                .table_growing(0, MAX_TABLE_ELEMENTS + 1, None)
                .is_err()
        );
    }
}
