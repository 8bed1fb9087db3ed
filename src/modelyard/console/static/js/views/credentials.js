// A provider's named credentials: list with status (verified / failing with the error), switch the active one,
// re-validate, edit, delete, and a form generated from the provider's credential schema to add another.

import { del, get, patch, post } from "../api.js";
import { h, replace } from "../dom.js";
import {
  form,
  formError,
  schemaFields,
  textField,
  validateSwitch,
  validatingNotice,
  valueOf,
  valuesSummary,
  whileValidating,
} from "../forms.js";
import { text, tr } from "../i18n.js";
import { lastErrorText } from "../messages.js";
import { canManage, wsPath } from "../session.js";
import { act, badge, button, confirmDialog, empty, failed, loading, panel, statusPill, toast, when } from "../ui.js";

export function credentialsPanel(provider, onChange) {
  const list = h("div", { class: "rows", id: "credential-list" }, loading());
  const schema = provider.credential_schema ?? [];

  const refresh = async () => {
    try {
      const credentials = await get(wsPath(`/providers/${encodeURIComponent(provider.id)}/credentials`));
      replace(
        list,
        credentials.length ? credentials.map((c) => credentialRow(c, schema, changed)) : empty("No credentials yet."),
      );
    } catch (error) {
      replace(list, failed(error));
    }
  };
  const changed = async () => {
    await refresh();
    onChange?.();
  };
  refresh();

  const intro = h("p", { class: "lede" }, tr("Several named credentials may be stored; calls use the active one."));
  const adding = canManage() ? addCredentialForm(provider, schema, changed) : null;
  return panel("Credentials", intro, list, adding);
}

function credentialRow(credential, schema, changed) {
  const row = h(
    "div",
    {
      class: `row${credential.is_active ? " active" : ""}`,
      dataset: { credential: credential.id, name: credential.name },
    },
    h(
      "div",
      { class: "grow" },
      h(
        "div",
        { class: "chips" },
        h("strong", {}, credential.name),
        credential.is_active ? badge(tr("Active")) : null,
        statusPill(credential.status),
      ),
      credential.status === "failing" && credential.last_error
        ? h("p", { class: "error-text", role: "alert" }, tr(lastErrorText(credential)))
        : null,
      valuesSummary(schema, credential.values),
      h("p", { class: "meta" }, tr("Last checked"), ": ", when(credential.checked_at)),
    ),
  );
  if (!canManage()) return row;

  const path = wsPath(`/credentials/${encodeURIComponent(credential.id)}`);
  const actions = h("div", { class: "form-actions" });
  if (!credential.is_active) {
    actions.append(
      button(
        "Use this one",
        async (_event, self) => {
          if (await act(self, row, () => post(`${path}/activate`))) await changed();
        },
        { small: true },
      ),
    );
  }
  actions.append(
    button(
      "Validate",
      async (_event, self) => {
        if (await act(self, row, () => post(`${path}/validate`))) await changed();
      },
      { small: true },
    ),
    button(
      "Edit",
      () => {
        const open = row.querySelector(".edit");
        if (open) return open.remove();
        row.append(editCredentialForm(credential, schema, path, changed));
        row.querySelector(".edit input")?.focus();
      },
      { small: true },
    ),
    button(
      "Delete",
      async (_event, self) => {
        if (!(await confirmDialog("Delete the credential {name}?", { params: { name: credential.name } }))) return;
        if (await act(self, row, () => del(path))) await changed();
      },
      { small: true, kind: "danger" },
    ),
  );
  row.append(actions);
  return row;
}

function addCredentialForm(provider, schema, changed) {
  const slot = h("div", {});
  const build = () => {
    const fields = schemaFields(schema);
    fields.element.prepend(
      textField({
        name: "name",
        label: "Name",
        placeholder: "e.g. Production key",
        help: "Tells several credentials apart.",
      }),
    );
    const element = form(
      {
        className: "add-credential",
        label: "Add credentials",
        onSubmit: async (self) => {
          if (!fields.check()) return;
          const created = await whileValidating(self, (validate) =>
            post(wsPath(`/providers/${encodeURIComponent(provider.id)}/credentials`), {
              name: valueOf(self, "name") || undefined,
              values: fields.collect(),
              validate,
            }),
          );
          toast(text("Saved {name}: {status}", { name: created.name, status: text(created.status) }));
          replace(slot, build());
          await changed();
        },
      },
      h("h3", {}, tr("Add credentials")),
      fields.element,
      validateSwitch(),
      validatingNotice(),
      formError(),
      h("div", { class: "form-actions" }, button("Save", null, { kind: "primary", type: "submit" })),
    );
    return element;
  };
  slot.append(build());
  return slot;
}

function editCredentialForm(credential, schema, path, changed) {
  const fields = schemaFields(schema, { values: credential.values, editing: true });
  fields.element.prepend(textField({ name: "name", label: "Name", value: credential.name, required: true }));
  const element = form(
    {
      className: "edit",
      label: "Edit credentials",
      onSubmit: async (self) => {
        if (!fields.check()) return;
        await whileValidating(self, (validate) =>
          patch(path, { name: valueOf(self, "name"), values: fields.collect(), validate }),
        );
        await changed();
      },
    },
    fields.element,
    h("p", { class: "help" }, tr("A secret left as ************ keeps its stored value.")),
    validateSwitch(),
    validatingNotice(),
    formError(),
    h(
      "div",
      { class: "form-actions" },
      button("Save changes", null, { kind: "primary", type: "submit" }),
      button("Cancel", (_event, self) => self.closest("form").remove()),
    ),
  );
  return element;
}
