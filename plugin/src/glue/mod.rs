//! The thin adapter between the WIT contract and the plain-Rust core. Compiled only for wasm32.

mod convert;
mod http;
mod ports;

wit_bindgen::generate!({
    path: "../wit",
    world: "notifier",
    // Reuse the `wasip2` crate's pre-generated wasi bindings rather than generating them again.
    with: {
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
    },
});

use exports::mica::plugin::notifications::{self, NotifyRequest, Receipt};
use exports::mica::plugin::plugin::{self, Check, Descriptor, TestOptions};
use mica::plugin::types::PluginError;

struct Component;

impl plugin::Guest for Component {
    fn describe() -> Descriptor {
        convert::descriptor(crate::describe::describe())
    }

    fn test_connection(options: TestOptions) -> Vec<Check> {
        ports::with_env(|env| {
            crate::connection::test_connection(env, options.test_recipient_email.as_deref())
        })
        .into_iter()
        .map(convert::check)
        .collect()
    }
}

impl notifications::Guest for Component {
    fn notify(request: NotifyRequest) -> Result<Receipt, PluginError> {
        let request = convert::notify_request(request);
        ports::with_env(|env| crate::notify::notify(env, &request))
            .map(convert::receipt)
            .map_err(convert::plugin_error)
    }
}

export!(Component);
