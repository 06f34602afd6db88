// A Feishu interactive card (card JSON 2.0) rendered as HTML, as close to Feishu's client as the
// elements our plugins use allow: header with colour template, subtitle and tags; markdown with bold,
// links and line breaks; buttons; dividers. Text always becomes text nodes, never markup, and an
// element this renderer does not know is shown as such rather than silently dropped.

import { h } from "./dom.js";

const TEMPLATES = new Set([
  "blue", "wathet", "turquoise", "green", "yellow", "orange", "red", "carmine", "violet",
  "purple", "indigo", "grey", "default",
]);

const NAMED = { lt: "<", gt: ">", quot: '"', amp: "&" };

/** A code point a reference may stand for (a Unicode scalar value), else U+FFFD as in HTML. */
function scalar(n) {
  const valid = Number.isInteger(n) && n >= 0 && n <= 0x10ffff && !(n >= 0xd800 && n <= 0xdfff);
  return String.fromCodePoint(valid ? n : 0xfffd);
}

/**
 * Feishu markdown escapes special characters as numeric references (&#42;); decode them, in one
 * pass, so what one reference decodes to is never decoded again (`&#38;#60;` is the text "&#60;",
 * not "<"), and a reference beyond U+10FFFF shows as U+FFFD instead of failing the whole preview.
 */
export function decodeReferences(text) {
  return text.replace(/&(?:#(\d{1,8})|#x([0-9a-f]{1,8})|(lt|gt|quot|amp));/gi, (_, dec, hex, name) => {
    if (dec !== undefined) return scalar(Number(dec));
    if (hex !== undefined) return scalar(parseInt(hex, 16));
    return NAMED[name.toLowerCase()];
  });
}

function safeUrl(url) {
  return /^https?:\/\//i.test(url) ? url : null;
}

/** One line of markdown: **bold** and [text](url); everything else is literal text. */
function inline(line) {
  const out = [];
  const pattern = /\*\*(.+?)\*\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (const m of line.matchAll(pattern)) {
    if (m.index > last) out.push(decodeReferences(line.slice(last, m.index)));
    if (m[1] !== undefined) {
      out.push(h("strong", {}, decodeReferences(m[1])));
    } else {
      const href = safeUrl(decodeReferences(m[3]));
      const text = decodeReferences(m[2]);
      out.push(href ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, text) : text);
    }
    last = m.index + m[0].length;
  }
  if (last < line.length) out.push(decodeReferences(line.slice(last)));
  return out;
}

function markdown(element) {
  const lines = String(element.content ?? "").split("\n");
  const parts = [];
  lines.forEach((line, i) => {
    if (i > 0) parts.push(h("br"));
    parts.push(inline(line));
  });
  const size = element.text_size === "notation" ? "card-md notation" : "card-md";
  return h("div", { class: size, dataset: { tag: "markdown" } }, parts);
}

function button(element) {
  const label = element.text?.content ?? "";
  const open = (element.behaviors || []).find((b) => b.type === "open_url");
  const href = open ? safeUrl(open.default_url || "") : null;
  const kind = element.type === "primary" || element.type === "danger" ? `card-button ${element.type}` : "card-button";
  return href
    ? h("a", { class: kind, href, target: "_blank", rel: "noopener noreferrer", dataset: { tag: "button" } }, label)
    : h("span", { class: kind, dataset: { tag: "button" } }, label);
}

function element(el) {
  switch (el.tag) {
    case "markdown":
    case "lark_md":
      return markdown(el);
    case "plain_text":
    case "div":
      return h("div", { class: "card-md" }, el.text?.content ?? el.content ?? "");
    case "button":
      return button(el);
    case "hr":
      return h("hr", { class: "card-hr" });
    case "form":
      return h("div", { class: "card-form", dataset: { tag: "form" } }, (el.elements || []).map(element));
    case "input":
      return h("input", { class: "card-input", type: "text", disabled: true, dataset: { tag: "input" },
        placeholder: el.placeholder?.content ?? "" });
    case "column_set":
      return h("div", { class: "card-columns" }, (el.columns || []).map((c) =>
        h("div", { class: "card-column" }, (c.elements || []).map(element))));
    default:
      return h("div", { class: "card-unknown" }, `[${el.tag}]`);
  }
}

/** The card as a DOM node. */
export function renderCard(card) {
  const header = card.header || {};
  const template = TEMPLATES.has(header.template) ? header.template : "default";
  const tags = (header.text_tag_list || []).map((tag) =>
    h("span", { class: `card-tag tag-${TEMPLATES.has(tag.color) ? tag.color : "default"}` }, tag.text?.content ?? ""));
  const elements = card.body?.elements || card.elements || [];
  return h("article", { class: "feishu-card", dataset: { schema: card.schema || "1.0" } },
    h("header", { class: `card-header template-${template}` },
      h("div", { class: "card-title-row" },
        h("span", { class: "card-title" }, header.title?.content ?? ""),
        tags),
      header.subtitle ? h("div", { class: "card-subtitle" }, header.subtitle.content ?? "") : null),
    h("div", { class: "card-body" }, elements.map(element)));
}
