// Custom models of a "customizable-model" provider: each has its own credentials, from model_credential_schema.

import { del, get, patch, post } from "../api.js";
import { h, replace } from "../dom.js";
import {
  form,
  formError,
  schemaFields,
  selectField,
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
import {
  MODEL_TYPE_TEXT,
  act,
  button,
  confirmDialog,
  empty,
  failed,
  loading,
  modelTypeChip,
  panel,
  statusPill,
  toast,
  when,
} from "../ui.js";

export function customModelsPanel(provider, onChange) {
  const list = h("div", { class: "rows", id: "custom-model-list" }, loading());
  const schema = provider.model_credential_schema ?? [];
  const base = wsPath(`/providers/${encodeURIComponent(provider.id)}/custom-models`);

  const refresh = async () => {
    try {
      const models = await get(base);
      replace(
        list,
        models.length ? models.map((m) => customModelRow(m, schema, changed)) : empty("No custom models yet."),
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

  const intro = h(
    "p",
    { class: "lede" },
    tr("Models you declare yourself, each with its own endpoint and credentials."),
  );
  return panel("Custom models", intro, list, canManage() ? addCustomModelForm(provider, schema, base, changed) : null);
}

function customModelRow(model, schema, changed) {
  const row = h(
    "div",
    { class: "row", dataset: { customModel: model.id, model: model.model } },
    h(
      "div",
      { class: "grow" },
      h(
        "div",
        { class: "chips" },
        h("strong", { class: "mono" }, model.model),
        modelTypeChip(model.model_type),
        statusPill(model.status),
      ),
      model.status === "failing" && model.last_error
        ? h("p", { class: "error-text", role: "alert" }, tr(lastErrorText(model)))
        : null,
      valuesSummary(schema, model.values),
      h("p", { class: "meta" }, tr("Last checked"), ": ", when(model.checked_at)),
    ),
  );
  if (!canManage()) return row;
  const path = wsPath(`/custom-models/${encodeURIComponent(model.id)}`);
  row.append(
    h(
      "div",
      { class: "form-actions" },
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
          row.append(editCustomModelForm(model, schema, path, changed));
          row.querySelector(".edit input:not([type=hidden])")?.focus();
        },
        { small: true },
      ),
      button(
        "Delete",
        async (_event, self) => {
          if (!(await confirmDialog("Delete the custom model {name}?", { params: { name: model.model } }))) return;
          if (await act(self, row, () => del(path))) await changed();
        },
        { small: true, kind: "danger" },
      ),
    ),
  );
  return row;
}

function addCustomModelForm(provider, schema, base, changed) {
  const slot = h("div", {});
  const kinds = provider.custom_model_types?.length ? provider.custom_model_types : provider.supported_model_types;
  const types = kinds.map((type) => ({ value: type, label: MODEL_TYPE_TEXT[type] ?? type }));
  const build = () => {
    const fields = schemaFields(schema, { context: { __model_type: types[0]?.value } });
    return form(
      {
        className: "add-custom-model",
        label: "Add a custom model",
        onSubmit: async (self) => {
          if (!valueOf(self, "model")) {
            throw { field: "model", message: text("{label} is required", { label: text("Model name") }) };
          }
          if (!fields.check()) return;
          const created = await whileValidating(self, (validate) =>
            post(base, {
              model: valueOf(self, "model"),
              model_type: valueOf(self, "model_type"),
              values: fields.collect(),
              validate,
            }),
          );
          toast(text("Added {name}", { name: created.model }));
          replace(slot, build());
          await changed();
        },
      },
      h("h3", {}, tr("Add a custom model")),
      h(
        "div",
        { class: "form-grid" },
        textField({ name: "model", label: "Model name", required: true, placeholder: "e.g. llama-3.1-8b-instruct" }),
        selectField({
          name: "model_type",
          label: "Model type",
          options: types,
          value: types[0]?.value,
          required: true,
          onChange: (type) => fields.setContext({ __model_type: type }), // fields that apply to this type only
        }),
      ),
      fields.element,
      validateSwitch(),
      validatingNotice(),
      formError(),
      h("div", { class: "form-actions" }, button("Add model", null, { kind: "primary", type: "submit" })),
    );
  };
  slot.append(build());
  return slot;
}

/** Change a custom model's credentials and settings; a secret left as its mask keeps the stored one. */
function editCustomModelForm(model, schema, path, changed) {
  const fields = schemaFields(schema, { values: model.values, editing: true, context: { __model_type: model.model_type } });
  return form(
    {
      className: "edit",
      label: "Edit the custom model",
      onSubmit: async (self) => {
        if (!fields.check()) return;
        await whileValidating(self, (validate) => patch(path, { values: fields.collect(), validate }));
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
}
