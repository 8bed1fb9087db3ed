// Policy fields: a key's allowed models, expiry, limits, budget and strict parameters, or a workspace's limits.
// The same inputs create and edit; `collect()` reads them as the API takes them (an empty field removes a limit
// when editing, and is left out when creating). Each field is named as the API names it (`budget.soft_limit`), so
// an error the API returns lands next to its field.

import { h } from "./dom.js";
import { field, selectField, textField } from "./forms.js";
import { text, tr } from "./i18n.js";
import { badge, money, number } from "./ui.js";

const CURRENCIES = ["USD", "CNY", "EUR"];
const WINDOWS = [
  { value: "none", label: "Never resets" },
  { value: "daily", label: "Daily (UTC)" },
  { value: "weekly", label: "Weekly (UTC, from Monday)" },
  { value: "monthly", label: "Monthly (UTC)" },
];

function numberField(name, label, value, help) {
  const wrapper = textField({ name, label, type: "number", value: value ?? "", help });
  const input = wrapper.querySelector("input");
  input.min = "1";
  input.step = "1";
  return wrapper;
}

function amountField(name, label, value, help) {
  const wrapper = textField({ name, label, value: value ?? "", placeholder: "e.g. 25.00", help });
  wrapper.querySelector("input").inputMode = "decimal";
  return wrapper;
}

/** A datetime-local value (the browser's own time zone) for an ISO time, and back. */
function localInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/** The limit fields (and, for a key, its own): {element, collect()}. */
export function policyFields(current = {}, { forKey = true, editing = false } = {}) {
  const budget = current.budget ?? {};
  const fields = [];
  if (forKey) {
    const models = h("textarea", { name: "allowed_models", rows: 3, placeholder: "openai/*\nanthropic/claude-opus-4-1" });
    models.value = (current.allowed_models ?? []).join("\n");
    fields.push(
      field({
        name: "allowed_models",
        label: "Allowed models",
        control: models,
        help: "One per line: provider/model, provider/* or an alias. Empty: every model.",
      }),
    );
    const expires = h("input", { type: "datetime-local", name: "expires_at" });
    expires.defaultValue = localInput(current.expires_at);
    fields.push(field({ name: "expires_at", label: "Expires", control: expires, help: "In your time zone; empty: never." }));
  }
  fields.push(
    numberField("requests_per_minute", "Requests per minute", current.requests_per_minute),
    numberField("tokens_per_minute", "Tokens per minute", current.tokens_per_minute, "Prompt and max_tokens."),
    numberField("max_concurrent_requests", "Concurrent requests", current.max_concurrent_requests),
    amountField("budget.limit", "Budget", budget.limit, "Empty: no budget."),
    selectField({
      name: "budget.currency",
      label: "Currency",
      options: CURRENCIES.map((currency) => ({ value: currency, label: currency })),
      value: budget.currency ?? "USD",
    }),
    selectField({ name: "budget.window", label: "Budget resets", options: WINDOWS, value: budget.window ?? "none" }),
    amountField("budget.soft_limit", "Soft limit", budget.soft_limit, "Past it, answers and this page warn."),
  );
  if (forKey) {
    const strict = h("input", { type: "checkbox", name: "strict_params", checked: Boolean(current.strict_params) });
    fields.push(
      field({
        name: "strict_params",
        label: "Strict parameters",
        control: h("label", { class: "check" }, strict, tr("Refuse parameters a model does not take")),
      }),
    );
  }
  const element = h("div", { class: "form-grid policy-fields" }, fields);

  const valueOf = (name) => element.querySelector(`[name="${name}"]`).value.trim();
  const count = (name) => {
    const value = valueOf(name);
    if (value === "") return null;
    return Number.isInteger(Number(value)) ? Number(value) : value; // the API names what it refuses
  };
  function collect() {
    const policy = {
      requests_per_minute: count("requests_per_minute"),
      tokens_per_minute: count("tokens_per_minute"),
      max_concurrent_requests: count("max_concurrent_requests"),
      budget: valueOf("budget.limit")
        ? {
            limit: valueOf("budget.limit"),
            currency: valueOf("budget.currency"),
            window: valueOf("budget.window"),
            soft_limit: valueOf("budget.soft_limit") || null,
          }
        : null,
    };
    if (forKey) {
      const models = valueOf("allowed_models")
        .split(/[\s,]+/)
        .filter(Boolean);
      const expires = valueOf("expires_at");
      policy.allowed_models = models.length ? models : null;
      policy.expires_at = expires ? new Date(expires).toISOString() : null;
      policy.strict_params = element.querySelector('[name="strict_params"]').checked;
    }
    if (editing) return policy;
    return Object.fromEntries(Object.entries(policy).filter(([, value]) => value !== null && value !== false));
  }
  return { element, collect };
}

/** `60 rpm · 100,000 tpm · 4 concurrent`, or none. */
export function limitsSummary(limits) {
  const parts = [];
  if (limits.requests_per_minute) parts.push(text("{n} rpm", { n: number(limits.requests_per_minute) }));
  if (limits.tokens_per_minute) parts.push(text("{n} tpm", { n: number(limits.tokens_per_minute) }));
  if (limits.max_concurrent_requests) {
    parts.push(text("{n} concurrent", { n: number(limits.max_concurrent_requests) }));
  }
  return parts.length ? parts.join(" · ") : text("no limits");
}

/** A budget's spend this period as a bar, with its soft limit and reset; none when there is no budget. */
export function budgetBar(budget) {
  if (!budget) return h("span", { class: "muted" }, tr("no budget"));
  const limit = Number(budget.limit);
  const spent = Number(budget.spent);
  const fill = h("span");
  fill.style.width = `${limit > 0 ? Math.min(100, (100 * spent) / limit) : 100}%`;
  const bar = h(
    "div",
    { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": limit, "aria-valuenow": spent },
    fill,
  );
  const state = budget.is_exhausted ? "exhausted" : budget.is_soft_limit_reached ? "soft" : "ok";
  return h(
    "div",
    { class: `quota budget ${state === "exhausted" ? "exhausted" : ""}`, dataset: { budget: state } },
    bar,
    h(
      "small",
      {},
      tr("{spent} of {limit}", { spent: money(budget.spent), limit: money(budget.limit, budget.currency) }),
      budget.window !== "none" ? [" · ", tr(budget.window)] : null,
    ),
    state === "soft" ? badge(tr("Soft limit reached"), "warning") : null,
    state === "exhausted" ? badge(tr("Budget spent"), "exhausted") : null,
  );
}
