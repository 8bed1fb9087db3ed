// Settings → Model Providers: one card per provider, with its model types, whether the workspace has set it up,
// and its hosted quota. A card leads to the provider's page (#/providers/{id}).

import { get } from "../api.js";
import { catalog, providerIcon } from "../catalog.js";
import { h, replace } from "../dom.js";
import { text, tr, translate, translateAttribute } from "../i18n.js";
import { route } from "../router.js";
import { wsPath } from "../session.js";
import { MODEL_TYPE_TEXT, empty, modelTypeChip, pageHead, panel, providerStatus, quotaBar } from "../ui.js";
import { providerPage } from "./provider.js";

const isSetUp = (state) => state.has_custom || state.custom_model_count > 0 || state.has_system;

function providerCard(state, entry) {
  const description = entry?.description ?? null;
  const manage = translate(
    h("a", { class: "button small", href: `#/providers/${encodeURIComponent(state.id)}` }),
    isSetUp(state) ? "Manage" : "Set up",
  );
  translateAttribute(manage, "aria-label", "{action} {provider}", {
    action: text(isSetUp(state) ? "Manage" : "Set up"),
    provider: text(state.label),
  });
  return h(
    "article",
    { class: "card", dataset: { provider: state.id } },
    h(
      "div",
      { class: "card-head" },
      providerIcon(state),
      h("div", {}, h("h3", {}, tr(state.label)), h("code", { class: "muted" }, state.id)),
    ),
    h("p", { class: "description" }, description ? tr(description) : ""),
    h("div", { class: "chips" }, state.supported_model_types.map(modelTypeChip)),
    state.quota ? quotaBar(state.quota) : null,
    h(
      "div",
      { class: "card-foot" },
      providerStatus(state),
      state.custom_model_count
        ? h("span", { class: "chip" }, tr("{count} custom models", { count: state.custom_model_count }))
        : null,
      manage,
    ),
  );
}

async function providersPage() {
  const [entries, states] = await Promise.all([catalog(), get(wsPath("/providers"))]);
  const configured = h("div", { class: "grid", id: "configured-providers" });
  const others = h("div", { class: "grid", id: "other-providers" });
  const configuredBlock = panel("Configured", configured);
  const othersBlock = panel("Add a provider", others);

  const typeFilter = h(
    "select",
    { class: "compact", id: "provider-type-filter" },
    translate(h("option", { value: "" }), "All model types"),
    Object.entries(MODEL_TYPE_TEXT).map(([value, label]) => translate(h("option", { value }), label)),
  );
  const search = h("input", { type: "search", class: "compact", id: "provider-search" });
  translateAttribute(search, "placeholder", "Search providers");
  translateAttribute(search, "aria-label", "Search providers");
  translateAttribute(typeFilter, "aria-label", "Model type");

  const show = () => {
    const needle = search.value.trim().toLowerCase();
    const matches = states.filter(
      (state) =>
        (!typeFilter.value || state.supported_model_types.includes(typeFilter.value)) &&
        (!needle ||
          [state.id, state.label?.en_US, state.label?.zh_Hans].some((t) => t?.toLowerCase().includes(needle))),
    );
    const cards = (list) => list.map((state) => providerCard(state, entries.get(state.id)));
    replace(configured, cards(matches.filter(isSetUp)));
    replace(others, cards(matches.filter((s) => !isSetUp(s))));
    configuredBlock.hidden = !configured.childElementCount;
    if (!others.childElementCount) replace(others, empty("No provider matches."));
  };
  typeFilter.addEventListener("change", show);
  search.addEventListener("input", show);
  show();

  return h(
    "div",
    { class: "providers-page" },
    pageHead(
      "Model Providers",
      "Connect the AI providers this workspace calls; set each one up once.",
      typeFilter,
      search,
    ),
    configuredBlock,
    othersBlock,
  );
}

route("providers", (context) => (context.params.length ? providerPage(context) : providersPage()), {
  title: "Model Providers",
});
