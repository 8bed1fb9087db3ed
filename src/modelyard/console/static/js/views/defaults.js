// Default models, one per model type: "automatic" until one is chosen; a chosen default that cannot be used
// now is flagged with the reason.

import { del, get, put } from "../api.js";
import { catalog } from "../catalog.js";
import { h, replace } from "../dom.js";
import { clearErrors, field, showError } from "../forms.js";
import { text, tr, translate } from "../i18n.js";
import { reasonText } from "../messages.js";
import { route } from "../router.js";
import { canManage, wsPath } from "../session.js";
import { MODEL_TYPE_TEXT, pageHead, spinner, statusPill, toast } from "../ui.js";

function currentLine(current) {
  if (!current || current.source === null || current.source === undefined) {
    return h(
      "div",
      { class: "current", dataset: { source: "none" } },
      h("strong", {}, tr("Automatic")),
      " — ",
      tr("no usable model yet"),
      current?.reason ? h("p", { class: "muted reason" }, tr(reasonText(current))) : null,
    );
  }
  const name = h("code", {}, `${current.provider}/${current.model}`);
  if (current.source === "automatic") {
    return h(
      "div",
      { class: "current", dataset: { source: "automatic" } },
      h("strong", {}, tr("Automatic")),
      " — ",
      tr("now"),
      " ",
      name,
    );
  }
  return h(
    "div",
    { class: "current", dataset: { source: "chosen", available: String(current.is_available) } },
    name,
    " ",
    current.is_available
      ? statusPill("available")
      : h("span", { class: "pill warning", dataset: { status: "unavailable" } }, tr("Unavailable")),
    current.is_available ? null : h("p", { class: "warning-text reason", role: "alert" }, tr(reasonText(current))),
  );
}

// The models a default may be: those callable now, current ones first and deprecated ones last, marked so.
function picker(type, current, models, providers, onChosen) {
  const candidates = models
    .filter((m) => m.model_type === type && m.is_enabled && m.is_available)
    .sort((a, b) => Number(a.deprecated) - Number(b.deprecated));
  const chosen = current?.source === "chosen" ? current : null;
  if (chosen && !candidates.some((m) => m.provider === chosen.provider && m.model === chosen.model)) {
    candidates.unshift({ provider: chosen.provider, model: chosen.model });
  }
  const byProvider = Map.groupBy(candidates, (m) => m.provider);
  const select = h(
    "select",
    { name: "default", id: `default-${type}`, disabled: !canManage() },
    translate(h("option", { value: "" }), "Automatic"),
    [...byProvider].map(([provider, list]) => {
      const group = h("optgroup", { label: text(providers.get(provider)?.label ?? provider) });
      for (const model of list) {
        const option = h("option", { value: JSON.stringify([model.provider, model.model]) });
        if (model.deprecated) translate(option, "{model} (deprecated)", { model: model.model });
        else option.textContent = model.model;
        group.append(option);
      }
      return group;
    }),
  );
  select.value = chosen ? JSON.stringify([chosen.provider, chosen.model]) : "";
  select.addEventListener("change", () => onChosen(select.value ? JSON.parse(select.value) : null, select));
  return field({ name: "model", label: "Default model", control: select });
}

function defaultCard(type, current, models, providers) {
  const card = h("article", { class: "card", dataset: { modelType: type } });
  const render = (state) =>
    replace(
      card,
      h("h3", {}, tr(MODEL_TYPE_TEXT[type])),
      currentLine(state),
      picker(type, state, models, providers, async (choice, select) => {
        clearErrors(card);
        const marker = spinner("Saving…");
        select.after(marker);
        try {
          const path = wsPath(`/default-models/${encodeURIComponent(type)}`);
          if (choice) await put(path, { provider: choice[0], model: choice[1] });
          else await del(path);
          const fresh = await get(wsPath("/default-models"));
          render(fresh.find((d) => d.model_type === type));
          toast(text("Default saved"));
        } catch (error) {
          marker.remove();
          showError(card, { text: error.text, message: error.message, field: "model" });
        }
      }),
    );
  render(current);
  return card;
}

async function defaultsPage() {
  const [defaults, models, providers] = await Promise.all([
    get(wsPath("/default-models")),
    get(wsPath("/models")),
    catalog(),
  ]);
  const cards = Object.keys(MODEL_TYPE_TEXT).map((type) =>
    defaultCard(
      type,
      defaults.find((d) => d.model_type === type),
      models,
      providers,
    ),
  );
  return h(
    "div",
    {},
    pageHead(
      "Default models",
      "Used when a call names “default” instead of a model. Automatic picks the first usable one.",
    ),
    h("div", { class: "defaults" }, cards),
  );
}

route("defaults", defaultsPage, { title: "Default models" });
