//! Card JSON 2.0 building blocks. Labels are ours; every value passed in is user text and is escaped
//! here, so callers cannot forget.
//!
//! The card is a tree of plain structs serialized by serde, not a `serde_json::Value`: a card is
//! rendered for every message, and building and dropping a map per JSON object cost more than the
//! rest of the plugin's work (docs/benchmarks.md, section 1).

use super::markdown::{clip_line, escape, escape_into, truncate};
use serde::Serialize;

/// Per-field character limits; shrunk when a card would exceed Feishu's size limit.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Names, numbers, suppliers, departments.
    pub short: usize,
    /// Titles.
    pub title: usize,
    /// Descriptions and comments.
    pub long: usize,
    /// Lists of user-sized length (a notice's fields, a digest's sections): how many are shown
    /// before the rest is folded into "and N more".
    pub items: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        short: 120,
        title: 200,
        long: 2000,
        items: 20,
    };

    pub fn halved(self) -> Limits {
        Limits {
            short: (self.short / 2).max(16),
            title: (self.title / 2).max(24),
            long: (self.long / 2).max(32),
            items: (self.items / 2).max(1),
        }
    }

    /// As small as cards get: shrinking further changes nothing.
    pub fn smallest(self) -> bool {
        self.long <= 32 && self.items <= 1
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
    /// Closed without a decision (withdrawn, deleted, timed out).
    Grey,
}

impl Colour {
    /// A notice's colour by its severity.
    pub fn of(severity: crate::model::Severity) -> Colour {
        match severity {
            crate::model::Severity::Info => Colour::Blue,
            crate::model::Severity::Warning => Colour::Orange,
            crate::model::Severity::Urgent => Colour::Red,
        }
    }
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
            Colour::Grey => "grey",
        }
    }
}

/// A Feishu card (JSON 2.0), ready to serialize.
#[derive(Debug, Serialize)]
pub struct Card {
    schema: &'static str,
    config: Config,
    header: Header,
    body: Body,
}

#[derive(Debug, Serialize)]
struct Config {
    update_multi: bool,
    /// `false` on a card with decision buttons: only its recipient may press them.
    #[serde(skip_serializing_if = "Option::is_none")]
    enable_forward: Option<bool>,
    summary: Content,
}

#[derive(Debug, Serialize)]
struct Content {
    content: String,
}

/// `{"tag": "plain_text", "content": ...}`: shown as is, never interpreted.
#[derive(Debug, Serialize)]
struct PlainText {
    tag: &'static str,
    content: String,
}

impl PlainText {
    fn new(content: impl Into<String>) -> Self {
        PlainText {
            tag: "plain_text",
            content: content.into(),
        }
    }
}

#[derive(Debug, Serialize)]
struct Header {
    title: PlainText,
    template: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subtitle: Option<PlainText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text_tag_list: Option<[TextTag; 1]>,
}

#[derive(Debug, Serialize)]
struct TextTag {
    tag: &'static str,
    text: PlainText,
    color: &'static str,
}

#[derive(Debug, Serialize)]
struct Body {
    elements: Vec<Element>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "tag", rename_all = "snake_case")]
enum Element {
    Markdown {
        content: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        text_size: Option<&'static str>,
    },
    Button {
        text: PlainText,
        #[serde(rename = "type")]
        style: &'static str,
        behaviors: [OpenUrl; 1],
    },
    Hr,
    /// A form: its submit buttons send the inputs' values with the click (`form_value`).
    Form {
        name: &'static str,
        elements: Vec<Element>,
    },
    Input {
        name: &'static str,
        placeholder: PlainText,
        max_length: u32,
    },
    /// A button that submits its form and calls back (`card.action.trigger`) with `value`.
    #[serde(rename = "button")]
    Submit {
        text: PlainText,
        #[serde(rename = "type")]
        style: &'static str,
        name: &'static str,
        form_action_type: &'static str,
        behaviors: [CallbackBehaviour; 1],
    },
}

