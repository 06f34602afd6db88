//! A plugin's settings as an admin form (Mica's `GET`/`PUT /api/v1/admin/feishu/settings`), derived
//! from what the plugin declares: field names are the keys without their common prefix
//! (`auth.feishu.app_id` → `app_id`), secrets are write-only (always `""` on read, with a
//! `<name>_masked` hint), and a PUT changes only the fields it names.

use crate::runtime::SettingDecl;
use serde_json::{Map, Value};

/// The longest prefix ending in '.' shared by every key ("auth.feishu.").
pub fn common_prefix(keys: &[&str]) -> String {
    let Some(first) = keys.first() else {
        return String::new();
    };
    let mut end = first.rfind('.').map(|i| i + 1).unwrap_or(0);
    for key in keys {
        while end > 0 && !(key.len() >= end && key.as_bytes()[..end] == first.as_bytes()[..end]) {
            end = first[..end - 1].rfind('.').map(|i| i + 1).unwrap_or(0);
        }
    }
    first[..end].to_string()
}

/// Mica's mask: nothing when unset, `****` for short values, else `****` and the last four
/// characters (Mica also shows the first four; we reveal less).
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    match chars.len() {
        0 => String::new(),
        1..=8 => "****".into(),
        n => format!("****{}", chars[n - 4..].iter().collect::<String>()),
    }
}

pub struct Field<'a> {
    pub name: String,
    pub decl: &'a SettingDecl,
}

pub fn fields(settings: &[SettingDecl]) -> Vec<Field<'_>> {
    let keys: Vec<&str> = settings.iter().map(|s| s.key.as_str()).collect();
    let prefix = common_prefix(&keys);
    settings
        .iter()
        .map(|decl| Field {
            name: decl.key[prefix.len()..].to_string(),
            decl,
        })
        .collect()
}

/// The form as `GET` returns it, from the current values.
pub fn render(
    fields: &[Field],
    values: &std::collections::HashMap<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for f in fields {
        let value = values.get(&f.decl.key).cloned().unwrap_or(Value::Null);
        if f.decl.sensitive {
            out.insert(f.name.clone(), Value::String(String::new()));
            out.insert(
                format!("{}_masked", f.name),
                Value::String(mask(value.as_str().unwrap_or(""))),
            );
        } else {
            out.insert(f.name.clone(), value);
        }
    }
    out
}

/// One accepted change.
pub struct Change {
    pub key: String,
    pub value: Value,
}

/// The outcome of reading a PUT body: changes, warnings (e.g. whitespace removed), or the
/// problems that refuse the whole request.
#[derive(Default)]
pub struct Parsed {
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
    pub problems: Vec<String>,
}

/// Check each named field's type and shape; `url_check` applies the host's outbound URL rule to
/// the settings in `url_keys` (the plugin's declared base URLs).
pub fn parse(
    fields: &[Field],
    body: &Map<String, Value>,
    url_keys: &[String],
    url_check: impl Fn(&str) -> Result<(), String>,
) -> Parsed {
    let mut parsed = Parsed::default();
    for (name, value) in body {
        let Some(field) = fields.iter().find(|f| f.name == *name) else {
            let read_only = name
                .strip_suffix("_masked")
                .is_some_and(|base| fields.iter().any(|f| f.name == base && f.decl.sensitive));
            if !read_only {
                let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                parsed.problems.push(format!(
                    "{name}: unknown field (known: {})",
                    known.join(", ")
                ));
            }
            continue;
        };
        if value.is_null() {
            continue; // Mica sends null for "unchanged".
        }
        match field.decl.data_type.as_str() {
            "bool" => match value {
                Value::Bool(_) => parsed.changes.push(Change {
                    key: field.decl.key.clone(),
                    value: value.clone(),
                }),
                other => parsed
                    .problems
                    .push(format!("{name}: must be true or false, got {other}")),
            },
            "int" => match value.as_i64() {
                Some(_) => parsed.changes.push(Change {
                    key: field.decl.key.clone(),
                    value: value.clone(),
                }),
                None => parsed
                    .problems
                    .push(format!("{name}: must be a whole number, got {value}")),
            },
            _ => {
                let Some(text) = value.as_str() else {
                    parsed
                        .problems
                        .push(format!("{name}: must be a string, got {value}"));
                    continue;
                };
                let trimmed = text.trim();
                if trimmed.len() != text.len() {
                    parsed
                        .warnings
                        .push(format!("{name}: surrounding whitespace was removed"));
                }
                if field.decl.sensitive && trimmed.is_empty() {
                    continue; // An empty secret never clears the stored one.
                }
                if url_keys.contains(&field.decl.key)
                    && let Err(why) = url_check(trimmed)
                {
                    parsed.problems.push(format!("{name}: {why}"));
                    continue;
                }
                parsed.changes.push(Change {
                    key: field.decl.key.clone(),
                    value: Value::String(trimmed.to_string()),
                });
            }
        }
    }
    parsed
}

