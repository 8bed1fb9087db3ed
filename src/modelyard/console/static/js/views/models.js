// The models a workspace can call: feature badges, availability, an enable switch per model and its
// load-balancing entries, grouped by model type. Used on #/models (all providers) and on each provider's page.

import { get, patch, query } from "../api.js";
import { catalog } from "../catalog.js";
import { append, h, replace } from "../dom.js";
import { lang, text, tr, translate, translateAttribute } from "../i18n.js";
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
  money,
  pageHead,
  panel,
  switchInput,
  table,
  toast,
} from "../ui.js";
import { reasonText } from "../messages.js";
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

const PER_BASIS = { tokens: "per {count} tokens", characters: "per {count} characters", seconds: "per {count} s" };

function price(pricing) {
  if (!pricing) return "—";
  const per = Math.round(1 / Number(pricing.unit || 1));
  // an output rate of 0 is the catalog's default (speech, embeddings): the model is priced on its input alone
  const amounts = [pricing.input, pricing.output].filter((v, i) => v !== undefined && v !== null && (i === 0 || Number(v)));
  return h(
    "span",
    {},
    `${amounts.map((amount) => money(amount)).join(" / ")} ${pricing.currency ?? ""}`,
    h("div", { class: "sub" }, tr(PER_BASIS[pricing.basis] ?? PER_BASIS.tokens, { count: tokens(per) })),
  );
}

/** "deprecated", with the vendor's shutdown date when it announced one. */
function deprecation(model) {
  if (!model.deprecated) return null;
  if (!model.shutdown_date) return badge(tr("deprecated"), "muted deprecated");
  const day = new Date(`${model.shutdown_date}T00:00:00Z`).toLocaleDateString(lang() === "zh_Hans" ? "zh-CN" : "en-US", {
    timeZone: "UTC",
  });
  return badge(tr("deprecated, shuts down {date}", { date: day }), "muted deprecated");
}

// A reason every row of an unconfigured provider shares is said once above the list, not in every row.
const SHORT_REASON = { credentials_not_configured: "No credentials", model_disabled: "Switched off" };

function availability(model, { quiet = false } = {}) {
  if (model.is_available) {
    return h("span", { class: "pill available", dataset: { status: "available" } }, tr("Available"));
  }
  const short = SHORT_REASON[model.reason_code];
  return h(
    "span",
    {},
    h("span", { class: "pill warning", dataset: { status: "unavailable", reason: model.reason_code ?? "" } }, tr(
      short && quiet ? short : "Unavailable",
    )),
    quiet ? null : h("div", { class: "sub reason" }, tr(reasonText(model))),
  );
}

/** One model's table row and its (hidden) load-balancing row; `show(view)` redraws them from a server answer. */
function modelRow(initial, providers, { showProvider, columns, quiet }) {
  let model = initial;
  const row = h("tr", { dataset: { model: `${model.provider}/${model.model}`, modelType: model.model_type } });
  const detail = h("tr", { class: "detail", hidden: true }, h("td", { colspan: columns }));
  const toggle = switchInput({
    checked: model.is_enabled,
    label: h("span", { class: "visually-hidden" }, tr("Enabled")),
    disabled: !canManage(),
    onChange: (checked, input) => setEnabled(checked, input),
  });
  translateAttribute(toggle.querySelector("input"), "aria-label", "Enable {model}", { model: model.model });
  const balance = button(
    "Load balancing",
    () => {
      detail.hidden = !detail.hidden;
      balance.setAttribute("aria-expanded", String(!detail.hidden));
      if (!detail.hidden && !detail.firstChild.firstChild) {
        detail.firstChild.append(loadBalancingPanel(model, providers.get(model.provider), show));
      }
    },
    { small: true },
  );
  balance.setAttribute("aria-expanded", "false");
  const status = h("td", { class: "status" });

  function show(view) {
    model = view;
    toggle.querySelector("input").checked = view.is_enabled;
    translate(balance, view.is_load_balanced ? "Load balancing: on" : "Load balancing");
    replace(status, availability(view, { quiet }));
  }

  async function setEnabled(enabled, input) {
    try {
      const view = await patch(wsPath("/models"), {
        provider: model.provider,
        model: model.model,
        model_type: model.model_type,
        enabled,
      });
      show(view); // the server's answer, not a guess: availability follows the switch
      toast(text(enabled ? "{model} enabled" : "{model} disabled", { model: model.model }));
    } catch (error) {
      input.checked = !enabled; // the switch goes back: the change did not happen
      toast(error.message, { bad: true });
    }
  }

  const provider = providers.get(model.provider);
  append(row, [
    h(
      "td",
      { class: "model" },
      h("div", {}, modelLabel(model)),
      h("div", { class: "sub mono" }, model.model),
      // on the page of all providers, whose model it is: a line here, not a column the table has no room for
      showProvider ? h("div", { class: "sub provider" }, provider ? tr(provider.label) : model.provider) : null,
      h("div", { class: "chips" }, model.is_custom ? badge(tr("custom"), "muted") : null, deprecation(model)),
    ),
    h("td", { class: "features" }, h("div", { class: "chips" }, (model.features ?? []).map(featureBadge))),
    h("td", {}, tokens(model.properties?.context_size)),
    h("td", { class: "price" }, price(model.pricing)),
    status,
    h("td", { class: "actions" }, h("div", { class: "form-actions" }, toggle, balance)),
  ]);
  show(model);
  return [row, detail];
}

