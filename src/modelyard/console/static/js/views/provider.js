// One provider's page (#/providers/{id}): its credentials or custom models, which provider type calls use,
// its hosted quota, and its models.

import { get, put } from "../api.js";
import { catalog, providerIcon } from "../catalog.js";
import { h, replace } from "../dom.js";
import { form, formError } from "../forms.js";
import { text, tr, translate } from "../i18n.js";
import { canManage, wsPath } from "../session.js";
import { button, modelTypeChip, panel, providerStatus, quotaBar, toast } from "../ui.js";
import { credentialsPanel } from "./credentials.js";
import { customModelsPanel } from "./custom-models.js";
import { modelsPanel } from "./models.js";

async function providerState(id) {
  const states = await get(wsPath("/providers"));
  return states.find((state) => state.id === id) ?? null;
}

function statusLine(state) {
  const pills = [providerStatus(state)].flat();
  if (state.resolved_type) {
    const used = state.resolved_type === "system" ? "Hosted by the operator" : "Your own credentials";
    pills.push(
      h("span", { class: "chip", dataset: { resolved: state.resolved_type } }, tr("Calls use:"), " ", tr(used)),
    );
  }
  return pills;
}

const PREFERRED = [
  ["", "Automatic"],
  ["system", "Hosted by the operator"],
  ["custom", "Your own credentials"],
];

function preferredTypePanel(state, onChange) {
  const choices = PREFERRED.map(([value, label]) => {
    const radio = h("input", {
      type: "radio",
      name: "preferred_type",
      value,
      checked: (state.preferred_type ?? "") === value,
    });
    radio.disabled = !canManage();
    return h("label", {}, radio, tr(label));
  });
  const choose = form(
    {
      label: "Provider type",
      onSubmit: async (self) => {
        const value = self.elements.preferred_type.value || null;
        await put(wsPath(`/providers/${encodeURIComponent(state.id)}/preferred-type`), { preferred_type: value });
        toast(text("Saved"));
        await onChange();
      },
    },
    h(
      "fieldset",
      { class: "field" },
      translate(h("legend", {}), "Which credentials calls use"),
      h("div", { class: "choices" }, choices),
    ),
    formError(),
    canManage() ? h("div", { class: "form-actions" }, button("Save", null, { type: "submit", small: true })) : null,
  );
  return panel("Provider type", state.quota ? quotaBar(state.quota) : null, choose);
}

export async function providerPage({ params }) {
  const id = params[0];
  const [entries, state] = await Promise.all([catalog(), providerState(id)]);
  const entry = entries.get(id);
  const back = translate(h("a", { class: "back", href: "#/providers" }), "← All providers");
  if (!entry || !state) return h("div", {}, back, panel("Unknown provider", h("p", {}, id)));

  const status = h("div", { class: "chips", id: "provider-status" }, statusLine(state));
  const models = modelsPanel({ provider: id, fold: true });
  const changed = async () => {
    replace(status, statusLine((await providerState(id)) ?? state));
    models.refresh();
  };
  const methods = entry.configuration_methods ?? [];
  const head = h(
    "div",
    { class: "provider-head" },
    providerIcon(entry, { large: true }),
    h(
      "div",
      { class: "grow" },
      h("h1", {}, tr(entry.label)),
      entry.description ? h("p", { class: "lede" }, tr(entry.description)) : null,
      h("div", { class: "chips" }, entry.supported_model_types.map(modelTypeChip)),
    ),
    status,
    entry.help?.url
      ? h("a", { href: entry.help.url, target: "_blank", rel: "noopener noreferrer" }, tr(entry.help.title ?? "Help"))
      : null,
  );
  return h(
    "div",
    { class: "provider-page", dataset: { provider: id } },
    back,
    head,
    state.has_system ? preferredTypePanel(state, changed) : null,
    methods.includes("predefined-model") || methods.includes("fetch-from-remote")
      ? credentialsPanel(entry, changed)
      : null,
    methods.includes("customizable-model") ? customModelsPanel(entry, changed) : null,
    models.element,
  );
}
