//! `system_parameters`: Mica's settings table. Plugins declare their rows; the host seeds them.

use super::{Store, rfc3339};
use anyhow::bail;
use rusqlite::{OptionalExtension, params};
use serde_json::Value;

/// A parameter a plugin declares (one row's fixed columns).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub key: String,
    pub category: String,
    /// Mica's `data_type`: "bool", "string" or "int".
    pub data_type: String,
    pub default_value: Value,
    pub description_zh: String,
    pub description_en: String,
    pub is_sensitive: bool,
}

/// A stored parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub key: String,
    pub category: String,
    pub value: Value,
    pub data_type: String,
    pub default_value: Value,
    pub is_sensitive: bool,
    pub updated_at: String,
}

fn parse_json(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// Whether `value` fits `data_type`; the error names the expected type.
pub fn check_type(key: &str, data_type: &str, value: &Value) -> anyhow::Result<()> {
    let ok = match data_type {
        "bool" => value.is_boolean(),
        "string" => value.is_string(),
        "int" => value.is_i64(),
        _ => true,
    };
    if !ok {
        bail!("{key} must be a {data_type}, got {value}");
    }
    Ok(())
}

/// The current values of `keys` (unset rows read as their default).
pub fn param_values(
    c: &mut rusqlite::Connection,
    keys: &[String],
) -> anyhow::Result<std::collections::HashMap<String, Value>> {
    let mut stmt =
        c.prepare_cached("SELECT value, default_value FROM system_parameters WHERE key = ?1")?;
    let mut out = std::collections::HashMap::new();
    for key in keys {
        let row: Option<(Option<String>, Option<String>)> = stmt
            .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((value, default)) = row {
            let value = match parse_json(value) {
                Value::Null => parse_json(default),
                v => v,
            };
            out.insert(key.clone(), value);
        }
    }
    Ok(out)
}

impl Store {
    /// Insert the rows that do not exist yet, with their defaults; existing values are kept.
    pub fn seed_params(&self, specs: &[ParamSpec]) -> anyhow::Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = rfc3339(super::now_ms());
            for s in specs {
                tx.execute(
                    "INSERT INTO system_parameters (key, category, value, data_type, default_value,
                        description_zh, description_en, is_sensitive, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?3, ?5, ?6, ?7, ?8, ?8)
                     ON CONFLICT (key) DO NOTHING",
                    params![
                        s.key,
                        s.category,
                        s.default_value.to_string(),
                        s.data_type,
                        s.description_zh,
                        s.description_en,
                        s.is_sensitive,
                        now
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    pub fn get_param(&self, key: &str) -> anyhow::Result<Option<Param>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT key, category, value, data_type, default_value, is_sensitive, updated_at
                 FROM system_parameters WHERE key = ?1",
                [key],
                |r| {
                    Ok(Param {
                        key: r.get(0)?,
                        category: r.get(1)?,
                        value: parse_json(r.get(2)?),
                        data_type: r.get(3)?,
                        default_value: parse_json(r.get(4)?),
                        is_sensitive: r.get(5)?,
                        updated_at: r.get(6)?,
                    })
                },
            )
            .optional()?)
        })
    }

    /// Set an existing parameter, checking the value against its `data_type`.
    pub fn set_param(&self, key: &str, value: &Value) -> anyhow::Result<()> {
        let Some(current) = self.get_param(key)? else {
            bail!("unknown parameter {key}");
        };
        check_type(key, &current.data_type, value)?;
        self.with(|c| {
            c.execute(
                "UPDATE system_parameters SET value = ?2, updated_at = ?3 WHERE key = ?1",
                params![key, value.to_string(), rfc3339(super::now_ms())],
            )?;
            Ok(())
        })
    }
}
