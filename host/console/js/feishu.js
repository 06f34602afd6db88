// The Feishu tab: the seed manual's settings form, Save Settings and Test Connection, plus the
// fields the manual leaves out (domain, Encrypt Key, Verification Token, the callback URL).

import { api, ApiError } from "./api.js";
import { h, replace } from "./dom.js";
import { t, label } from "./i18n.js";

const SETTINGS = "/api/v1/admin/feishu/settings";
const DOMAINS = [
  ["feishu", "https://open.feishu.cn"],
  ["lark", "https://open.larksuite.com"],
];
const SWITCHES = ["notify_on_pr", "notify_on_approval", "notify_on_po", "notify_on_payment", "notify_on_contract_expiry",
  "notify_on_notice", "notify_on_digest"];
const SECRETS = ["app_secret", "encrypt_key", "verification_token"];

function field(name, labelText, input, help) {
  return h("div", { class: "field" },
    h("label", { for: `f-${name}` }, labelText),
    input,
    help ? h("p", { class: "help" }, help) : null);
}

function toggle(name, checked) {
  return h("label", { class: "switch" },
    h("input", { type: "checkbox", id: `f-${name}`, name, checked: !!checked }),
    h("span", {}, t(name)));
}

function secretInput(name, settings) {
  const mask = settings[`${name}_masked`];
  return field(name, t(name),
    h("input", { type: "password", id: `f-${name}`, name, autocomplete: "off", value: "",
      placeholder: mask || t("secret_unset") }),
    mask ? t("secret_saved", { mask }) : null);
}

function domainOf(baseUrl) {
  const found = DOMAINS.find(([, url]) => url === (baseUrl || "").replace(/\/+$/, ""));
  return found ? found[0] : "custom";
}

function callbackUrl(plugins) {
  const feishu = (plugins || []).find((p) => p.id === "feishu" && p.active);
  const route = feishu && (feishu.webhook_routes || [])[0];
  const path = route ? route[1] : "/api/v1/feishu/webhook";
  return `${location.origin}${path}`;
}

/** The fields whose value differs from what was loaded: a PUT changes only those. */
function changes(form, loaded) {
  const body = {};
  const value = (name) => form.elements[name];
  const enabled = value("enabled").checked;
  if (enabled !== loaded.enabled) body.enabled = enabled;
  for (const name of [...SWITCHES, "payment_workflow"]) {
    if (value(name).checked !== loaded[name]) body[name] = value(name).checked;
  }
  for (const name of ["app_id", "approval_code"]) {
    if (value(name).value !== (loaded[name] ?? "")) body[name] = value(name).value;
  }
  const domain = value("domain").value;
  const baseUrl = domain === "custom" ? value("base_url").value : DOMAINS.find(([d]) => d === domain)[1];
  if (baseUrl !== (loaded.base_url ?? "")) body.base_url = baseUrl;
  for (const name of SECRETS) {
    // An empty secret box means "keep the saved one" (Mica's rule too).
    if (value(name).value !== "") body[name] = value(name).value;
  }
  return body;
}

function notice(kind, ...lines) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    lines.flat().map((line) => h("p", {}, line)));
}

function checksList(checks) {
  return h("ul", { class: "checks", id: "checks" }, checks.map((c) =>
    h("li", { class: c.ok ? "check ok" : "check failed", dataset: { check: c.name } },
      h("span", { class: "check-mark", "aria-hidden": "true" }, c.ok ? "✓" : "✗"),
      h("span", { class: "check-name" }, label("check_", c.name)),
      h("span", { class: "check-detail" }, c.detail))));
}