#[derive(Debug, Serialize)]
struct CallbackBehaviour {
    #[serde(rename = "type")]
    kind: &'static str,
    value: ButtonValue,
}

/// What a decision button sends back: the host's seal, and which button it was. Nothing else:
/// the host finds the card, the requisition and the reader from the seal alone.
#[derive(Debug, Serialize)]
pub struct ButtonValue {
    pub seal: String,
    pub action: &'static str,
}

/// One submit button of a decision form.
pub struct DecisionButton {
    pub label: &'static str,
    /// `primary` or `danger`.
    pub style: &'static str,
    pub value: ButtonValue,
}

#[derive(Debug, Serialize)]
struct OpenUrl {
    #[serde(rename = "type")]
    kind: &'static str,
    default_url: String,
}

/// One card being assembled.
pub struct CardBuilder {
    limits: Limits,
    colour: Colour,
    title: String,
    subtitle: Option<String>,
    tag: Option<(String, Colour)>,
    /// Markdown lines of the fields block being filled.
    fields: String,
    blocks: Vec<Element>,
    /// The card carries decision buttons: it must not be forwarded.
    actionable: bool,
}

impl CardBuilder {
    pub fn new(limits: Limits, colour: Colour, title: &str) -> Self {
        CardBuilder {
            limits,
            colour,
            title: clip_line(title, limits.title).into_owned(),
            subtitle: None,
            tag: None,
            fields: String::with_capacity(256),
            blocks: Vec::with_capacity(6),
            actionable: false,
        }
    }

    /// A plain-text subtitle (user text allowed: plain_text is not interpreted).
    pub fn subtitle(mut self, text: &str) -> Self {
        self.subtitle = Some(clip_line(text, self.limits.title).into_owned());
        self
    }

    /// A coloured tag beside the title (our own label).
    pub fn tag(mut self, label: &str, colour: Colour) -> Self {
        self.tag = Some((label.to_string(), colour));
        self
    }

    /// The card's state changed (a redrawn card): a new header colour and tag.
    pub fn restyle(mut self, colour: Colour, tag: &str) -> Self {
        self.colour = colour;
        self.tag = Some((tag.to_string(), colour));
        self
    }

    /// "**label:** value", the value escaped here.
    fn push_field(&mut self, label: &str, value: &str) {
        if !self.fields.is_empty() {
            self.fields.push('\n');
        }
        self.fields.push_str("**");
        self.fields.push_str(label);
        self.fields.push_str(":** ");
        escape_into(&mut self.fields, value);
    }

    /// "**label:** value" with a short user value.
    pub fn field(mut self, label: &str, value: &str) -> Self {
        self.push_field(label, &clip_line(value, self.limits.short));
        self
    }

    /// A title-length user value.
    pub fn title_field(mut self, label: &str, value: &str) -> Self {
        self.push_field(label, &clip_line(value, self.limits.title));
        self
    }

    /// "**label:** value" where both come from the caller (a notice's fields): both escaped.
    pub fn user_field(mut self, label: &str, value: &str) -> Self {
        if !self.fields.is_empty() {
            self.fields.push('\n');
        }
        self.fields.push_str("**");
        escape_into(&mut self.fields, &clip_line(label, self.limits.short));
        self.fields.push_str(":** ");
        escape_into(&mut self.fields, &clip_line(value, self.limits.title));
        self
    }

    /// A line of our own words in small type ("and 3 more").
    pub fn note(mut self, text: &str) -> Self {
        self.flush_fields();
        self.blocks.push(Element::Markdown {
            content: escape(text),
            text_size: Some("notation"),
        });
        self
    }

    /// Multi-line user text on its own (a notice's body).
    pub fn text(mut self, text: &str) -> Self {
        let body = escape(&truncate(text.trim(), self.limits.long));
        self.flush_fields();
        if !body.is_empty() {
            self.blocks.push(Element::Markdown {
                content: body,
                text_size: None,
            });
        }
        self
    }

