// Load balancing for one model: entries with a weight, an enable switch and their live state (available,
// cooling down after failures, disabled), and a form to add an entry from a stored credential or new values.

import { del, get, patch, post, query } from "../api.js";
import { h, replace } from "../dom.js";
import {
  form,
  formError,
  schemaFields,
  textField,
  validateSwitch,
  validatingNotice,
  valueOf,
  whileValidating,
} from "../forms.js";
import { text, tr, translate, translateAttribute } from "../i18n.js";
import { lastErrorText } from "../messages.js";
import { canManage, wsPath } from "../session.js";
import { act, button, confirmDialog, empty, failed, loading, statusPill, switchInput, table, toast } from "../ui.js";

function liveState(entry) {
  if (entry.live_status === "cooling") {
    return statusPill("cooling", { seconds: Math.ceil(entry.cooldown_remaining_s ?? 0) });
  }
  return statusPill(entry.live_status ?? "available");
}

/** PATCH an entry; `show(entry)` gets the server's answer (its live state follows the switch), `revert` a failure. */
async function change(path, body, revert, show) {
  try {
    show?.(await patch(path, body));
  } catch (error) {
    revert?.();
    toast(error.message, { bad: true });
  }
}

/** How an entry is named: its own name, or, for the model's own credentials, which ones those are now. */
function entryName(entry, credentials) {
  if (!entry.is_inherit) return entry.name;
  const active = credentials.find((c) => c.id === entry.credential_id);
  return active ? text("Active credential: {name}", { name: active.name }) : text("This model's own credentials");
}

function entryRow(entry, credentials, refresh) {
  const path = wsPath(`/load-balancing/${encodeURIComponent(entry.id)}`);
  const name = entryName(entry, credentials);
  // The model's own credentials are listed before their entry exists (load balancing never switched on): shown,
  // and editable once the switch above makes it.
  const editable = canManage() && entry.id !== "";
  const weight = h("input", {
    type: "number",
    class: "compact weight",
    min: 1,
    max: 1000, // the API takes weights from 1 to 1000
    value: entry.weight,
    disabled: !editable,
  });
  translateAttribute(weight, "aria-label", "Weight of {name}", { name });
  const statusCell = h("td", {});
  const liveCell = h("td", {});
  const show = (answer) => {
    replace(statusCell, statusPill(answer.status), answer.last_error ? h("div", { class: "error-text sub" }, tr(lastErrorText(answer))) : null);
    replace(liveCell, liveState(answer));
  };
  weight.addEventListener("change", () =>
    change(path, { weight: Number(weight.value), validate: false }, () => (weight.value = entry.weight), show),
  );
  const enabled = switchInput({
    checked: entry.is_enabled,
    label: h("span", { class: "visually-hidden" }, tr("Enabled")),
    disabled: !editable,
    onChange: (checked, input) =>
      change(path, { enabled: checked, validate: false }, () => (input.checked = !checked), show),
  });
  translateAttribute(enabled.querySelector("input"), "aria-label", "Enable {name}", { name });
  let source;
  if (entry.is_inherit) source = tr("Always part of the rotation; follows the active credential");
  else if (entry.credential_id) {
    source = tr("Credential: {name}", {
      name: credentials.find((c) => c.id === entry.credential_id)?.name ?? entry.credential_id,
    });
  } else source = tr("Own values");
  const row = h("tr", { class: entry.is_inherit ? "inherit" : "", dataset: { entry: entry.id, name: entry.name } });
  const actions = [];
  if (editable) {
    actions.push(
      button(
        "Validate",
        async (_event, self) => {
          if (await act(self, row.lastChild, () => post(`${path}/validate`))) await refresh();
        },
        { small: true },
      ),
    );
  }
  if (editable && !entry.is_inherit) {
    actions.push(
      button(
        "Delete",
        async (_event, self) => {
          if (!(await confirmDialog("Delete the entry {name}?", { params: { name: entry.name } }))) return;
          if (await act(self, row.lastChild, () => del(path))) await refresh();
        },
        { small: true, kind: "danger" },
      ),
    );
  }
  row.append(
    h("td", {}, h("strong", {}, name), h("div", { class: "sub" }, source)),
    h("td", {}, weight),
    h("td", {}, enabled),
    statusCell,
    liveCell,
    h("td", { class: "actions" }, h("div", { class: "form-actions" }, actions)),
  );
  show(entry);
  return row;
}

