//! Approval v4 as Feishu runs it: definitions, instances, subscriptions.

use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct Instance {
    pub instance_code: String,
    pub approval_code: String,
    pub uuid: Option<String>,
    pub status: String,
    /// ("open_id" | "user_id", id)
    pub initiator: (String, String),
    /// The parsed form values the host sent.
    pub form: Vec<Value>,
}

/// A payment template with the widgets the README tells administrators to create.
pub fn payment_template() -> Value {
    json!([
        {"id": "widget_payment_no", "custom_id": "payment_number", "name": "付款单号", "type": "input", "required": true},
        {"id": "widget_po", "name": "采购订单号", "type": "input", "required": false},
        {"id": "widget_supplier", "name": "供应商", "type": "input", "required": true},
        {"id": "widget_amount", "custom_id": "amount", "name": "付款金额", "type": "amount", "required": true},
        {"id": "widget_due", "name": "付款日期", "type": "date", "required": false},
        {"id": "widget_desc", "name": "说明", "type": "textarea", "required": false},
        {"id": "widget_link", "name": "Link", "type": "input", "required": false}
    ])
}

/// Feishu's check of a create request's form against the definition: the reason for 1390001.
pub fn validate_form(definition: &Value, form: &[Value]) -> Result<(), String> {
    let widgets = definition.as_array().cloned().unwrap_or_default();
    for item in form {
        let id = item["id"].as_str().unwrap_or_default();
        let Some(w) = widgets.iter().find(|w| w["id"] == id) else {
            return Err(format!("widget {id} not found in the approval definition"));
        };
        if item["type"] != w["type"] {
            return Err(format!(
                "widget {id} type mismatch: {} vs {}",
                item["type"], w["type"]
            ));
        }
        let ok = match w["type"].as_str().unwrap_or_default() {
            "input" | "textarea" => item["value"].is_string(),
            "number" => item["value"].is_number(),
            "amount" => item["value"].is_number() && item["currency"].is_string(),
            "date" => item["value"]
                .as_str()
                .is_some_and(|v| chrono::DateTime::parse_from_rfc3339(v).is_ok()),
            _ => true,
        };
        if !ok {
            return Err(format!("widget {id} value is invalid: {item}"));
        }
    }
    for w in &widgets {
        if w["required"] == true && !form.iter().any(|i| i["id"] == w["id"]) {
            return Err(format!("required widget {} is missing", w["id"]));
        }
    }
    Ok(())
}
