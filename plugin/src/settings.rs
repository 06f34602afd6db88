//! The plugin's settings: the catalogue it declares to the host (Mica's `auth.feishu.*` system
//! parameters with Mica's types, defaults and descriptions) and a typed view read through the host.

use crate::model::{EventKind, PluginError};
use crate::ports::Settings as SettingsPort;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingType {
    Boolean,
    String,
    Secret,
    Url,
}

/// One declared setting (a `system_parameters` row).
#[derive(Clone, Copy, Debug)]
pub struct SettingSpec {
    pub key: &'static str,
    pub data_type: SettingType,
    /// JSON text.
    pub default_value: &'static str,
    pub description_zh: &'static str,
    pub description_en: &'static str,
}

impl SettingSpec {
    pub fn sensitive(&self) -> bool {
        self.data_type == SettingType::Secret
    }
}

pub const CATEGORY: &str = "feishu";

pub const ENABLED: &str = "auth.feishu.enabled";
pub const APP_ID: &str = "auth.feishu.app_id";
pub const APP_SECRET: &str = "auth.feishu.app_secret";
pub const NOTIFY_ON_PR: &str = "auth.feishu.notify_on_pr";
pub const NOTIFY_ON_APPROVAL: &str = "auth.feishu.notify_on_approval";
pub const NOTIFY_ON_PO: &str = "auth.feishu.notify_on_po";
pub const NOTIFY_ON_PAYMENT: &str = "auth.feishu.notify_on_payment";
pub const NOTIFY_ON_CONTRACT_EXPIRY: &str = "auth.feishu.notify_on_contract_expiry";
pub const NOTIFY_ON_NOTICE: &str = "auth.feishu.notify_on_notice";
pub const NOTIFY_ON_DIGEST: &str = "auth.feishu.notify_on_digest";
pub const PAYMENT_WORKFLOW: &str = "auth.feishu.payment_workflow";
pub const APPROVAL_CODE: &str = "auth.feishu.approval_code";
pub const BASE_URL: &str = "auth.feishu.base_url";
pub const ENCRYPT_KEY: &str = "auth.feishu.encrypt_key";
pub const VERIFICATION_TOKEN: &str = "auth.feishu.verification_token";

pub const DEFAULT_BASE_URL: &str = "https://open.feishu.cn";

const fn spec(
    key: &'static str,
    data_type: SettingType,
    default_value: &'static str,
    description_zh: &'static str,
    description_en: &'static str,
) -> SettingSpec {
    SettingSpec {
        key,
        data_type,
        default_value,
        description_zh,
        description_en,
    }
}

