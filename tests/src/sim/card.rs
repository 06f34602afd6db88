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
    if elements.len() > 200 {
        return Err("element exceeds the limit".into());
    }
    for (i, e) in elements.iter().enumerate() {
        let tag = e["tag"].as_str().ok_or(format!("element {i} has no tag"))?;
        if tag == "action" && obj.get("schema").and_then(Value::as_str) == Some("2.0") {
            return Err("schema 2.0 cards have no action container".into());
        }
    }
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