/// A secret is sent only where it was entered for: a change that moves an outbound URL setting
/// (`url_keys`) to another origin must re-enter, in the same request, every secret that is set,
/// or the admin token alone could point the plugin elsewhere and have it post the App Secret
/// there. One problem per moved setting, naming the secrets to enter; none when nothing moves.
pub fn secrets_left_behind(
    fields: &[Field],
    changes: &[Change],
    current: &std::collections::HashMap<String, Value>,
    url_keys: &[String],
) -> Vec<String> {
    let origin = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(|u| crate::capabilities::http::allowed_origin(u).ok())
    };
    let entered = |key: &str| {
        changes
            .iter()
            .any(|c| c.key == key && c.value.as_str().is_some_and(|v| !v.is_empty()))
    };
    let mut problems = Vec::new();
    for change in changes.iter().filter(|c| url_keys.contains(&c.key)) {
        let before = current.get(&change.key);
        if origin(before) == origin(Some(&change.value)) {
            continue;
        }
        let missing: Vec<&str> = fields
            .iter()
            .filter(|f| f.decl.sensitive && !entered(&f.decl.key))
            .filter(|f| {
                current
                    .get(&f.decl.key)
                    .and_then(Value::as_str)
                    .is_some_and(|v| !v.is_empty())
            })
            .map(|f| f.name.as_str())
            .collect();
        if missing.is_empty() {
            continue;
        }
        let name = fields
            .iter()
            .find(|f| f.decl.key == change.key)
            .map_or(change.key.as_str(), |f| f.name.as_str());
        problems.push(format!(
            "{name}: moving it from {} to {} needs {} entered again in the same request (a secret is only sent to the address it was entered for)",
            before.and_then(Value::as_str).unwrap_or("(unset)"),
            change.value.as_str().unwrap_or_default(),
            missing.join(", ")
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decl(key: &str, data_type: &str, sensitive: bool) -> SettingDecl {
        SettingDecl {
            key: key.into(),
            category: "feishu".into(),
            data_type: data_type.into(),
            default_value: json!(null),
            description_zh: String::new(),
            description_en: String::new(),
            sensitive,
        }
    }

    #[test]
    fn prefix_and_mask() {
        assert_eq!(
            common_prefix(&["auth.feishu.app_id", "auth.feishu.enabled"]),
            "auth.feishu."
        );
        assert_eq!(common_prefix(&["a.b.c", "a.x"]), "a.");
        assert_eq!(common_prefix(&["single.key"]), "single.");
        assert_eq!(mask(""), "");
        assert_eq!(mask("short"), "****");
        assert_eq!(mask("s3cr3t-long-value"), "****alue");
    }

    #[test]
    fn parse_reports_every_problem_and_trims() {
        let decls = vec![
            decl("auth.feishu.app_id", "string", false),
            decl("auth.feishu.app_secret", "string", true),
            decl("auth.feishu.enabled", "bool", false),
            decl("auth.feishu.base_url", "string", false),
        ];
        let f = fields(&decls);
        let body = json!({"app_id": " cli_1 ", "app_secret": "", "app_secret_masked": "****", "enabled": "yes",
                          "bogus": 1, "base_url": "http://10.0.0.1"});
        let urls = vec!["auth.feishu.base_url".to_string()];
        let p = parse(&f, body.as_object().unwrap(), &urls, |u| {
            if u.starts_with("https://") {
                Ok(())
            } else {
                Err("bad".into())
            }
        });
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].value, json!("cli_1"));
        assert_eq!(
            p.warnings,
            vec!["app_id: surrounding whitespace was removed"]
        );
        assert_eq!(p.problems.len(), 3, "{:?}", p.problems);
        assert!(
            p.problems
                .iter()
                .any(|x| x.starts_with("enabled: must be true or false"))
        );
        assert!(
            p.problems
                .iter()
                .any(|x| x.starts_with("bogus: unknown field"))
        );
        assert!(p.problems.iter().any(|x| x.starts_with("base_url: bad")));
    }

    #[test]
    fn moving_an_outbound_url_needs_every_set_secret_again() {
        let decls = vec![
            decl("auth.feishu.app_secret", "string", true),
            decl("auth.feishu.encrypt_key", "string", true),
            decl("auth.feishu.base_url", "string", false),
        ];
        let f = fields(&decls);
        let urls = vec!["auth.feishu.base_url".to_string()];
        let current: std::collections::HashMap<String, Value> = [
            ("auth.feishu.app_secret", json!("s")),
            ("auth.feishu.encrypt_key", json!("")),
            ("auth.feishu.base_url", json!("https://open.feishu.cn")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let change = |key: &str, value: Value| Change {
            key: key.into(),
            value,
        };
        let moved = [change(
            "auth.feishu.base_url",
            json!("https://evil.example"),
        )];
        let problems = secrets_left_behind(&f, &moved, &current, &urls);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with(
                "base_url: moving it from https://open.feishu.cn to https://evil.example needs app_secret entered again"
            ),
            "an unset secret is not asked for: {problems:?}"
        );
        let with_secret = [
            change("auth.feishu.base_url", json!("https://evil.example")),
            change("auth.feishu.app_secret", json!("new")),
        ];
        assert!(secrets_left_behind(&f, &with_secret, &current, &urls).is_empty());
        let same_origin = [change(
            "auth.feishu.base_url",
            json!("https://open.feishu.cn:443/"),
        )];
        assert!(secrets_left_behind(&f, &same_origin, &current, &urls).is_empty());
    }
}