/// Mica's ten seed parameters (same types, defaults and descriptions as its migration 0031) plus the
/// five the host contract adds (base URL, the callback secrets, the notice and digest switches).
pub const CATALOGUE: &[SettingSpec] = &[
    spec(
        APP_ID,
        SettingType::String,
        "\"\"",
        "飞书应用 App ID",
        "Feishu App ID",
    ),
    spec(
        APP_SECRET,
        SettingType::Secret,
        "\"\"",
        "飞书应用 App Secret",
        "Feishu App Secret",
    ),
    spec(
        ENABLED,
        SettingType::Boolean,
        "false",
        "是否启用飞书集成",
        "Enable Feishu integration",
    ),
    spec(
        NOTIFY_ON_PR,
        SettingType::Boolean,
        "true",
        "采购申请提交时发送飞书卡片通知",
        "Send Feishu card notification on PR submission",
    ),
    spec(
        NOTIFY_ON_APPROVAL,
        SettingType::Boolean,
        "true",
        "审批决定时发送飞书卡片通知",
        "Send Feishu card notification on approval decision",
    ),
    spec(
        NOTIFY_ON_PO,
        SettingType::Boolean,
        "true",
        "采购订单创建时发送飞书卡片通知",
        "Send Feishu card notification on PO creation",
    ),
    spec(
        NOTIFY_ON_PAYMENT,
        SettingType::Boolean,
        "true",
        "付款待审核时发送飞书卡片通知",
        "Send Feishu card notification on payment pending review",
    ),
    spec(
        NOTIFY_ON_CONTRACT_EXPIRY,
        SettingType::Boolean,
        "true",
        "合同即将到期时发送飞书卡片通知",
        "Send Feishu card notification on contract expiry",
    ),
    spec(
        NOTIFY_ON_NOTICE,
        SettingType::Boolean,
        "true",
        "发送 Mica 的其他通知（审批提醒、超时升级、价格异常、系统通知）",
        "Send Mica's other notices (approval reminders, SLA escalations, price anomalies, system notices)",
    ),
    spec(
        NOTIFY_ON_DIGEST,
        SettingType::Boolean,
        "true",
        "发送每日摘要卡片",
        "Send the daily digest card",
    ),
    spec(
        PAYMENT_WORKFLOW,
        SettingType::Boolean,
        "false",
        "是否启用飞书付款审批工作流（创建飞书审批实例）",
        "Enable Feishu payment approval workflow (create Feishu approval instances)",
    ),
    spec(
        APPROVAL_CODE,
        SettingType::String,
        "\"\"",
        "飞书审批定义 Code（用于付款审批工作流）",
        "Feishu approval definition code (for payment approval workflow)",
    ),
    spec(
        BASE_URL,
        SettingType::Url,
        "\"https://open.feishu.cn\"",
        "飞书开放平台地址（国际版 Lark 为 https://open.larksuite.com）",
        "Feishu Open Platform base URL (https://open.larksuite.com for Lark)",
    ),
    spec(
        ENCRYPT_KEY,
        SettingType::Secret,
        "\"\"",
        "事件订阅 Encrypt Key（用于校验签名并解密回调）",
        "Event subscription Encrypt Key (verifies signatures and decrypts callbacks)",
    ),
    spec(
        VERIFICATION_TOKEN,
        SettingType::Secret,
        "\"\"",
        "事件订阅 Verification Token",
        "Event subscription Verification Token",
    ),
];

fn spec_of(key: &str) -> &'static SettingSpec {
    CATALOGUE
        .iter()
        .find(|s| s.key == key)
        .expect("every key read by the plugin is in its catalogue")
}

/// A secret setting's value: `Debug` shows only whether it is set, so printing the settings (a
/// test failure, a log line) never shows the App Secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretText(pub String);

impl SecretText {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "unset"
        } else {
            "redacted"
        })
    }
}

/// A typed view of the settings, read once per call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeishuSettings {
    pub enabled: bool,
    pub app_id: String,
    pub app_secret: SecretText,
    pub base_url: String,
    pub notify_on_pr: bool,
    pub notify_on_approval: bool,
    pub notify_on_po: bool,
    pub notify_on_payment: bool,
    pub notify_on_contract_expiry: bool,
    pub notify_on_notice: bool,
    pub notify_on_digest: bool,
    pub payment_workflow: bool,
    pub approval_code: String,
}

impl FeishuSettings {
    pub fn read(port: &dyn SettingsPort) -> Self {
        let flag = |key: &str| read_bool(port, key);
        let text = |key: &str| read_string(port, key);
        let base_url = text(BASE_URL);
        FeishuSettings {
            enabled: flag(ENABLED),
            app_id: text(APP_ID).trim().to_string(),
            app_secret: SecretText(
                port.secret(APP_SECRET)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            ),
            base_url: if base_url.trim().is_empty() {
                DEFAULT_BASE_URL.to_string()
            } else {
                base_url.trim().trim_end_matches('/').to_string()
            },
            notify_on_pr: flag(NOTIFY_ON_PR),
            notify_on_approval: flag(NOTIFY_ON_APPROVAL),
            notify_on_po: flag(NOTIFY_ON_PO),
            notify_on_payment: flag(NOTIFY_ON_PAYMENT),
            notify_on_contract_expiry: flag(NOTIFY_ON_CONTRACT_EXPIRY),
            notify_on_notice: flag(NOTIFY_ON_NOTICE),
            notify_on_digest: flag(NOTIFY_ON_DIGEST),
            payment_workflow: flag(PAYMENT_WORKFLOW),
            approval_code: text(APPROVAL_CODE).trim().to_string(),
        }
    }

