// The models a workspace can call: feature badges, availability, an enable switch per model and its
// load-balancing entries. Used on #/models (all providers) and on each provider's page.

import { get, patch, query } from "../api.js";
import { catalog } from "../catalog.js";
import { h, replace } from "../dom.js";
import { text, tr, translate, translateAttribute } from "../i18n.js";
import { route } from "../router.js";
import { canManage, wsPath } from "../session.js";
import {
  MODEL_TYPE_TEXT,
  badge,
  button,
  empty,
  failed,
  featureBadge,
  loading,
  modelTypeChip,
  pageHead,
  panel,
  switchInput,
  table,
  toast,
} from "../ui.js";
import { loadBalancingPanel } from "./load-balancing.js";

export function modelLabel(model) {
  return model.label ? tr(model.label) : model.model;
}

function tokens(count) {
  if (!count) return "—";
  if (count >= 1024 * 1024 && count % (1024 * 1024) === 0) return `${count / (1024 * 1024)}M`;
  if (count >= 1000 && count % 1024 === 0) return `${count / 1024}K`;
  return new Intl.NumberFormat("en-US", { notation: "compact" }).format(count);
}

function price(pricing) {
  if (!pricing) return "—";
  const per = Math.round(1 / Number(pricing.unit || 1));
  const amounts = [pricing.input, pricing.output].filter((v) => v !== undefined && v !== null).join(" / ");
  return h(
    "span",
    {},
    `${amounts} ${pricing.currency ?? ""}`,
    h("div", { class: "sub" }, tr("per {count} tokens", { count: tokens(per) })),
  );
}

async function setEnabled(model, enabled, input) {
  try {
    await patch(wsPath("/models"), {
      provider: model.provider,
      model: model.model,
      model_type: model.model_type,
      enabled,
    });
    model.is_enabled = enabled;
    toast(text(enabled ? "{model} enabled" : "{model} disabled", { model: model.model }));
  } catch (error) {
    input.checked = !enabled; // the switch goes back: the change did not happen
    toast(error.message, { bad: true });
  }
}

function modelRow(model, providers, showProvider, columns) {
  const features = model.features ?? [];
  const toggle = switchInput({
    checked: model.is_enabled,
    label: h("span", { class: "visually-hidden" }, tr("Enabled")),
    disabled: !canManage(),
    onChange: (checked, input) => setEnabled(model, checked, input),
  });
  translateAttribute(toggle.querySelector("input"), "aria-label", "Enable {model}", { model: model.model });
  const detail = h("tr", { class: "detail", hidden: true }, h("td", { colspan: columns }));
  const balance = button(
    model.is_load_balanced ? "Load balancing: on" : "Load balancing",
    () => {
      detail.hidden = !detail.hidden;
      balance.setAttribute("aria-expanded", String(!detail.hidden));
      if (!detail.hidden && !detail.firstChild.firstChild)
        detail.firstChild.append(loadBalancingPanel(model, providers.get(model.provider)));
    },
    { small: true },
  );
  balance.setAttribute("aria-expanded", "false");
  const availability = model.is_available
    ? h("span", { class: "pill available", dataset: { status: "available" } }, tr("Available"))
    : h(
        "span",
        {},
        h("span", { class: "pill warning", dataset: { status: "unavailable" } }, tr("Unavailable")),
        h("div", { class: "sub" }, model.reason ?? ""),
      );
  const cells = [
    h(
      "td",
      {},
      h("div", {}, modelLabel(model)),
      h("div", { class: "sub mono" }, model.model),
      h(
        "div",
        { class: "chips" },
        model.is_custom ? badge(tr("custom"), "muted") : null,
        model.deprecated ? badge(tr("deprecated"), "muted") : null,
      ),
    ),
    showProvider
      ? h("td", {}, providers.get(model.provider) ? tr(providers.get(model.provider).label) : model.provider)
      : null,
    h("td", {}, modelTypeChip(model.model_type)),
    h("td", { class: "features" }, h("div", { class: "chips" }, features.map(featureBadge))),
    h("td", {}, tokens(model.properties?.context_size)),
    h("td", { class: "price" }, price(model.pricing)),
    h("td", {}, availability),
    h("td", { class: "actions" }, h("div", { class: "form-actions" }, toggle, balance)),
  ];
  const row = h("tr", { dataset: { model: `${model.provider}/${model.model}`, modelType: model.model_type } }, cells);
  return [row, detail];
}

/** A panel listing models; `refresh()` reloads it. Filters: provider, model type, and `usable` (callable now). */
export function modelsPanel({ usable = false, ...filters } = {}) {
  const body = h("div", { class: "models-list" }, loading());
  const refresh = async () => {
    try {
      const [providers, listed, states] = await Promise.all([
        catalog(),
        get(wsPath(`/models${query(filters)}`)),
        usable ? get(wsPath("/providers")) : [],
      ]);
      const setUp = new Set(
        states.filter((s) => s.has_custom || s.has_system || s.custom_model_count).map((s) => s.id),
      );
      const models = usable ? listed.filter((model) => setUp.has(model.provider)) : listed;
      const showProvider = !filters.provider;
      const headers = [
        "Model",
        showProvider ? "Provider" : null,
        "Type",
        "Features",
        "Context",
        "Price (in / out)",
        "Status",
        "",
      ];
      const columns = headers.filter((header) => header !== null).length;
      const rows = models.flatMap((model) => modelRow(model, providers, showProvider, columns));
      replace(
        body,
        models.length
          ? table(
              headers.filter((header) => header !== null),
              rows,
            )
          : empty("No models match."),
      );
    } catch (error) {
      replace(body, failed(error));
    }
  };
  refresh();
  return { element: panel("Models", body), refresh };
}

async function modelsPage({ query: search }) {
  const providers = await catalog();
  const filters = { provider: search.get("provider") ?? "", model_type: search.get("model_type") ?? "" };
  const providerFilter = h(
    "select",
    { class: "compact", id: "models-provider-filter" },
    translate(h("option", { value: "" }), "All providers"),
    [...providers.values()].map((provider) => translate(h("option", { value: provider.id }), provider.label)),
  );
  const typeFilter = h(
    "select",
    { class: "compact", id: "models-type-filter" },
    translate(h("option", { value: "" }), "All model types"),
    Object.entries(MODEL_TYPE_TEXT).map(([value, label]) => translate(h("option", { value }), label)),
  );
  translateAttribute(providerFilter, "aria-label", "Provider");
  translateAttribute(typeFilter, "aria-label", "Model type");
  providerFilter.value = filters.provider;
  typeFilter.value = filters.model_type;
  // the catalog holds hundreds of models; by default show those of providers the workspace has set up
  const usable = switchInput({
    checked: search.get("all") !== "1",
    label: "Set-up providers only",
    onChange: () => show(),
  });
  const holder = h("div", {});
  const show = () => {
    const all = !usable.querySelector("input").checked;
    const chosen = { provider: providerFilter.value, model_type: typeFilter.value };
    history.replaceState(null, "", `#/models${query({ ...chosen, all: all ? "1" : "" })}`);
    replace(holder, modelsPanel({ ...chosen, usable: !all }).element);
  };
  providerFilter.addEventListener("change", show);
  typeFilter.addEventListener("change", show);
  show();
  const lede = "Switch models on or off for this workspace and spread load over several keys.";
  return h("div", {}, pageHead("Models", lede, usable, providerFilter, typeFilter), holder);
}

route("models", modelsPage, { title: "Models" });