    /// A titled list of user entries, each a link when it has a safe URL (a digest section), with
    /// how many there are in all after the title.
    pub fn list(
        mut self,
        heading: &str,
        total: usize,
        entries: &[(String, Option<String>)],
        more: Option<String>,
    ) -> Self {
        self.flush_fields();
        let mut content = String::with_capacity(64 * (entries.len() + 1));
        content.push_str("**");
        escape_into(&mut content, &clip_line(heading, self.limits.title));
        content.push_str("** (");
        content.push_str(&total.to_string());
        content.push(')');
        for (title, url) in entries {
            content.push_str("\n- ");
            let title = clip_line(title, self.limits.title);
            match url {
                Some(url) => {
                    content.push('[');
                    escape_into(&mut content, &title);
                    content.push_str("](");
                    content.push_str(url);
                    content.push(')');
                }
                None => escape_into(&mut content, &title),
            }
        }
        if let Some(more) = more {
            content.push('\n');
            escape_into(&mut content, &more);
        }
        self.blocks.push(Element::Markdown {
            content,
            text_size: None,
        });
        self
    }

    /// A value we produced ourselves (formatted money, counts): still escaped, never truncated.
    pub fn fact(mut self, label: &str, value: &str) -> Self {
        self.push_field(label, value);
        self
    }

    /// A multi-line user text under its label (descriptions, comments).
    pub fn paragraph(mut self, label: &str, text: &str) -> Self {
        let body = escape(&truncate(text.trim(), self.limits.long));
        self.flush_fields();
        self.blocks.push(Element::Markdown {
            content: format!("**{label}:**\n{body}"),
            text_size: None,
        });
        self
    }

    /// The button that opens the record in Mica.
    pub fn link_button(mut self, label: &str, url: &str) -> Self {
        self.flush_fields();
        self.blocks.push(Element::Button {
            text: PlainText::new(label),
            style: "primary",
            behaviors: [OpenUrl {
                kind: "open_url",
                default_url: url.to_string(),
            }],
        });
        self
    }

    /// The buttons that call back, after a comment box (its field name and placeholder) when
    /// given. The card becomes unforwardable.
    pub fn decision_form(
        mut self,
        comment: Option<(&'static str, &str)>,
        buttons: Vec<DecisionButton>,
    ) -> Self {
        self.flush_fields();
        let mut elements = Vec::with_capacity(buttons.len() + 1);
        if let Some((name, placeholder)) = comment {
            elements.push(Element::Input {
                name,
                placeholder: PlainText::new(placeholder),
                max_length: 1000,
            });
        }
        for b in buttons {
            elements.push(Element::Submit {
                text: PlainText::new(b.label),
                style: b.style,
                name: b.value.action,
                form_action_type: "submit",
                behaviors: [CallbackBehaviour {
                    kind: "callback",
                    value: b.value,
                }],
            });
        }
        self.blocks.push(Element::Form {
            name: "decision",
            elements,
        });
        self.actionable = true;
        self
    }

    fn flush_fields(&mut self) {
        if !self.fields.is_empty() {
            self.blocks.push(Element::Markdown {
                content: std::mem::take(&mut self.fields),
                text_size: None,
            });
        }
    }

    pub fn finish(mut self, footer: &str) -> Card {
        self.flush_fields();
        self.blocks.push(Element::Hr);
        self.blocks.push(Element::Markdown {
            content: footer.to_string(),
            text_size: Some("notation"),
        });
        Card {
            schema: "2.0",
            config: Config {
                update_multi: true,
                enable_forward: self.actionable.then_some(false),
                summary: Content {
                    content: self.title.clone(),
                },
            },
            header: Header {
                title: PlainText::new(self.title),
                template: self.colour.template(),
                subtitle: self.subtitle.map(PlainText::new),
                text_tag_list: self.tag.map(|(label, colour)| {
                    [TextTag {
                        tag: "text_tag",
                        text: PlainText::new(label),
                        color: colour.template(),
                    }]
                }),
            },
            body: Body {
                elements: self.blocks,
            },
        }
    }
}