    /// Whether this notification type is switched on (the master switch is separate).
    pub fn notifies(&self, kind: EventKind) -> bool {
        match kind {
            EventKind::PrSubmitted => self.notify_on_pr,
            EventKind::ApprovalDecided => self.notify_on_approval,
            EventKind::PoCreated => self.notify_on_po,
            EventKind::PaymentPending => self.notify_on_payment,
            EventKind::ContractExpiring => self.notify_on_contract_expiry,
        }
    }

    /// Whether a notice or a digest is switched on, and the switch that says so.
    pub fn sends(&self, message: &crate::model::Message) -> (bool, &'static str) {
        match message {
            crate::model::Message::Notice(_) => (self.notify_on_notice, NOTIFY_ON_NOTICE),
            crate::model::Message::Digest(_) => (self.notify_on_digest, NOTIFY_ON_DIGEST),
        }
    }

    /// The switch that controls a notification kind, for messages.
    pub fn switch_key(kind: EventKind) -> &'static str {
        match kind {
            EventKind::PrSubmitted => NOTIFY_ON_PR,
            EventKind::ApprovalDecided => NOTIFY_ON_APPROVAL,
            EventKind::PoCreated => NOTIFY_ON_PO,
            EventKind::PaymentPending => NOTIFY_ON_PAYMENT,
            EventKind::ContractExpiring => NOTIFY_ON_CONTRACT_EXPIRY,
        }
    }

    /// Whether Feishu's callbacks come signed: only then is a card click known to be Feishu's
    /// (a token-only one could come from anyone who has seen the Verification Token).
    pub fn callbacks_signed(&self, port: &dyn SettingsPort) -> bool {
        port.secret(ENCRYPT_KEY)
            .is_some_and(|key| !key.trim().is_empty())
            && port
                .secret(VERIFICATION_TOKEN)
                .is_some_and(|token| !token.trim().is_empty())
    }

    /// Credentials present, or a not-configured error naming what is missing.
    pub fn require_credentials(&self) -> Result<(), PluginError> {
        let mut missing = Vec::new();
        if self.app_id.is_empty() {
            missing.push(APP_ID);
        }
        if self.app_secret.is_empty() {
            missing.push(APP_SECRET);
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(PluginError::NotConfigured(format!(
                "Feishu credentials are not set: {} (Admin Console → Feishu tab)",
                missing.join(" and ")
            )))
        }
    }
}

/// A Feishu-specific problem with a new value (JSON text) for `key`, for the admin settings API.
pub fn check(key: &str, json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let text = value.as_str()?.trim();
    match key {
        APP_ID if !text.is_empty() => {
            let ok = text.strip_prefix("cli_").is_some_and(|rest| {
                !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric())
            });
            (!ok).then(|| {
                format!("{text:?} is not a Feishu App ID: it looks like cli_a1b2c3d4e5f6a7b8 (Developer Console → Credentials & Basic Info)")
            })
        }
        APPROVAL_CODE if !text.is_empty() => {
            let ok = text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            (!ok).then(|| {
                format!("{text:?} is not an approval code: it looks like 7C468A54-8745-2245-9675-08B7C63E7A85 (Approval Admin → template details)")
            })
        }
        APP_SECRET | ENCRYPT_KEY | VERIFICATION_TOKEN if text.chars().any(char::is_whitespace) => {
            Some("must not contain spaces".into())
        }
        _ => None,
    }
}

