//! A linked plugin version: its pre-instantiated component, which worlds it implements, what it
//! declared, and the calls into it, each in a fresh store under the sandbox limits.

use super::bindings::{
    approvals, card_actions, card_updates, connection, notices, notifications, plugin, previews,
};
use super::convert::answer;
use super::engine::Runtime;
use super::state::{CallState, PluginContext};
use crate::capabilities::http::OutboundHooks;
use crate::domain::{
    ApprovalRef, CreateRequest, DomainEvent, NotifyRequest, PluginError, Receipt, Recipient,
    WebhookOutcome, WebhookRequest,
};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::UpdateDeadline;
use wasmtime::component::{Component, Instance, InstancePre};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    Notifier,
    ApprovalProvider,
}

impl World {
    pub const ALL: [World; 2] = [World::Notifier, World::ApprovalProvider];

    /// As the plugin list and the owners table name it.
    pub fn as_str(self) -> &'static str {
        match self {
            World::Notifier => "notifier",
            World::ApprovalProvider => "approval-provider",
        }
    }

    pub fn parse(name: &str) -> Option<World> {
        World::ALL.into_iter().find(|w| w.as_str() == name)
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A setting a plugin declares (becomes a `system_parameters` row).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingDecl {
    pub key: String,
    pub category: String,
    /// Mica's data_type: "bool", "string" or "int".
    pub data_type: String,
    pub default_value: serde_json::Value,
    pub description_zh: String,
    pub description_en: String,
    pub sensitive: bool,
}

/// What a plugin says about itself (`plugin.describe`), as the host keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    pub id: String,
    pub version: String,
    pub display_name: String,
    pub settings: Vec<SettingDecl>,
    pub webhook_routes: Vec<(String, String)>,
    pub outbound_url_settings: Vec<String>,
    pub required_scopes: Vec<String>,
}

