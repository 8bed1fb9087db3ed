// The frame around every signed-in page: top bar (workspace switcher, language, account) and the settings nav.

import { post } from "./api.js";
import { h, replace } from "./dom.js";
import { lang, setLang, translate, translateAttribute, tr } from "./i18n.js";
import { go, reload } from "./router.js";
import { chooseWorkspace, forget, session, workspace } from "./session.js";
import { button } from "./ui.js";
import { newWorkspaceButton } from "./views/workspaces.js";

export const NAV = [
  ["providers", "Model Providers"],
  ["models", "Models"],
  ["defaults", "Default models"],
  ["aliases", "Model aliases"],
  ["keys", "API keys"],
  ["members", "Members"],
  ["usage", "Usage & quota"],
  ["playground", "Playground"],
];

/** The language switch: a button naming the other language, as language pickers do. */
export function languageToggle() {
  const toggle = h("button", { type: "button", class: "small", dataset: { action: "language" } });
  const label = () => {
    toggle.textContent = lang() === "zh_Hans" ? "English" : "中文";
    toggle.setAttribute("lang", lang() === "zh_Hans" ? "en" : "zh-Hans");
  };
  translateAttribute(toggle, "aria-label", "Switch language");
  toggle.addEventListener("click", () => {
    setLang(lang() === "zh_Hans" ? "en_US" : "zh_Hans");
    label();
  });
  label();
  return toggle;
}

function workspaceSwitcher() {
  const select = h(
    "select",
    { id: "workspace-switcher", class: "compact" },
    session.workspaces.map((w) => h("option", { value: w.id }, w.name)),
  );
  select.value = workspace()?.id ?? "";
  select.addEventListener("change", () => {
    chooseWorkspace(select.value);
    reload();
  });
  const create = newWorkspaceButton();
  translateAttribute(create, "aria-label", "New workspace");
  return [h("label", { for: "workspace-switcher" }, tr("Workspace")), " ", select, " ", create];
}

async function signOut() {
  try {
    await post("/auth/logout");
  } finally {
    forget();
    go("#/login");
  }
}

/** Build the frame into #app and return its <main>, or reuse the one on screen. */
export function shell(routeName) {
  let main = document.querySelector("main#content");
  if (!main) {
    main = h("main", { id: "content", tabindex: "-1" });
    const nav = h(
      "nav",
      { class: "sidenav" },
      h("h2", {}, tr("Settings")),
      h(
        "ul",
        {},
        NAV.map(([name, label]) =>
          h("li", {}, translate(h("a", { href: `#/${name}`, dataset: { nav: name } }), label)),
        ),
      ),
    );
    translateAttribute(nav, "aria-label", "Settings");
    const top = h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: "#/providers" }, "model", h("span", {}, "yard")),
      h("div", { class: "workspace" }, workspaceSwitcher()),
      h("div", { class: "spacer" }),
      languageToggle(),
      h("span", { class: "account" }, session.account?.email ?? ""),
      button("Sign out", signOut, { small: true }),
    );
    replace(document.getElementById("app"), top, h("div", { class: "shell" }, nav, main));
  }
  for (const link of document.querySelectorAll(".sidenav a")) {
    if (link.dataset.nav === routeName) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  return main;
}

/** Forget the frame, so the next page rebuilds it (after sign-in, or when the workspaces changed). */
export function dropShell() {
  document.querySelector("main#content")?.remove();
}
