// Recent deliveries with their status and last error; failed ones can be sent again (same
// delivery id, so Feishu still receives each card at most once).

import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { t, label } from "./i18n.js";

const STATUSES = ["pending", "retrying", "sent", "skipped", "failed"];

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export async function deliveriesPage(root) {
  let status = "";
  const message = h("div", { id: "deliveries-status" });
  const table = h("div", { id: "deliveries" });
  const filter = h("select", { id: "status-filter", onchange: (e) => { status = e.target.value; load(); } },
    h("option", { value: "" }, t("all")),
    STATUSES.map((s) => h("option", { value: s }, t(`status_${s}`))));
  replace(root,
    h("h1", {}, t("deliveries_title")),
    h("p", { class: "intro" }, t("deliveries_intro")),
    h("div", { class: "toolbar" },
      h("label", { for: "status-filter" }, t("filter_status")), filter,
      h("button", { type: "button", class: "secondary", onclick: () => load() }, t("refresh")),
      h("button", { type: "button", id: "retry-all", class: "secondary", onclick: () => retry(null) }, t("retry_all"))),
    message,
    table);

  async function retry(id) {
    try {
      const path = id ? `/api/v1/deliveries/${encodeURIComponent(id)}/retry` : "/api/v1/deliveries/retry-failed";
      const result = await api("POST", path);
      replace(message, h("div", { class: "notice success", role: "status" }, t("retried", { n: result.retried })));
    } catch (err) {
      replace(message, h("div", { class: "notice error", role: "alert" }, err.message));
    }
    await load();
  }

  async function load() {
    try {
      const query = status ? `?limit=200&status=${status}` : "?limit=200";
      const { deliveries } = await api("GET", `/api/v1/deliveries${query}`);
      if (deliveries.length === 0) {
        replace(table, h("p", { class: "empty" }, t("no_deliveries")));
        return;
      }
      replace(table, h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ["col_time", "col_event", "col_recipient", "col_status", "col_attempts", "col_error", "col_actions"]
          .map((c) => h("th", {}, t(c))))),
        h("tbody", {}, deliveries.map((d) =>
          h("tr", { dataset: { id: d.id, status: d.status } },
            h("td", {}, when(d.updated_at)),
            h("td", {}, h("div", {}, d.kind === "approval" ? `${label("type_", d.event_type || "")} · approval` : label("type_", d.event_type || "")),
              h("div", { class: "muted mono" }, d.event_id)),
            h("td", {}, d.recipient),
            h("td", {}, h("span", { class: `badge status-${d.status}` }, t(`status_${d.status}`))),
            h("td", { class: "num" }, String(d.attempts)),
            h("td", { class: "error-cell" },
              d.last_error || "",
              d.feishu_code ? h("div", { class: "muted mono" }, `code ${d.feishu_code}${d.feishu_log_id ? ` · log ${d.feishu_log_id}` : ""}`) : null),
            h("td", {}, d.status === "failed"
              ? h("button", { type: "button", class: "small", dataset: { retry: d.id }, onclick: () => retry(d.id) }, t("retry"))
              : null))))));
    } catch (err) {
      replace(table, h("div", { class: "notice error", role: "alert" }, err.message));
    }
  }
  await load();
}
