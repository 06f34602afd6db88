// Installed plugin versions: which is active, upload a new one, activate or roll back.

import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

export async function pluginsPage(root) {
  const message = h("div", { id: "plugins-status" });
  const table = h("div", { id: "plugins" });
  const file = h("input", { type: "file", id: "plugin-file", accept: ".wasm,application/wasm" });
  const activateAfter = h("input", { type: "checkbox", id: "plugin-activate" });
  const uploadForm = h("form", { class: "panel upload", onsubmit: upload },
    h("label", { for: "plugin-file" }, t("upload")), file,
    h("label", { class: "switch" }, activateAfter, h("span", {}, t("upload_activate"))),
    h("button", { type: "submit" }, t("upload_submit")));
  replace(root,
    h("h1", {}, t("plugins_title")),
    h("p", { class: "intro" }, t("plugins_intro")),
    message, table, uploadForm);

  const say = (kind, text) =>
    replace(message, h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text));

  async function act(path, body, done, contentType = "application/json") {
    try {
      const result = await api("POST", path, body, contentType);
      say("success", done(result));
    } catch (err) {
      say("error", err.message);
    }
    await load();
  }

  async function upload(e) {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    // The host compiles the component before it answers: say so, and take no second click.
    const submit = uploadForm.querySelector("button[type=submit]");
    submit.disabled = true;
    say("info", t("installing", { name: chosen.name }));
    try {
      const bytes = await chosen.arrayBuffer();
      const path = `/api/v1/admin/plugins${activateAfter.checked ? "?activate=true" : ""}`;
      await act(path, bytes, (r) => t(r.active ? "activated" : "installed", r), "application/wasm");
      file.value = "";
    } finally {
      submit.disabled = false;
    }
  }

  async function load() {
    try {
      const { plugins } = await api("GET", "/api/v1/admin/plugins");
      replace(table, h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ["col_plugin", "col_version", "col_worlds", "col_installed", "col_digest", "col_actions"]
          .map((c) => h("th", {}, t(c))))),
        h("tbody", {}, plugins.map((p) =>
          h("tr", { dataset: { plugin: p.id, version: p.version, active: String(p.active) } },
            h("td", {}, p.id),
            h("td", {}, p.version, p.active ? h("span", { class: "badge status-sent" }, t("active")) : null),
            h("td", {}, (p.worlds || []).join(", ")),
            h("td", {}, new Date(p.installed_at).toLocaleString()),
            h("td", { class: "mono muted" }, (p.digest || "").slice(0, 12)),
            h("td", {}, p.active
              ? h("button", { type: "button", class: "small secondary",
                  onclick: () => act(`/api/v1/admin/plugins/${encodeURIComponent(p.id)}/rollback`, undefined,
                    (r) => t("rolled_back", r)) }, t("rollback"))
              : h("button", { type: "button", class: "small",
                  onclick: () => act(`/api/v1/admin/plugins/${encodeURIComponent(p.id)}/activate`, { version: p.version },
                    (r) => t("activated", r)) }, t("activate"))))))));
    } catch (err) {
      replace(table, h("div", { class: "notice error", role: "alert" }, err.message));
    }
  }
  await load();
}
