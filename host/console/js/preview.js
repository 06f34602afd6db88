// Card preview: the active plugin renders each event type's sample card; shown side by side in
// the reader's language, with the exact JSON Feishu would receive one click away.

import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { LOCALES, locale, t, label } from "./i18n.js";
import { renderCard } from "./card.js";

function caption(p) {
  if (p.redrawn_by) return `${label("type_", p.type)} · ${label("redrawn_by_", p.redrawn_by)}`;
  if (p.with_buttons) return `${label("type_", p.type)} · ${t("with_buttons")}`;
  return label("type_", p.type);
}

export async function previewPage(root) {
  let reader = locale();
  const gallery = h("div", { class: "gallery", id: "gallery" });
  const select = h("select", { id: "preview-locale", onchange: (e) => { reader = e.target.value; load(); } },
    LOCALES.map((l) => h("option", { value: l, selected: l === reader }, l)));
  replace(root,
    h("h1", {}, t("preview_title")),
    h("p", { class: "intro" }, t("preview_intro")),
    h("div", { class: "toolbar" }, h("label", { for: "preview-locale" }, t("preview_locale")), select),
    gallery);

  async function load() {
    replace(gallery, h("p", {}, t("loading")));
    try {
      const result = await api("GET", `/api/v1/admin/feishu/preview?locale=${encodeURIComponent(reader)}`);
      replace(gallery, result.previews.map((p) =>
        h("figure", { class: "preview", dataset: { type: p.type, locale: p.locale, redrawn: p.redrawn_by ? "yes" : "no", buttons: p.with_buttons ? "yes" : "no" } },
          h("figcaption", {}, caption(p)),
          renderCard(p.card),
          h("details", {},
            h("summary", {}, t("preview_json")),
            h("pre", {}, JSON.stringify(p.card, null, 2))))));
    } catch (err) {
      replace(gallery, h("div", { class: "notice error", role: "alert" }, err.message));
    }
  }
  await load();
}