function addEntryForm(model, provider, credentials, refresh) {
  const schema = (model.is_custom ? provider?.model_credential_schema : provider?.credential_schema) ?? [];
  const slot = h("div", {});
  const build = () => {
    const fields = schemaFields(schema, { context: { __model_type: model.model_type } });
    const sourceSelect = h(
      "select",
      { name: "source" },
      credentials.map((credential) => h("option", { value: credential.id }, credential.name)),
      translate(h("option", { value: "" }), "Other values…"),
    );
    const sourceId = `lb-source-${model.provider}-${model.model}`.replace(/[^\w-]/g, "_");
    sourceSelect.id = sourceId;
    const showFields = () => (fields.element.hidden = sourceSelect.value !== "");
    sourceSelect.addEventListener("change", showFields);
    showFields();
    return form(
      {
        className: "add-entry",
        label: "Add an entry",
        onSubmit: async (self) => {
          const usesCredential = sourceSelect.value !== "";
          if (!usesCredential && !fields.check()) return;
          const body = {
            provider: model.provider,
            model: model.model,
            model_type: model.model_type,
            name: valueOf(self, "name"),
            weight: Number(self.elements.weight.value || 1),
            ...(usesCredential ? { credential_id: sourceSelect.value } : { values: fields.collect() }),
          };
          await whileValidating(self, (validate) => post(wsPath("/load-balancing"), { ...body, validate }));
          replace(slot, build());
          await refresh();
        },
      },
      h("h3", {}, tr("Add an entry")),
      h(
        "div",
        { class: "form-grid" },
        textField({ name: "name", label: "Name", required: true }),
        textField({
          name: "weight",
          label: "Weight",
          type: "number",
          value: "1",
          help: "Calls are shared in proportion to the weights.",
        }),
        h(
          "div",
          { class: "field", dataset: { field: "credential_id" } },
          h("label", { for: sourceId }, tr("Credentials")),
          sourceSelect,
          h("p", { class: "field-error" }),
        ),
      ),
      fields.element,
      validateSwitch(),
      validatingNotice(),
      formError(),
      h("div", { class: "form-actions" }, button("Add entry", null, { kind: "primary", type: "submit", small: true })),
    );
  };
  slot.append(build());
  return slot;
}

/** `onModel(view)` gets the model as the server answers it after the switch, so its row can follow. */
export function loadBalancingPanel(model, provider, onModel) {
  const list = h("div", {}, loading());
  const adding = h("div", {});
  const refresh = async () => {
    try {
      const filter = query({ provider: model.provider, model: model.model, model_type: model.model_type });
      const [entries, credentials] = await Promise.all([
        get(wsPath(`/load-balancing${filter}`)),
        model.is_custom
          ? []
          : get(wsPath(`/providers/${encodeURIComponent(model.provider)}/credentials`)).catch(() => []),
      ]);
      const rows = entries.map((entry) => entryRow(entry, credentials, refresh));
      replace(
        list,
        entries.length
          ? table(["Entry", "Weight", "Enabled", "Status", "Live state", ""], rows)
          : empty("No entries yet."),
      );
      if (canManage() && !adding.firstChild) adding.append(addEntryForm(model, provider, credentials, refresh));
    } catch (error) {
      replace(list, failed(error));
    }
  };
  refresh();
  const onOff = switchInput({
    checked: model.is_load_balanced,
    label: "Spread calls over these entries",
    disabled: !canManage(),
    onChange: async (checked, input) => {
      try {
        const view = await patch(wsPath("/models"), {
          provider: model.provider,
          model: model.model,
          model_type: model.model_type,
          load_balancing: checked,
        });
        onModel?.(view);
        await refresh();
      } catch (error) {
        input.checked = !checked;
        toast(error.message, { bad: true });
      }
    },
  });
  return h(
    "div",
    { class: "load-balancing", dataset: { model: `${model.provider}/${model.model}` } },
    h(
      "div",
      { class: "panel-head" },
      h("h3", {}, tr("Load balancing for {model}", { model: model.model })),
      onOff,
      h("div", { class: "tools" }, button("Refresh", refresh, { small: true })),
    ),
    h("p", { class: "help" }, tr("The model's own credentials are always an entry: give them a weight, or switch them off.")),
    list,
    adding,
  );
}
