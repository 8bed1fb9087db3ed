// Who is signed in, which workspaces they belong to, and which one the console is showing.

import { get, setCsrfToken } from "./api.js";

const WORKSPACE_KEY = "modelyard.workspace";

export const session = { account: null, workspaces: [] };

/** Load the signed-in account from /auth/me; false when nobody is signed in. */
export async function loadSession() {
  try {
    const me = await get("/auth/me");
    remember(me);
    return true;
  } catch (error) {
    if (error.status === 401) {
      forget();
      return false;
    }
    throw error;
  }
}

export function remember({ account, workspaces, csrf_token: csrfToken }) {
  session.account = account ?? session.account;
  if (workspaces) session.workspaces = workspaces;
  if (csrfToken) setCsrfToken(csrfToken);
}

export function forget() {
  session.account = null;
  session.workspaces = [];
  setCsrfToken(null);
}

export function workspace() {
  const stored = localStorage.getItem(WORKSPACE_KEY);
  return session.workspaces.find((w) => w.id === stored) ?? session.workspaces[0] ?? null;
}

export function chooseWorkspace(id) {
  localStorage.setItem(WORKSPACE_KEY, id);
}

/** `/workspaces/{id}` + path, for the workspace on screen. */
export function wsPath(path = "") {
  const current = workspace();
  if (!current) throw new Error("no workspace");
  return `/workspaces/${encodeURIComponent(current.id)}${path}`;
}

/** Owners and admins change credentials, keys and members; members only read. */
export function canManage() {
  return ["owner", "admin"].includes(workspace()?.role);
}