impl Descriptor {
    fn from_wit(d: plugin::Descriptor) -> anyhow::Result<Descriptor> {
        let settings = d
            .settings
            .into_iter()
            .map(|s| {
                let default_value = serde_json::from_str(&s.default_value).map_err(|e| {
                    anyhow::anyhow!("setting {} has a default that is not JSON: {e}", s.key)
                })?;
                Ok(SettingDecl {
                    data_type: match s.data_type {
                        plugin::SettingType::Boolean => "bool",
                        plugin::SettingType::Integer => "int",
                        _ => "string",
                    }
                    .into(),
                    key: s.key,
                    category: s.category,
                    default_value,
                    description_zh: s.description_zh,
                    description_en: s.description_en,
                    sensitive: s.sensitive || s.data_type == plugin::SettingType::Secret,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Descriptor {
            id: d.id,
            version: d.version,
            display_name: d.display_name,
            settings,
            webhook_routes: d
                .webhook_routes
                .into_iter()
                .map(|r| (r.method, r.path))
                .collect(),
            outbound_url_settings: d.outbound_url_settings,
            required_scopes: d.required_scopes,
        })
    }
}

/// One item of a plugin's Test Connection checklist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl From<plugin::Check> for Check {
    fn from(c: plugin::Check) -> Check {
        Check {
            name: c.name,
            ok: c.ok,
            detail: c.detail,
        }
    }
}

impl From<connection::ConnectionCheck> for Check {
    fn from(c: connection::ConnectionCheck) -> Check {
        Check {
            name: c.name,
            ok: c.ok,
            detail: c.detail,
        }
    }
}

/// Why a call produced no answer from the plugin.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the plugin call exceeded its {0:?} deadline")]
    Timeout(std::time::Duration),
    #[error("the plugin trapped: {0}")]
    Trap(String),
    #[error("the plugin does not implement {0}")]
    NotImplemented(&'static str),
    #[error("the host could not prepare the call: {0}")]
    Host(String),
}

pub struct LoadedPlugin {
    runtime: Arc<Runtime>,
    pre: InstancePre<CallState>,
    plugin_exports: plugin::GuestIndices,
    notifications: Option<notifications::GuestIndices>,
    approvals: Option<approvals::GuestIndices>,
    /// Optional: card previews for the admin console.
    previews: Option<previews::GuestIndices>,
    /// Optional (since 0.1.1): Test Connection to a person rather than an address.
    connection: Option<connection::GuestIndices>,
    /// Optional (since 0.1.2): Mica's notices and digests.
    notices: Option<notices::GuestIndices>,
    /// Optional (since 0.1.3): redrawing sent cards (`runtime::card_updates`).
    pub(super) card_updates: Option<card_updates::GuestIndices>,
    /// Optional (since 0.1.4): decisions taken on cards (`runtime::card_actions`).
    pub(super) card_actions: Option<card_actions::GuestIndices>,
    pub digest: String,
    pub worlds: Vec<World>,
    pub descriptor: Descriptor,
    declared: Arc<HashMap<String, bool>>,
    /// The declared setting keys, the same list on every call (the store caches by it).
    setting_keys: Arc<[String]>,
}

fn trap(e: wasmtime::Error) -> CallError {
    CallError::Trap(format!("{e:#}"))
}

impl LoadedPlugin {
    /// Link `component` against the host's imports, find its worlds, and ask who it is.
    pub(super) fn link(
        runtime: Arc<Runtime>,
        component: Component,
        wasm: &[u8],
    ) -> anyhow::Result<LoadedPlugin> {
        let pre = runtime.linker.instantiate_pre(&component).map_err(|e| {
            anyhow::anyhow!("the plugin needs an import this host does not provide: {e:#}")
        })?;
        let plugin_exports = plugin::GuestIndices::new(&pre).map_err(|e| {
            anyhow::anyhow!("the component does not export mica:plugin/plugin: {e:#}")
        })?;
        let notifications = notifications::GuestIndices::new(&pre).ok();
        let approvals = approvals::GuestIndices::new(&pre).ok();
        let previews = previews::GuestIndices::new(&pre).ok();
        let connection = connection::GuestIndices::new(&pre).ok();
        let notices = notices::GuestIndices::new(&pre).ok();
        let card_updates = card_updates::GuestIndices::new(&pre).ok();
        let card_actions = card_actions::GuestIndices::new(&pre).ok();
        let mut worlds = Vec::new();
        if notifications.is_some() {
            worlds.push(World::Notifier);
        }
        if approvals.is_some() {
            worlds.push(World::ApprovalProvider);
        }
        if worlds.is_empty() {
            anyhow::bail!(
                "the component implements neither mica:plugin/notifications nor mica:plugin/approvals"
            );
        }
        let loaded = LoadedPlugin {
            runtime,
            pre,
            plugin_exports,
            notifications,
            approvals,
            previews,
            connection,
            notices,
            card_updates,
            card_actions,
            digest: super::compile_cache::digest(wasm),
            worlds,
            descriptor: Descriptor {
                id: String::new(),
                version: String::new(),
                display_name: String::new(),
                settings: vec![],
                webhook_routes: vec![],
                outbound_url_settings: vec![],
                required_scopes: vec![],
            },
            declared: Arc::new(HashMap::new()),
            setting_keys: Arc::from(Vec::new()),
        };
        Ok(loaded)
    }

    /// Ask the plugin who it is and remember which settings it owns.
    pub(super) async fn identify(&mut self) -> anyhow::Result<()> {
        let described = self
            .describe()
            .await
            .map_err(|e| anyhow::anyhow!("describe failed: {e}"))?;
        let descriptor = Descriptor::from_wit(described)?;
        if descriptor.id.trim().is_empty() || descriptor.version.trim().is_empty() {
            anyhow::bail!("the plugin's describe returned an empty id or version");
        }
        if descriptor.id.starts_with(crate::actions::HOST_KV_PREFIX) {
            anyhow::bail!(
                "plugin id {:?} is reserved: ids starting with {:?} name the host's own keys",
                descriptor.id,
                crate::actions::HOST_KV_PREFIX
            );
        }
        self.declared = Arc::new(
            descriptor
                .settings
                .iter()
                .map(|s| (s.key.clone(), s.sensitive))
                .collect(),
        );
        self.setting_keys = descriptor.settings.iter().map(|s| s.key.clone()).collect();
        self.descriptor = descriptor;
        Ok(())
    }

    /// Take each setting's sensitivity from its stored row where there is one (the registry reads
    /// them), so what a version declares cannot make a stored secret plain.
    pub(crate) fn adopt_sensitivity(&mut self, stored: &HashMap<String, bool>) {
        for s in &mut self.descriptor.settings {
            if let Some(&sensitive) = stored.get(&s.key) {
                s.sensitive = sensitive;
            }
        }
        self.declared = Arc::new(
            self.descriptor
                .settings
                .iter()
                .map(|s| (s.key.clone(), s.sensitive))
                .collect(),
        );
    }

    pub fn id(&self) -> &str {
        &self.descriptor.id
    }

    pub fn version(&self) -> &str {
        &self.descriptor.version
    }

    /// A fresh store for one call, with the plugin's settings read now.
    async fn new_store(&self, db: Option<&Store>) -> Result<wasmtime::Store<CallState>, CallError> {
        let values = match db {
            Some(db) => db
                .param_snapshot(&self.setting_keys)
                .map_err(|e| CallError::Host(format!("{e:#}")))?,
            None => Arc::default(),
        };
        let hooks = OutboundHooks::for_plugin(
            &self.runtime.http,
            &self.descriptor.outbound_url_settings,
            &values,
        );
        let context = PluginContext {
            plugin_id: self.descriptor.id.clone(),
            version: self.descriptor.version.clone(),
            kv: db.map(|db| db.kv_space(&self.descriptor.id)),
            declared: self.declared.clone(),
            values,
        };
        let limits = super::limits::CallLimits::new(self.runtime.limits.memory_bytes);
        let mut store =
            wasmtime::Store::new(&self.runtime.engine, CallState::new(context, hooks, limits));
        store.limiter(|s| &mut s.limits);
        store.set_hostcall_fuel(self.runtime.limits.host_call_bytes);
        let deadline = Instant::now() + self.runtime.limits.call_deadline;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        Ok(store)
    }

    /// Instantiate in a fresh store and run `f`, within the call deadline. The store is dropped
    /// afterwards whatever happened, so a trapped or timed-out instance never runs again.
    pub(super) async fn call<R>(
        &self,
        export: &'static str,
        db: Option<&Store>,
        f: impl AsyncFnOnce(&mut wasmtime::Store<CallState>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let _timer = crate::metrics::METRICS
            .plugin_calls
            .with_label_values(&[export])
            .start_timer();
        let mut store = self.new_store(db).await?;
        let limit = self.runtime.limits.call_deadline;
        let work = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            f(&mut store, &instance).await
        };
        match tokio::time::timeout(limit, work).await {
            Err(_) => Err(CallError::Timeout(limit)),
            Ok(Err(e)) => {
                if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
                    Err(CallError::Timeout(limit))
                } else {
                    Err(trap(e))
                }
            }
            Ok(Ok(r)) => Ok(r),
        }
    }

    pub async fn describe(&self) -> Result<plugin::Descriptor, CallError> {
        let idx = &self.plugin_exports;
        self.call("describe", None, async |store, instance| {
            idx.load(&mut *store, instance)?.call_describe(store).await
        })
        .await
    }

    /// The plugin's own objection to a new setting value, if any.
    pub async fn check_setting(
        &self,
        key: &str,
        value_json: &str,
    ) -> Result<Option<String>, CallError> {
        let idx = &self.plugin_exports;
        self.call("check_setting", None, async |store, instance| {
            idx.load(&mut *store, instance)?
                .call_check_setting(store, key, value_json)
                .await
        })
        .await
    }

    /// Run the plugin's checks, sending the test card to `to` when given: by the person's Feishu
    /// ids through `connection.test` when the plugin has it, else to their email through
    /// `plugin.test-connection` (a plugin built against 0.1.0).
    pub async fn test_connection(
        &self,
        db: &Store,
        to: Option<Recipient>,
    ) -> Result<Vec<Check>, CallError> {
        if let Some(idx) = &self.connection {
            let request = connection::TestRequest {
                recipient: to.map(Into::into),
            };
            let checks = self
                .call("test_connection", Some(db), async |store, instance| {
                    idx.load(&mut *store, instance)?
                        .call_test(store, &request)
                        .await
                })
                .await?;
            return Ok(checks.into_iter().map(Check::from).collect());
        }
        let idx = &self.plugin_exports;
        let options = plugin::TestOptions {
            test_recipient_email: to.map(|r| r.email),
        };
        let checks = self
            .call("test_connection", Some(db), async |store, instance| {
                idx.load(&mut *store, instance)?
                    .call_test_connection(store, &options)
                    .await
            })
            .await?;
        Ok(checks.into_iter().map(Check::from).collect())
    }

    pub async fn notify(
        &self,
        db: &Store,
        request: NotifyRequest,
    ) -> Result<Result<Receipt, PluginError>, CallError> {
        let idx = self
            .notifications
            .as_ref()
            .ok_or(CallError::NotImplemented("mica:plugin/notifications"))?;
        let request = notifications::NotifyRequest::from(request);
        self.call("notify", Some(db), async |store, instance| {
            idx.load(&mut *store, instance)?
                .call_notify(store, &request)
                .await
        })
        .await
        .map(answer)
    }

    /// Whether the plugin sends Mica's notices and digests (exports `notices`, since 0.1.2).
    pub fn sends_messages(&self) -> bool {
        self.notices.is_some()
    }

    /// Send a notice or a digest to one recipient. The receipt has the shape `notify`'s has, so
    /// the worker judges both outcomes alike.
    pub async fn send_message(
        &self,
        db: &Store,
        request: &MessageCall<'_>,
    ) -> Result<Result<Receipt, PluginError>, CallError> {
        let idx = self
            .notices
            .as_ref()
            .ok_or(CallError::NotImplemented("mica:plugin/notices"))?;
        let request = notices::MessageRequest {
            idempotency_key: request.idempotency_key.clone(),
            event_id: request.event_id.clone(),
            occurred_at: request.occurred_at.clone(),
            message: super::messages::message(request.message),
            recipient: request.recipient.clone().into(),
            attempt: request.attempt,
        };
        let sent = self
            .call("send_message", Some(db), async |store, instance| {
                idx.load(&mut *store, instance)?
                    .call_send(store, &request)
                    .await
            })
            .await?;
        Ok(sent
            .map(|r| Receipt {
                message_id: r.message_id,
                chat_id: r.chat_id,
                log_id: r.log_id,
            })
            .map_err(Into::into))
    }

    fn approvals(&self) -> Result<&approvals::GuestIndices, CallError> {
        self.approvals
            .as_ref()
            .ok_or(CallError::NotImplemented("mica:plugin/approvals"))
    }

    pub async fn create_approval(
        &self,
        db: &Store,
        request: CreateRequest,
    ) -> Result<Result<ApprovalRef, PluginError>, CallError> {
        let idx = self.approvals()?;
        let request = approvals::CreateRequest::from(request);
        self.call("create", Some(db), async |store, instance| {
            idx.load(&mut *store, instance)?
                .call_create(store, &request)
                .await
        })
        .await
        .map(answer)
    }

    pub async fn cancel_approval(
        &self,
        db: &Store,
        instance_code: &str,
        initiator: &Recipient,
    ) -> Result<Result<(), PluginError>, CallError> {
        let idx = self.approvals()?;
        let initiator = initiator.clone().into();
        self.call("cancel", Some(db), async |store, instance| {
            idx.load(&mut *store, instance)?
                .call_cancel(store, instance_code, &initiator)
                .await
        })
        .await
        .map(answer)
    }

    pub async fn get_approval(
        &self,
        db: &Store,
        instance_code: &str,
    ) -> Result<Result<ApprovalRef, PluginError>, CallError> {
        let idx = self.approvals()?;
        self.call("get", Some(db), async |store, instance| {
            idx.load(&mut *store, instance)?
                .call_get(store, instance_code)
                .await
        })
        .await
        .map(answer)
    }

    pub async fn handle_webhook(
        &self,
        db: &Store,
        request: WebhookRequest,
    ) -> Result<Result<WebhookOutcome, PluginError>, CallError> {
        let idx = self.approvals()?;
        let request = approvals::WebhookRequest::from(request);
        self.call("handle_webhook", Some(db), async |store, instance| {
            idx.load(&mut *store, instance)?
                .call_handle_webhook(store, &request)
                .await
        })
        .await
        .map(answer)
    }

    /// Whether the plugin can show what it would send (exports `mica:plugin/previews`).
    pub fn has_previews(&self) -> bool {
        self.previews.is_some()
    }

    /// The message the plugin would send for `payload` to a reader in `locale`, as JSON text.
    pub async fn render_preview(
        &self,
        payload: &crate::events::Payload,
        locale: &str,
    ) -> Result<Result<String, PluginError>, CallError> {
        use crate::events::Payload;
        match payload {
            Payload::Domain(event) => {
                let idx = self
                    .previews
                    .as_ref()
                    .ok_or(CallError::NotImplemented("mica:plugin/previews"))?;
                let event = DomainEvent::clone(event).into();
                self.call("preview", None, async |store, instance| {
                    idx.load(&mut *store, instance)?
                        .call_render(store, &event, locale)
                        .await
                })
                .await
                .map(answer)
            }
            Payload::Message(message) => {
                let idx = self
                    .notices
                    .as_ref()
                    .ok_or(CallError::NotImplemented("mica:plugin/notices"))?;
                let message = super::messages::message(message);
                self.call("preview", None, async |store, instance| {
                    idx.load(&mut *store, instance)?
                        .call_render(store, &message, locale)
                        .await
                })
                .await
                .map(answer)
            }
        }
    }
}

/// One notice or digest for one recipient (the `notices.send` request, in the host's types).
pub struct MessageCall<'a> {
    pub idempotency_key: String,
    pub event_id: String,
    pub occurred_at: String,
    pub message: &'a crate::events::messages::Message,
    pub recipient: Recipient,
    pub attempt: u32,
}
