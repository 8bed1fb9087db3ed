// Hash routing: `#/providers/deepseek?tab=x` is the route "providers" with params ["deepseek"] and a query.

const routes = new Map();

/** Register a view: `render(context)` returns (or resolves to) the node to show in <main>. */
export function route(name, render, { title, public: isPublic = false } = {}) {
  routes.set(name, { name, render, title, isPublic });
}

export function parse(hash = location.hash) {
  const [path, search = ""] = hash.replace(/^#\/?/, "").split("?");
  const [name = "", ...params] = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name, params, query: new URLSearchParams(search) };
}

export function lookup(name) {
  return routes.get(name) ?? null;
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

/** Re-render the current route (after a workspace switch). */
export function reload() {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}
