// Entry point: decide between setup, sign-in and the console, then render the route in the hash.

import { get, whenUnauthorized } from "./api.js";
import { h, replace } from "./dom.js";
import { text, tr, translate } from "./i18n.js";
import { go, lookup, parse } from "./router.js";
import { forget, loadSession, session, workspace } from "./session.js";
import { dropShell, shell } from "./shell.js";
import { failed, loading } from "./ui.js";
import "./views/auth.js";
import "./views/providers.js";
import "./views/models.js";
import "./views/defaults.js";
import "./views/aliases.js";
import "./views/keys.js";
import "./views/members.js";
import "./views/usage.js";
import "./views/playground.js";
import { noWorkspace } from "./views/workspaces.js";

const HOME = "#/providers";
let rendering = 0; // each render takes a number; an older one that finishes late is dropped

/** What an unknown address shows: it says so, and leads back, instead of silently sending the user elsewhere. */
function notFound(hash) {
  return h(
    "div",
    { class: "not-found", dataset: { view: "not-found" } },
    h("h1", {}, tr("Page not found")),
    h("p", { class: "lede" }, tr("There is no page at {address}.", { address: hash })),
    translate(h("a", { class: "button", href: HOME }), "Go to Model Providers"),
  );
}

async function setupNeeded() {
  try {
    return (await get("/auth/setup")).needed === true;
  } catch {
    return false; // an older server without setup: go on to sign-in
  }
}

async function render() {
  const ticket = ++rendering;
  const here = parse();
  const view = lookup(here.name);
  if (!view && (!session.account || here.name === "")) return go(session.account ? HOME : "#/login");
  if (!view) {
    if (ticket === rendering) replace(shell(null), notFound(location.hash));
    document.title = `${text("Page not found")} · modelyard`;
    return;
  }
  if (view.isPublic) {
    dropShell();
    const page = await view.render(here);
    if (ticket === rendering) replace(document.getElementById("app"), page);
    return;
  }
  if (!session.account) return go("#/login");
  const main = shell(here.name);
  if (!workspace()) return replace(main, noWorkspace());
  replace(main, loading());
  try {
    const page = await view.render(here);
    if (ticket === rendering) replace(main, page);
  } catch (error) {
    if (ticket === rendering) replace(main, failed(error));
  }
  if (ticket === rendering) document.title = `${view.title ?? "modelyard"} · modelyard`;
}

async function boot() {
  whenUnauthorized(() => {
    forget();
    dropShell();
    go("#/login");
  });
  window.addEventListener("hashchange", render);
  try {
    if (await setupNeeded()) {
      if (parse().name !== "setup") return go("#/setup");
    } else if (await loadSession()) {
      if (["login", "setup", ""].includes(parse().name)) return go(HOME);
    } else if (parse().name !== "login") {
      return go("#/login");
    }
    await render();
  } catch (error) {
    replace(
      document.getElementById("app"),
      h("div", { class: "auth" }, h("div", { class: "panel" }, h("h1", {}, tr("Console unavailable")), failed(error))),
    );
  }
}

boot();
