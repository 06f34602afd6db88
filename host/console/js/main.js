// The console's shell: sign-in with the admin token, the top bar, and a page per URL hash.

import { api, setToken, token, ApiError } from "./api.js";
import { h, replace } from "./dom.js";
import { LOCALES, locale, setLocale, t } from "./i18n.js";
import { feishuPage } from "./feishu.js";
import { previewPage } from "./preview.js";
import { deliveriesPage } from "./deliveries.js";
import { pluginsPage } from "./plugins.js";
import { identitiesPage } from "./identities.js";

const PAGES = {
  feishu: feishuPage,
  preview: previewPage,
  deliveries: deliveriesPage,
  plugins: pluginsPage,
  identities: identitiesPage,
};

const app = document.getElementById("app");

function currentPage() {
  const name = location.hash.replace(/^#\/?/, "");
  return name in PAGES ? name : "feishu";
}

function languagePicker() {
  return h("select", { id: "language", "aria-label": t("language"), onchange: (e) => { setLocale(e.target.value); render(); } },
    LOCALES.map((l) => h("option", { value: l, selected: l === locale() }, l === "zh-CN" ? "中文" : "English")));
}

function loginView(problem) {
  const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "current-password", required: true });
  const form = h("form", { id: "login", class: "panel login", onsubmit: async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    try {
      await api("GET", "/api/v1/admin/plugins");
      render();
    } catch (err) {
      setToken(null);
      loginView(err instanceof ApiError && err.status === 401 ? t("login_refused") : err.message);
    }
  } },
  h("h1", {}, t("login_title")),
  h("p", { class: "help" }, t("login_help")),
  h("label", { for: "token" }, t("login_token")),
  input,
  problem ? h("div", { class: "notice error", role: "alert" }, problem) : null,
  h("button", { type: "submit" }, t("login_submit")));
  replace(app,
    h("header", { class: "topbar" }, h("span", { class: "brand" }, t("app_title")), h("span", { class: "spacer" }), languagePicker()),
    h("main", {}, form));
  input.focus();
}

async function render() {
  document.documentElement.lang = locale();
  document.title = t("app_title");
  if (!token()) {
    loginView();
    return;
  }
  const page = currentPage();
  const main = h("main", { id: "page", dataset: { page } });
  replace(app,
    h("header", { class: "topbar" },
      h("span", { class: "brand" }, t("app_title")),
      h("nav", {}, Object.keys(PAGES).map((name) =>
        h("a", { href: `#/${name}`, class: name === page ? "current" : null, "aria-current": name === page ? "page" : null }, t(`nav_${name}`)))),
      h("span", { class: "spacer" }),
      languagePicker(),
      h("button", { type: "button", id: "logout", class: "secondary small", onclick: () => { setToken(null); render(); } }, t("logout"))),
    main);
  try {
    await PAGES[page](main);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      setToken(null);
      loginView(t("login_refused"));
      return;
    }
    replace(main, h("div", { class: "notice error", role: "alert" }, `${t("error")}: ${err.message}`));
  }
}

window.addEventListener("hashchange", render);
render();
