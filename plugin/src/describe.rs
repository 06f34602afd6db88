//! What the plugin tells the host about itself.

use crate::settings::{BASE_URL, CATALOGUE, SettingSpec};

pub const WEBHOOK_PATH: &str = "/api/v1/feishu/webhook";

/// The three permissions the seed page asks administrators to grant.
pub const REQUIRED_SCOPES: &[&str] = &[
    "im:message:send_as_bot",
    "approval:instance",
    "approval:approval:readonly",
];

pub struct Descriptor {
    pub id: &'static str,
    pub version: &'static str,
    pub display_name: &'static str,
    pub settings: &'static [SettingSpec],
    pub webhook_routes: &'static [(&'static str, &'static str)],
    pub outbound_url_settings: &'static [&'static str],
    pub required_scopes: &'static [&'static str],
}

pub fn describe() -> Descriptor {
    Descriptor {
        id: crate::PLUGIN_ID,
        version: crate::PLUGIN_VERSION,
        display_name: "Feishu / Lark",
        settings: CATALOGUE,
        webhook_routes: &[("POST", WEBHOOK_PATH)],
        outbound_url_settings: &[BASE_URL],
        required_scopes: REQUIRED_SCOPES,
    }
}
