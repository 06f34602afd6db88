//! What Feishu checks of an interactive card before sending it.

use serde_json::Value;

const TEMPLATES: &[&str] = &[
    "default",
    "blue",
    "wathet",
    "turquoise",
    "green",
    "yellow",
    "orange",
    "red",
    "carmine",
    "violet",
    "purple",
    "indigo",
    "grey",
];

/// Feishu counts every component, nested ones too (2.0: at most 200 in a card).
const MAX_COMPONENTS: usize = 200;

/// Check `elements` and everything nested in them: tags, 2.0 buttons and their behaviours, forms.
fn components(
    elements: &[Value],
    schema2: bool,
    in_form: bool,
    count: &mut usize,
) -> Result<(), String> {
    for (i, e) in elements.iter().enumerate() {
        *count += 1;
        if *count > MAX_COMPONENTS {
            return Err("element exceeds the limit".into());
        }
        let tag = e["tag"].as_str().ok_or(format!("element {i} has no tag"))?;
        match tag {
            "action" if schema2 => return Err("schema 2.0 cards have no action container".into()),
            "button" if schema2 => button(e)?,
            "form" if in_form => return Err("a form cannot hold another form".into()),
            "form" => {
                if e["name"].as_str().is_none_or(str::is_empty) {
                    return Err("a form needs a name".into());
                }
                let inner = e["elements"].as_array().ok_or("a form has no elements")?;
                components(inner, schema2, true, count)?;
            }
            "column_set" => {
                for column in e["columns"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                    let inner = column["elements"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or(&[]);
                    components(inner, schema2, in_form, count)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A 2.0 button opens a link or calls back only through `behaviors`.
fn button(e: &Value) -> Result<(), String> {
    if e.get("url").is_some() || e.get("multi_url").is_some() {
        return Err("schema 2.0 buttons open links through behaviors, not url".into());
    }
    for b in e["behaviors"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        match b["type"].as_str() {
            Some("open_url") if b["default_url"].as_str().is_some_and(|u| !u.is_empty()) => {}
            Some("open_url") => return Err("an open_url behavior needs default_url".into()),
            Some("callback") if b["value"].is_object() || b["value"].is_string() => {}
            Some("callback") => return Err("a callback behavior needs a value".into()),
            other => return Err(format!("unknown button behavior {other:?}")),
        }
    }
    Ok(())
}

/// `Ok(card)` or the reason Feishu's card parser would give.
pub fn validate(content: &str) -> Result<Value, String> {
    let card: Value =
        serde_json::from_str(content).map_err(|e| format!("card JSON parse error: {e}"))?;
    let obj = card.as_object().ok_or("card must be a JSON object")?;
    let elements = if obj.get("schema").and_then(Value::as_str) == Some("2.0") {
        if obj.contains_key("elements") {
            return Err("schema 2.0 cards put elements in body.elements".into());
        }
        card["body"]["elements"]
            .as_array()
            .ok_or("schema 2.0 card has no body.elements")?
    } else {
        card["elements"].as_array().ok_or("card has no elements")?
    };
    let schema2 = obj.get("schema").and_then(Value::as_str) == Some("2.0");
    if schema2 && card["config"]["update_multi"] == false {
        return Err(
            "schema 2.0 cards are shared cards: config.update_multi may only be true".into(),
        );
    }
    let mut count = 0;
    components(elements, schema2, false, &mut count)?;
    if let Some(header) = obj.get("header") {
        if header["title"]["content"].as_str().is_none() {
            return Err("header has no title".into());
        }
        if let Some(t) = header.get("template").and_then(Value::as_str)
            && !TEMPLATES.contains(&t)
        {
            return Err(format!("unknown header template {t}"));
        }
    }
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn card(elements: Value) -> String {
        json!({"schema": "2.0", "config": {"update_multi": true},
               "header": {"title": {"tag": "plain_text", "content": "t"}, "template": "blue"},
               "body": {"elements": elements}})
        .to_string()
    }

    #[test]
    fn nested_components_buttons_and_forms_are_checked_as_feishu_does() {
        let link = json!({"tag": "button", "text": {"tag": "plain_text", "content": "Open"},
                          "behaviors": [{"type": "open_url", "default_url": "https://m.example.com"}]});
        let press = json!({"tag": "button", "name": "approve", "form_action_type": "submit",
                           "behaviors": [{"type": "callback", "value": {"seal": "s"}}]});
        let form = json!({"tag": "form", "name": "decision",
                          "elements": [{"tag": "input", "name": "comment"}, press]});
        assert!(validate(&card(json!([link, form]))).is_ok());

        let old_style = json!({"tag": "button", "url": "https://m.example.com"});
        assert!(
            validate(&card(json!([old_style])))
                .unwrap_err()
                .contains("behaviors")
        );
        let no_value = json!({"tag": "button", "behaviors": [{"type": "callback"}]});
        assert!(
            validate(&card(json!([no_value])))
                .unwrap_err()
                .contains("value")
        );
        let nested = json!({"tag": "form", "name": "a", "elements": [form]});
        assert!(
            validate(&card(json!([nested])))
                .unwrap_err()
                .contains("another form")
        );
        // 150 on top and 60 inside a form: 211 components, over Feishu's 200.
        let mut many: Vec<Value> = (0..150).map(|_| json!({"tag": "hr"})).collect();
        let inner: Vec<Value> = (0..60).map(|_| json!({"tag": "hr"})).collect();
        many.push(json!({"tag": "form", "name": "f", "elements": inner}));
        assert!(validate(&card(json!(many))).unwrap_err().contains("limit"));
        let unshared = json!({"schema": "2.0", "config": {"update_multi": false},
                              "body": {"elements": []}})
        .to_string();
        assert!(validate(&unshared).unwrap_err().contains("update_multi"));
    }
}
