// API keys for the gateway: create (the key is shown once, with a copy button) with an optional policy (allowed
// models, expiry, rate and concurrency limits, a budget), list with each key's limits and budget spend, edit a
// policy, revoke; and the limits of the workspace as a whole, which every call passes besides its key's.

import { del, get, patch, post } from "../api.js";
import { h, replace } from "../dom.js";
import { form, formError, textField, valueOf } from "../forms.js";
import { text, tr } from "../i18n.js";
import { budgetBar, limitsSummary, policyFields } from "../policy.js";
import { route } from "../router.js";
import { canManage, wsPath } from "../session.js";
import {
  act,
  badge,
  button,
  confirmDialog,
  copyText,
  dialog,
  empty,
  failed,
  loading,
  pageHead,
  panel,
  table,
  toast,
  when,
} from "../ui.js";

function showOnce(created) {
  return dialog((close) => {
    const input = h("input", {
      type: "text",
      readonly: true,
      value: created.key,
      id: "new-api-key",
      "aria-describedby": "new-api-key-note",
    });
    const copied = h("span", { class: "muted", role: "status" });
    const copy = button("Copy", async () => {
      copied.textContent = (await copyText(created.key, input)) ? text("Copied") : text("Select the key and copy it");
    });
    return [
      h("h2", {}, tr("Your new API key")),
      h("p", { id: "new-api-key-note" }, tr("Copy it now: it is shown only once and cannot be recovered.")),
      h("div", { class: "secret-once" }, input, copy),
      copied,
      h(
        "div",
        { class: "form-actions dialog-actions" },
        button("Done", () => close(), { kind: "primary" }),
      ),
    ];
  });
}

/** Edit a key's policy in a dialog; resolves true once saved. */
function editPolicy(key) {
  return dialog((close) => {
    const fields = policyFields(key, { editing: true });
    const edit = form(
      {
        className: "edit-policy",
        label: "Key policy",
        onSubmit: async (self) => {
          await patch(wsPath(`/api-keys/${encodeURIComponent(key.id)}`), fields.collect());
          toast(text("Saved the policy of {name}", { name: key.name }));
          close(true);
        },
      },
      fields.element,
      formError(),
      h(
        "div",
        { class: "form-actions dialog-actions" },
        button("Save policy", null, { kind: "primary", type: "submit" }),
        button("Cancel", () => close(false)),
      ),
    );
    return [h("h2", {}, tr("Policy of {name}", { name: key.name })), edit];
  });
}

function modelsCell(key) {
  if (!key.allowed_models) return tr("every model");
  return h(
    "div",
    { class: "allowed-models" },
    key.allowed_models.map((model) => h("code", {}, model)),
  );
}

function expiryCell(key) {
  if (!key.expires_at) return tr("no expiry");
  return h(
    "span",
    {},
    when(key.expires_at),
    key.is_expired ? [" ", h("span", { class: "pill disabled", dataset: { status: "expired" } }, tr("Expired"))] : null,
  );
}

function keyRow(key, refresh) {
  const revoked = Boolean(key.revoked_at);
  const row = h("tr", { class: revoked ? "revoked" : "", dataset: { key: key.id, name: key.name } });
  const actions = revoked
    ? h("span", { class: "pill disabled", dataset: { status: "revoked" } }, tr("Revoked"))
    : h(
        "div",
        { class: "form-actions" },
        button(
          "Edit policy",
          async () => {
            if (await editPolicy(key)) await refresh();
          },
          { small: true },
        ),
        button(
          "Revoke",
          async (_event, self) => {
            if (
              !(await confirmDialog("Revoke the key {name}? Programs using it stop working.", {
                confirm: "Revoke",
                params: { name: key.name },
              }))
            )
              return;
            if (await act(self, row.lastChild, () => del(wsPath(`/api-keys/${encodeURIComponent(key.id)}`))))
              await refresh();
          },
          { small: true, kind: "danger" },
        ),
      );
  const limits = h(
    "div",
    { class: "limits" },
    limitsSummary(key),
    key.strict_params ? [" ", badge(tr("strict parameters"), "muted")] : null,
  );
  for (const cell of [
    h("strong", {}, key.name),
    h("code", {}, `${key.prefix}…`),
    modelsCell(key),
    limits,
    budgetBar(key.budget),
    expiryCell(key),
    when(key.last_used_at),
    actions,
  ]) {
    row.append(h("td", {}, cell));
  }
  row.lastChild.className = "actions";
  return row;
}

function createForm(refresh) {
  const fields = policyFields({}, { editing: false });
  const policy = h(
    "details",
    { class: "fold policy" },
    h("summary", {}, tr("Policy (optional): models, expiry, limits, budget")),
    fields.element,
  );
  return form(
    {
      className: "create-key",
      label: "Create an API key",
      onSubmit: async (self) => {
        const created = await post(wsPath("/api-keys"), { name: valueOf(self, "name"), ...fields.collect() });
        self.reset();
        policy.open = false;
        await refresh();
        await showOnce(created);
      },
    },
    h(
      "div",
      { class: "form-grid" },
      textField({ name: "name", label: "Key name", required: true, placeholder: "e.g. backend service" }),
    ),
    policy,
    formError(),
    h("div", { class: "form-actions" }, button("Create key", null, { kind: "primary", type: "submit" })),
  );
}

async function workspaceLimits() {
  const holder = h("div", { id: "workspace-limits" }, loading());
  const show = async () => {
    const limits = await get(wsPath("/limits"));
    const fields = policyFields(limits, { forKey: false, editing: true });
    const edit = form(
      {
        className: "workspace-limits",
        label: "Workspace limits",
        onSubmit: async () => {
          await patch(wsPath("/limits"), fields.collect());
          toast(text("Saved the workspace limits"));
          await show();
        },
      },
      h("p", { class: "lede" }, tr("Every call passes these and its key's own.")),
      h("div", { class: "limits-now" }, limitsSummary(limits), budgetBar(limits.budget)),
      fields.element,
      formError(),
      h("div", { class: "form-actions" }, button("Save limits", null, { kind: "primary", type: "submit" })),
    );
    replace(holder, edit);
  };
  try {
    await show();
  } catch (error) {
    replace(holder, failed(error));
  }
  return holder;
}

async function keysPage() {
  if (!canManage())
    return h("div", {}, pageHead("API keys"), panel(null, empty("Only owners and admins manage API keys.")));
  const list = h("div", { id: "api-key-list" }, loading());
  const refresh = async () => {
    try {
      const keys = await get(wsPath("/api-keys"));
      const rows = keys.map((key) => keyRow(key, refresh));
      replace(
        list,
        keys.length
          ? table(["Name", "Key", "Models", "Limits", "Budget", "Expires", "Last used", ""], rows)
          : empty("No API keys yet."),
      );
    } catch (error) {
      replace(list, failed(error));
    }
  };
  refresh();
  return h(
    "div",
    {},
    pageHead("API keys", "Programs call the gateway (/v1) with these keys, as Bearer tokens."),
    panel("Create a key", createForm(refresh)),
    panel("Keys", list),
    panel("Workspace limits", await workspaceLimits()),
  );
}

route("keys", keysPage, { title: "API keys" });
