//! Host bindings generated from `wit/`. Imports are async and may trap; wasi types come from the
//! wasmtime-wasi crates.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "feishu",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

pub use exports::mica::plugin::{
    approvals, card_actions, card_updates, connection, notices, notifications, plugin, previews,
};
pub use mica::plugin::types;