function formView(settings, plugins, onSaved) {
  const domain = domainOf(settings.base_url);
  const baseUrl = h("input", { type: "url", id: "f-base_url", name: "base_url", value: settings.base_url ?? "" });
  const baseUrlField = field("base_url", t("base_url"), baseUrl);
  baseUrlField.hidden = domain !== "custom";
  const domainSelect = h("select", { id: "f-domain", name: "domain",
    onchange: (e) => { baseUrlField.hidden = e.target.value !== "custom"; } },
    [...DOMAINS.map(([d]) => d), "custom"].map((d) =>
      h("option", { value: d, selected: d === domain }, t(`domain_${d}`))));
  const url = callbackUrl(plugins);
  const copyButton = h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      await navigator.clipboard.writeText(url);
      copyButton.textContent = t("copied");
    } catch {
      document.getElementById("f-callback_url").select();
    }
  } }, t("copy"));
  const status = h("div", { id: "form-status" });
  const testResult = h("div", { id: "test-result" });
  const saveButton = h("button", { type: "submit", id: "save" }, t("save"));
  const testButton = h("button", { type: "button", id: "test", class: "secondary" }, t("test"));

  const form = h("form", { id: "feishu-form", novalidate: true },
    h("section", { class: "panel" },
      h("h2", {}, t("section_credentials")),
      toggle("enabled", settings.enabled),
      field("domain", t("domain"), domainSelect),
      baseUrlField,
      field("app_id", t("app_id"), h("input", { type: "text", id: "f-app_id", name: "app_id",
        value: settings.app_id ?? "", placeholder: "cli_a1b2c3d4e5f6a7b8", autocomplete: "off", spellcheck: "false" }),
      t("app_id_help")),
      secretInput("app_secret", settings)),
    h("section", { class: "panel" },
      h("h2", {}, t("section_notifications")),
      h("div", { class: "switches" }, SWITCHES.map((name) => toggle(name, settings[name])))),
    h("section", { class: "panel" },
      h("h2", {}, t("section_approvals")),
      toggle("payment_workflow", settings.payment_workflow),
      field("approval_code", t("approval_code"), h("input", { type: "text", id: "f-approval_code",
        name: "approval_code", value: settings.approval_code ?? "", autocomplete: "off", spellcheck: "false" }),
      t("approval_code_help"))),
    h("section", { class: "panel" },
      h("h2", {}, t("section_events")),
      field("callback_url", t("callback_url"),
        h("div", { class: "inline" },
          h("input", { type: "text", id: "f-callback_url", readonly: true, value: url }),
          copyButton),
        t("callback_help")),
      secretInput("encrypt_key", settings),
      secretInput("verification_token", settings)),
    h("div", { class: "actions" },
      saveButton,
      h("input", { type: "email", id: "f-test_email", name: "test_email", placeholder: t("test_email"),
        "aria-label": t("test_email") }),
      testButton),
    status,
    testResult);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = changes(form, settings);
    if (Object.keys(body).length === 0) {
      replace(status, notice("info", t("nothing_changed")));
      return;
    }
    saveButton.disabled = true;
    saveButton.textContent = t("saving");
    try {
      const saved = await api("PUT", SETTINGS, body);
      onSaved(saved, notice("success", t("saved"), saved.warnings || []));
    } catch (err) {
      replace(status, notice("error", err.message));
    } finally {
      saveButton.disabled = false;
      saveButton.textContent = t("save");
    }
  });

  testButton.addEventListener("click", async () => {
    testButton.disabled = true;
    testButton.textContent = t("testing");
    replace(testResult);
    const email = form.elements.test_email.value.trim();
    try {
      const result = await api("POST", "/api/v1/admin/feishu/test", email ? { test_recipient_email: email } : {});
      replace(testResult, notice("success", t("test_passed")), checksList(result.checks));
    } catch (err) {
      const checks = err instanceof ApiError && err.body && err.body.checks;
      if (checks) {
        const failed = checks.filter((c) => !c.ok).length;
        replace(testResult, notice("error", t("test_failed", { n: failed, total: checks.length })), checksList(checks));
      } else {
        replace(testResult, notice("error", err.message));
      }
    } finally {
      testButton.disabled = false;
      testButton.textContent = t("test");
    }
  });
  return form;
}

export async function feishuPage(root) {
  replace(root, h("p", {}, t("loading")));
  const [settings, plugins] = await Promise.all([api("GET", SETTINGS), api("GET", "/api/v1/admin/plugins")]);
  const show = (current, message) => {
    replace(root,
      h("h1", {}, t("feishu_title")),
      h("p", { class: "intro" }, t("feishu_intro")),
      formView(current, plugins.plugins, show));
    if (message) replace(document.getElementById("form-status"), message);
  };
  show(settings);
}
