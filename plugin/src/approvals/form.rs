//! Filling a Feishu approval template from a payment: widgets matched by `custom_id`, then by
//! name (zh or en); types and required widgets checked; every problem listed at once so an
//! administrator can fix the template in one go.

use crate::model::PaymentPending;
use serde_json::{Value, json};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Widget {
    pub id: String,
    pub custom_id: String,
    pub name: String,
    pub widget_type: String,
    pub required: bool,
}

/// The definition's `form`: a JSON array serialized as a string.
pub fn parse_definition(form: &str) -> Result<Vec<Widget>, String> {
    let items: Vec<Value> = serde_json::from_str(form)
        .map_err(|e| format!("the template's form is not a JSON array: {e}"))?;
    Ok(items
        .iter()
        .map(|w| Widget {
            id: w["id"].as_str().unwrap_or_default().to_string(),
            custom_id: w["custom_id"].as_str().unwrap_or_default().to_string(),
            name: w["name"].as_str().unwrap_or_default().to_string(),
            widget_type: w["type"].as_str().unwrap_or_default().to_string(),
            required: w["required"].as_bool().unwrap_or(false),
        })
        .collect())
}

/// One payment field and how to find its widget.
struct FieldSpec {
    key: &'static str,
    names: &'static [&'static str],
    types: &'static [&'static str],
    /// Mica cannot start an approval without it.
    essential: bool,
}

const TEXT: &[&str] = &["input", "textarea"];

/// The widgets a payment approval template should have (README: "Setting up the approval").
const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        key: "payment_number",
        names: &["付款单号", "付款编号", "Payment number", "Payment No."],
        types: TEXT,
        essential: true,
    },
    FieldSpec {
        key: "po_number",
        names: &["采购订单号", "订单号", "PO number", "PO No."],
        types: TEXT,
        essential: false,
    },
    FieldSpec {
        key: "supplier",
        names: &["供应商", "收款方", "Supplier", "Payee"],
        types: TEXT,
        essential: false,
    },
    FieldSpec {
        key: "amount",
        names: &["付款金额", "金额", "Amount"],
        types: &["amount", "number"],
        essential: true,
    },
    FieldSpec {
        key: "due_date",
        names: &["付款日期", "到期日", "Due date"],
        types: &["date"],
        essential: false,
    },
    FieldSpec {
        key: "description",
        names: &["说明", "付款说明", "备注", "Description"],
        types: TEXT,
        essential: false,
    },
    FieldSpec {
        key: "link",
        names: &["链接", "Mica 链接", "Link"],
        types: TEXT,
        essential: false,
    },
];

fn find<'a>(widgets: &'a [Widget], spec: &FieldSpec) -> Option<&'a Widget> {
    widgets
        .iter()
        .find(|w| w.custom_id.eq_ignore_ascii_case(spec.key))
        .or_else(|| {
            widgets.iter().find(|w| {
                spec.names
                    .iter()
                    .any(|n| w.name.trim().eq_ignore_ascii_case(n))
            })
        })
}

/// A date for Feishu's `date` widget (RFC 3339); a bare date is taken as midnight in China time.
fn rfc3339(date: &str) -> String {
    let d = date.trim();
    if d.len() == 10 {
        format!("{d}T00:00:00+08:00")
    } else {
        d.to_string()
    }
}

fn value_for(key: &str, p: &PaymentPending) -> Option<String> {
    match key {
        "payment_number" => Some(p.payment_number.clone()),
        "po_number" => Some(p.po_number.clone()),
        "supplier" => Some(p.supplier.clone()),
        "amount" => Some(p.amount.value.clone()),
        "due_date" => p.due_date.clone().filter(|d| !d.trim().is_empty()),
        "description" => p.description.clone().filter(|d| !d.trim().is_empty()),
        "link" => Some(p.url.clone()),
        _ => None,
    }
}

