//! Shared pieces of the benchmarks: Feishu's answers given in process (so the plugin-overhead
//! benchmark measures the plugin and the sandbox, not sockets), the plugin core wired to in-memory
//! ports (the native side), and the same core as a component in the host (the component side).

pub mod component;
pub mod cpu;
pub mod feishu_answers;
pub mod native;
