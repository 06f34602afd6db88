// Feishu accounts the host learned from presses on cards: an address and who pressed (trust on
// first use). Removing one lets the next press on a card sent to that address bind it again.

import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export async function identitiesPage(root) {
  const message = h("div", { id: "identities-status" });
  const table = h("div", { id: "identities" });
  replace(root,
    h("h1", {}, t("identities_title")),
    h("p", { class: "intro" }, t("identities_intro")),
    message,
    table);

  async function remove(email) {
    try {
      await api("DELETE", `/api/v1/admin/identities/${encodeURIComponent(email)}`);
      replace(message, h("div", { class: "notice success", role: "status" }, t("identity_removed", { email })));
    } catch (err) {
      replace(message, h("div", { class: "notice error", role: "alert" }, err.message));
    }
    await load();
  }

  async function load() {
    try {
      const { identities } = await api("GET", "/api/v1/admin/identities?limit=500");
      if (identities.length === 0) {
        replace(table, h("p", { class: "empty" }, t("no_identities")));
        return;
      }
      replace(table, h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ["col_email", "col_open_id", "col_union_id", "col_learned", "col_actions"]
          .map((c) => h("th", {}, t(c))))),
        h("tbody", {}, identities.map((i) =>
          h("tr", { dataset: { email: i.email } },
            h("td", {}, i.email),
            h("td", { class: "mono" }, i.open_id),
            h("td", { class: "mono" }, i.union_id || ""),
            h("td", {}, when(i.learned_at)),
            h("td", {}, h("button", { type: "button", class: "small secondary", dataset: { remove: i.email },
              onclick: () => remove(i.email) }, t("remove"))))))));
    } catch (err) {
      replace(table, h("div", { class: "notice error", role: "alert" }, err.message));
    }
  }
  await load();
}
