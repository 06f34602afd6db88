//! Mica's notices and daily digests (event types `notice` and `digest`): the host's own types for
//! them, validated field by field. The runtime turns them into the `notices` interface's types at
//! the plugin's edge.

use super::fields::{Obj, Result, error};

/// A category is a short name: Mica's kinds or any other of its own.
const MAX_CATEGORY_CHARS: usize = 64;
/// More than a card shows (it folds the rest into "and N more"), but bounded.
const MAX_FIELDS: usize = 100;
const MAX_SECTIONS: usize = 100;
const MAX_ITEMS: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Urgent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeField {
    pub label: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub category: String,
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    pub severity: Severity,
    pub fields: Vec<NoticeField>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestItem {
    pub title: String,
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestSection {
    pub kind: String,
    pub title: String,
    pub count: u32,
    pub items: Vec<DigestItem>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    pub date: String,
    pub url: Option<String>,
    pub sections: Vec<DigestSection>,
}

/// A notice or a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Notice(Notice),
    Digest(Digest),
}

impl Message {
    /// Who waits on it: an urgent notice or an SLA escalation is news someone acts on soon; a
    /// reminder, any other notice and a digest can wait behind them.
    pub fn class(&self) -> crate::delivery::Class {
        use crate::delivery::Class;
        match self {
            Message::Notice(n) if n.severity == Severity::Urgent => Class::Update,
            Message::Notice(n) if n.category == "sla_escalation" => Class::Update,
            _ => Class::Bulk,
        }
    }
}

fn opt_url(d: &Obj, name: &str) -> Result<Option<String>> {
    match d.raw(name) {
        None => Ok(None),
        Some(_) => d.url(name).map(Some),
    }
}

fn list<'a>(d: &Obj<'a>, name: &str, max: usize) -> Result<Vec<Obj<'a>>> {
    let Some(value) = d.raw(name) else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| error(d.field(name), "must be an array"))?;
    if items.len() > max {
        return Err(error(d.field(name), format!("at most {max} entries")));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| Obj::root(v, &format!("{}[{i}]", d.field(name))))
        .collect()
}

pub fn notice(d: &Obj) -> Result<Notice> {
    let category = d.str("category")?.trim().to_string();
    if category.chars().count() > MAX_CATEGORY_CHARS
        || !category
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(error(
            d.field("category"),
            format!(
                "must be a short name of letters, digits, _ or - (at most {MAX_CATEGORY_CHARS}), such as approval_reminder"
            ),
        ));
    }
    let severity = match d.opt_str("severity")?.as_deref().map(str::trim) {
        None | Some("") | Some("info") => Severity::Info,
        Some("warning") => Severity::Warning,
        Some("urgent") => Severity::Urgent,
        Some(other) => {
            return Err(error(
                d.field("severity"),
                format!("{other:?} is not one of info, warning, urgent"),
            ));
        }
    };
    let fields = list(d, "fields", MAX_FIELDS)?
        .iter()
        .map(|f| {
            Ok(NoticeField {
                label: f.str("label")?,
                value: f.str("value")?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Notice {
        category,
        title: d.str("title")?,
        body: d.opt_str("body")?.unwrap_or_default(),
        url: opt_url(d, "url")?,
        severity,
        fields,
    })
}

pub fn digest(d: &Obj) -> Result<Digest> {
    let sections = list(d, "sections", MAX_SECTIONS)?
        .iter()
        .map(|s| {
            let items = list(s, "items", MAX_ITEMS)?
                .iter()
                .map(|i| {
                    Ok(DigestItem {
                        title: i.str("title")?,
                        url: opt_url(i, "url")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(DigestSection {
                kind: s.str("kind")?,
                title: s.str("title")?,
                count: s.int("count", 0, u32::MAX as i64)? as u32,
                items,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Digest {
        date: d.date("date")?,
        url: opt_url(d, "url")?,
        sections,
    })
}