/// A boolean setting; an unset or unreadable value falls back to the declared default.
fn read_bool(port: &dyn SettingsPort, key: &str) -> bool {
    let parse = |json: &str| match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Bool(b)) => Some(b),
        Ok(serde_json::Value::String(s)) => match s.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    };
    port.config(key)
        .and_then(|v| parse(&v))
        .or_else(|| parse(spec_of(key).default_value))
        .unwrap_or(false)
}

/// A string setting (JSON string, or bare text for robustness against hand-edited rows).
fn read_string(port: &dyn SettingsPort, key: &str) -> String {
    let text = port
        .config(key)
        .unwrap_or_else(|| spec_of(key).default_value.to_string());
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Null) => String::new(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake(HashMap<&'static str, &'static str>);
    impl SettingsPort for Fake {
        fn config(&self, key: &str) -> Option<String> {
            self.0.get(key).map(|v| v.to_string())
        }
        fn secret(&self, key: &str) -> Option<String> {
            self.0.get(key).map(|v| v.to_string())
        }
    }

    #[test]
    fn defaults_follow_mica_when_nothing_is_set() {
        let s = FeishuSettings::read(&Fake(HashMap::new()));
        assert!(!s.enabled);
        assert!(s.notify_on_pr && s.notify_on_approval && s.notify_on_po);
        assert!(s.notify_on_payment && s.notify_on_contract_expiry);
        assert!(!s.payment_workflow);
        assert_eq!(s.base_url, DEFAULT_BASE_URL);
        assert!(
            matches!(s.require_credentials(), Err(PluginError::NotConfigured(m)) if m.contains(APP_ID) && m.contains(APP_SECRET))
        );
    }

    #[test]
    fn values_are_trimmed_and_typed() {
        let s = FeishuSettings::read(&Fake(HashMap::from([
            (ENABLED, "true"),
            (APP_ID, "\" cli_a1 \""),
            (APP_SECRET, " s3cret "),
            (NOTIFY_ON_PO, "false"),
            (BASE_URL, "\"http://127.0.0.1:9/\""),
        ])));
        assert!(s.enabled);
        assert_eq!(s.app_id, "cli_a1");
        assert_eq!(s.app_secret.0, "s3cret");
        assert!(!format!("{s:?}").contains("s3cret"));
        assert!(!s.notifies(EventKind::PoCreated));
        assert!(s.notifies(EventKind::PrSubmitted));
        assert_eq!(s.base_url, "http://127.0.0.1:9");
        assert!(s.require_credentials().is_ok());
    }

    #[test]
    fn app_id_and_approval_code_shapes() {
        assert_eq!(check(APP_ID, "\"cli_a1b2c3d4e5f6\""), None);
        assert_eq!(check(APP_ID, "\"\""), None, "clearing is allowed");
        assert!(check(APP_ID, "\"a1b2c3\"").unwrap().contains("cli_"));
        assert!(check(APP_ID, "\"cli_a b\"").is_some());
        assert_eq!(
            check(APPROVAL_CODE, "\"7C468A54-8745-2245-9675-08B7C63E7A85\""),
            None
        );
        assert!(check(APPROVAL_CODE, "\"code with spaces\"").is_some());
        assert!(check(APP_SECRET, "\"ab cd\"").is_some());
        assert_eq!(check(ENABLED, "true"), None);
    }

    #[test]
    fn catalogue_declares_every_contract_key_once() {
        let mut keys: Vec<_> = CATALOGUE.iter().map(|s| s.key).collect();
        assert_eq!(keys.len(), 15);
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 15);
        let secrets: Vec<_> = CATALOGUE
            .iter()
            .filter(|s| s.sensitive())
            .map(|s| s.key)
            .collect();
        assert_eq!(secrets, vec![APP_SECRET, ENCRYPT_KEY, VERIFICATION_TOKEN]);
    }
}
