//! Card JSON 2.0 building blocks. Labels are ours; every value passed in is user text and is escaped
//! here, so callers cannot forget.

use super::markdown::{escape, single_line, truncate};
use serde_json::{Value, json};

/// Per-field character limits; shrunk when a card would exceed Feishu's size limit.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Names, numbers, suppliers, departments.
    pub short: usize,
    /// Titles.
    pub title: usize,
    /// Descriptions and comments.
    pub long: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        short: 120,
        title: 200,
        long: 2000,
    };

    pub fn halved(self) -> Limits {
        Limits {
            short: (self.short / 2).max(16),
            title: (self.title / 2).max(24),
            long: (self.long / 2).max(32),
        }
    }
}

/// Header colour templates used by the cards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Blue,
    Green,
    Red,
    Orange,
    Turquoise,
    Yellow,
}

impl Colour {
    pub fn template(self) -> &'static str {
        match self {
            Colour::Blue => "blue",
            Colour::Green => "green",
            Colour::Red => "red",
            Colour::Orange => "orange",
            Colour::Turquoise => "turquoise",
            Colour::Yellow => "yellow",
        }
    }
}

/// One card being assembled.
pub struct CardBuilder {
    limits: Limits,
    colour: Colour,
    title: String,
    subtitle: Option<String>,
    tag: Option<(String, Colour)>,
    fields: Vec<String>,
    blocks: Vec<Value>,
}

impl CardBuilder {
    pub fn new(limits: Limits, colour: Colour, title: &str) -> Self {
        CardBuilder {
            limits,
            colour,
            title: truncate(&single_line(title), limits.title),
            subtitle: None,
            tag: None,
            fields: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// A plain-text subtitle (user text allowed: plain_text is not interpreted).
    pub fn subtitle(mut self, text: &str) -> Self {
        self.subtitle = Some(truncate(&single_line(text), self.limits.title));
        self
    }

    /// A coloured tag beside the title (our own label).
    pub fn tag(mut self, label: &str, colour: Colour) -> Self {
        self.tag = Some((label.to_string(), colour));
        self
    }

    /// "**label:** value" with a short user value.
    pub fn field(mut self, label: &str, value: &str) -> Self {
        let value = escape(&truncate(&single_line(value), self.limits.short));
        self.fields.push(format!("**{label}:** {value}"));
        self
    }

    /// A title-length user value.
    pub fn title_field(mut self, label: &str, value: &str) -> Self {
        let value = escape(&truncate(&single_line(value), self.limits.title));
        self.fields.push(format!("**{label}:** {value}"));
        self
    }

    /// A value we produced ourselves (formatted money, counts): still escaped, never truncated.
    pub fn fact(mut self, label: &str, value: &str) -> Self {
        self.fields.push(format!("**{label}:** {}", escape(value)));
        self
    }

    /// A multi-line user text under its label (descriptions, comments).
    pub fn paragraph(mut self, label: &str, text: &str) -> Self {
        let body = escape(&truncate(text.trim(), self.limits.long));
        self.flush_fields();
        self.blocks
            .push(json!({"tag": "markdown", "content": format!("**{label}:**\n{body}")}));
        self
    }

    /// The button that opens the record in Mica.
    pub fn link_button(mut self, label: &str, url: &str) -> Self {
        self.flush_fields();
        self.blocks.push(json!({
            "tag": "button",
            "text": {"tag": "plain_text", "content": label},
            "type": "primary",
            "behaviors": [{"type": "open_url", "default_url": url}],
        }));
        self
    }

    fn flush_fields(&mut self) {
        if !self.fields.is_empty() {
            let content = self.fields.join("\n");
            self.fields.clear();
            self.blocks
                .push(json!({"tag": "markdown", "content": content}));
        }
    }

    pub fn finish(mut self, footer: &str) -> Value {
        self.flush_fields();
        self.blocks.push(json!({"tag": "hr"}));
        self.blocks.push(json!({
            "tag": "markdown",
            "content": footer,
            "text_size": "notation",
        }));
        let mut header = json!({
            "title": {"tag": "plain_text", "content": self.title},
            "template": self.colour.template(),
        });
        if let Some(sub) = &self.subtitle {
            header["subtitle"] = json!({"tag": "plain_text", "content": sub});
        }
        if let Some((label, colour)) = &self.tag {
            header["text_tag_list"] = json!([{
                "tag": "text_tag",
                "text": {"tag": "plain_text", "content": label},
                "color": colour.template(),
            }]);
        }
        json!({
            "schema": "2.0",
            "config": {"update_multi": true, "summary": {"content": self.title}},
            "header": header,
            "body": {"elements": self.blocks},
        })
    }
}