/** Rows grouped by model type, in the order of MODEL_TYPE_TEXT, each group under a heading row. */
function groupedTable(models, providers, { showProvider, quiet }) {
  const shown = ["Model", "Features", "Context", "Price (in / out)", "Status", ""];
  const groups = Object.keys(MODEL_TYPE_TEXT)
    .map((type) => [type, models.filter((model) => model.model_type === type)])
    .filter(([, list]) => list.length);
  const bodies = groups.map(([type, list]) => {
    const heading = h(
      "tr",
      { class: "group", dataset: { group: type } },
      h("th", { colspan: shown.length, scope: "rowgroup" }, modelTypeChip(type), " ", h("span", { class: "count" }, list.length)),
    );
    const rows = list.flatMap((model) => modelRow(model, providers, { showProvider, columns: shown.length, quiet }));
    return h("tbody", { dataset: { modelType: type } }, heading, rows);
  });
  const wrap = table(shown, bodies);
  wrap.firstChild.classList.add("models");
  return wrap;
}

/**
 * A panel listing models; `refresh()` reloads it. Filters: provider, model type, and `usable` (set-up providers
 * only). `fold: true` (a provider's page) folds the list away while the provider is not set up, and says once why
 * none is usable yet; each refresh asks the server again.
 */
export function modelsPanel({ usable = false, fold = false, ...filters } = {}) {
  const body = h("div", { class: "models-list" }, loading());
  const heading = h("span", {}, tr("Models"));
  const refresh = async () => {
    try {
      const [providers, listed, states] = await Promise.all([
        catalog(),
        get(wsPath(`/models${query(filters)}`)),
        usable || fold ? get(wsPath("/providers")) : [],
      ]);
      const configured = new Set(
        states.filter((s) => s.has_custom || s.has_system || s.custom_model_count).map((s) => s.id),
      );
      const models = usable ? listed.filter((model) => configured.has(model.provider)) : listed;
      const setUp = !fold || configured.has(filters.provider);
      replace(heading, tr("Models"), " ", h("span", { class: "count" }, models.length));
      if (!models.length) return replace(body, empty("No models match."));
      const list = groupedTable(models, providers, { showProvider: !filters.provider, quiet: !setUp });
      if (setUp) return replace(body, list);
      const folded = h(
        "details",
        { class: "fold" },
        translate(h("summary", {}), "Show the {count} models", { count: models.length }),
        list,
      );
      replace(
        body,
        h("p", { class: "notice", dataset: { notice: "not-configured" } }, tr(
          "None of these {count} models can be called until credentials are added above.",
          { count: models.length },
        )),
        folded,
      );
    } catch (error) {
      replace(body, failed(error));
    }
  };
  refresh();
  return { element: panel(heading, body), refresh };
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