/// The `form` string for creating an instance, or every reason the template cannot be filled.
pub fn fill(widgets: &[Widget], payment: &PaymentPending) -> Result<String, Vec<String>> {
    let mut problems = Vec::new();
    let mut values = Vec::new();
    let mut used: Vec<&str> = Vec::new();
    for spec in FIELDS {
        let Some(w) = find(widgets, spec) else {
            if spec.essential {
                problems.push(format!(
                    "no widget for {} (give it custom_id \"{}\" or name it {})",
                    spec.key,
                    spec.key,
                    spec.names
                        .iter()
                        .map(|n| format!("\"{n}\""))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ));
            }
            continue;
        };
        used.push(&w.id);
        if !spec.types.contains(&w.widget_type.as_str()) {
            problems.push(format!(
                "widget \"{}\" ({}) has type {}, expected {}",
                w.name,
                w.id,
                w.widget_type,
                spec.types.join(" or ")
            ));
            continue;
        }
        let Some(text) = value_for(spec.key, payment) else {
            if w.required {
                problems.push(format!(
                    "widget \"{}\" ({}) is required but the payment has no {}",
                    w.name, w.id, spec.key
                ));
            }
            continue;
        };
        values.push(match w.widget_type.as_str() {
            "amount" | "number" => {
                let Ok(number) = text.parse::<f64>() else {
                    problems.push(format!("the amount {text:?} is not a number"));
                    continue;
                };
                let mut v = json!({"id": w.id, "type": w.widget_type, "value": number});
                if w.widget_type == "amount" {
                    v["currency"] = json!(payment.amount.currency);
                }
                v
            }
            "date" => json!({"id": w.id, "type": "date", "value": rfc3339(&text)}),
            t => json!({"id": w.id, "type": t, "value": text}),
        });
    }
    for w in widgets
        .iter()
        .filter(|w| w.required && !used.contains(&w.id.as_str()))
    {
        problems.push(format!(
            "required widget \"{}\" ({}, type {}) is not one Mica can fill: make it optional or remove it",
            w.name, w.id, w.widget_type
        ));
    }
    if problems.is_empty() {
        Ok(Value::Array(values).to_string())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DomainEvent, EventKind};
    use crate::samples;

    fn payment() -> PaymentPending {
        match samples::event(EventKind::PaymentPending) {
            DomainEvent::PaymentPending(p) => p,
            _ => unreachable!(),
        }
    }

    fn widgets(json: &str) -> Vec<Widget> {
        parse_definition(json).unwrap()
    }

    #[test]
    fn widgets_match_by_custom_id_then_by_name() {
        let w = widgets(
            r#"[{"id":"w1","custom_id":"payment_number","name":"X","type":"input","required":true},
                {"id":"w2","name":"金额","type":"amount","required":true},
                {"id":"w3","name":"Due date","type":"date"},
                {"id":"w4","name":"Supplier","type":"input"}]"#,
        );
        let form: Vec<Value> = serde_json::from_str(&fill(&w, &payment()).unwrap()).unwrap();
        assert_eq!(
            form[0],
            json!({"id": "w1", "type": "input", "value": "PAY-2026-0009"})
        );
        assert_eq!(form[1]["id"], "w4");
        assert_eq!(
            form[2],
            json!({"id": "w2", "type": "amount", "value": 6250.0, "currency": "CNY"})
        );
        assert_eq!(
            form[3],
            json!({"id": "w3", "type": "date", "value": "2026-12-15T00:00:00+08:00"})
        );
    }

    #[test]
    fn every_problem_is_listed() {
        let w = widgets(
            r#"[{"id":"w1","name":"Payment number","type":"number"},
                {"id":"w9","name":"Cost center","type":"input","required":true}]"#,
        );
        let problems = fill(&w, &payment()).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(
            problems[0]
                .contains("\"Payment number\" (w1) has type number, expected input or textarea")
        );
        assert!(problems[1].contains("no widget for amount"));
        assert!(problems[2].contains("required widget \"Cost center\" (w9"));
    }
}
