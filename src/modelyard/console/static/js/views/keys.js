// API keys for the gateway: create (the key is shown once, with a copy button), list, revoke.

import { del, get, post } from "../api.js";
import { h, replace } from "../dom.js";
import { form, formError, textField, valueOf } from "../forms.js";
import { text, tr } from "../i18n.js";
import { route } from "../router.js";
import { canManage, wsPath } from "../session.js";
import {
  act,
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

function keyRow(key, refresh) {
  const revoked = Boolean(key.revoked_at);
  const row = h("tr", { class: revoked ? "revoked" : "", dataset: { key: key.id, name: key.name } });
  const revoke = revoked
    ? h("span", { class: "pill disabled", dataset: { status: "revoked" } }, tr("Revoked"))
    : button(
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
      );
  for (const cell of [
    h("strong", {}, key.name),
    h("code", {}, `${key.prefix}…`),
    when(key.created_at),
    when(key.last_used_at),
    revoke,
  ]) {
    row.append(h("td", {}, cell));
  }
  row.lastChild.className = "actions";
  return row;
}

async function keysPage() {
  if (!canManage())
    return h("div", {}, pageHead("API keys"), panel(null, empty("Only owners and admins manage API keys.")));
  const list = h("div", { id: "api-key-list" }, loading());
  const refresh = async () => {
    try {
      const keys = await get(wsPath("/api-keys"));
      const rows = keys.map((key) => keyRow(key, refresh));
      replace(list, keys.length ? table(["Name", "Key", "Created", "Last used", ""], rows) : empty("No API keys yet."));
    } catch (error) {
      replace(list, failed(error));
    }
  };
  refresh();
  const create = form(
    {
      className: "create-key",
      label: "Create an API key",
      onSubmit: async (self) => {
        const created = await post(wsPath("/api-keys"), { name: valueOf(self, "name") });
        self.reset();
        await refresh();
        await showOnce(created);
      },
    },
    h(
      "div",
      { class: "form-grid" },
      textField({ name: "name", label: "Key name", required: true, placeholder: "e.g. backend service" }),
    ),
    formError(),
    h("div", { class: "form-actions" }, button("Create key", null, { kind: "primary", type: "submit" })),
  );
  return h(
    "div",
    {},
    pageHead("API keys", "Programs call the gateway (/v1) with these keys, as Bearer tokens."),
    panel("Create a key", create),
    panel("Keys", list),
  );
}

route("keys", keysPage, { title: "API keys" });
