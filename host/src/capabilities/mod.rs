//! What the host gives plugins, one module per import. Each module implements its generated
//! `Host` trait on the per-call state; `add_to_linker` wires them all (and the WASI interfaces a
//! Rust component always imports, with nothing granted).

pub mod config;
pub mod http;
pub mod kv;
pub mod log;
pub mod secrets;

use crate::runtime::bindings::mica::plugin as wit;
use crate::runtime::state::CallState;
use wasmtime::component::{HasSelf, Linker};

pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    wit::config::add_to_linker::<_, HasSelf<CallState>>(linker, |s| s)?;
    wit::secrets::add_to_linker::<_, HasSelf<CallState>>(linker, |s| s)?;
    wit::kv::add_to_linker::<_, HasSelf<CallState>>(linker, |s| s)?;
    wit::log::add_to_linker::<_, HasSelf<CallState>>(linker, |s| s)?;
    Ok(())
}
