// Small shared widgets: status pills, badges, quota bars, spinners, switches, dialogs and toasts.

import { append, h } from "./dom.js";
import { lang, text, tr, translate, translateAttribute } from "./i18n.js";

export function spinner(label = "Loading…") {
  const element = h("span", { class: "spinner", role: "status" });
  return translateAttribute(element, "aria-label", label);
}

export function loading() {
  return h("div", { class: "loading" }, spinner(), tr("Loading…"));
}

const STATUS_TEXT = {
  verified: "Verified",
  failing: "Failing",
  unverified: "Not checked",
  available: "Available",
  cooling: "Cooling down ({seconds} s)",
  disabled: "Disabled",
  configured: "Configured",
  none: "Not configured",
};

/** A coloured pill for a credential or entry status; `data-status` carries the raw value for tests and CSS. */
export function statusPill(status, params) {
  const key = status ?? "none";
  return h("span", { class: `pill ${key}`, dataset: { status: key } }, tr(STATUS_TEXT[key] ?? key, params));
}

/** What the workspace configured, summed up by the server: its credential and custom models, checked or not. */
export function providerStatus(state) {
  const pills = [];
  if (state.status) pills.push(statusPill("configured"), statusPill(state.status));
  if (state.has_system) pills.push(h("span", { class: "pill available", dataset: { status: "hosted" } }, tr("Hosted")));
  return pills.length ? pills : statusPill("none");
}

export function badge(label, kind = "") {
  return h("span", { class: `badge ${kind}` }, label);
}

export function featureBadge(feature) {
  return h("span", { class: `badge feature-${feature}`, dataset: { feature } }, tr(FEATURE_TEXT[feature] ?? feature));
}

const FEATURE_TEXT = {
  "tool-call": "tool-call",
  "multi-tool-call": "multi-tool-call",
  "stream-tool-call": "stream-tool-call",
  vision: "vision",
  audio: "audio",
  video: "video",
  document: "document",
  "structured-output": "structured-output",
  reasoning: "reasoning",
};

export const MODEL_TYPE_TEXT = {
  llm: "LLM",
  "text-embedding": "Text embedding",
  rerank: "Rerank",
  speech2text: "Speech to text",
  tts: "Text to speech",
  moderation: "Moderation",
};

export function modelTypeChip(type) {
  return h("span", { class: "chip", dataset: { modelType: type } }, tr(MODEL_TYPE_TEXT[type] ?? type));
}

/** A hosted-quota bar: used of limit, red once exhausted; an unlimited quota shows as text only. */
export function quotaBar(quota) {
  const unit = tr(quota.unit);
  if (quota.limit < 0) {
    return h("div", { class: "quota", dataset: { quota: "unlimited" } }, h("small", {}, tr("Hosted quota: unlimited")));
  }
  const share = quota.limit > 0 ? Math.min(100, (100 * quota.used) / quota.limit) : 100;
  const fill = h("span");
  fill.style.width = `${share}%`; // a CSSOM write, which a strict style-src policy still allows
  const bar = h(
    "div",
    {
      class: "bar",
      role: "progressbar",
      "aria-valuemin": 0,
      "aria-valuemax": quota.limit,
      "aria-valuenow": quota.used,
    },
    fill,
  );
  translateAttribute(bar, "aria-label", "Hosted quota used");
  const caption = h(
    "small",
    {},
    tr("Hosted quota ({type}): {used} of {limit}", {
      type: quota.quota_type,
      used: number(quota.used),
      limit: number(quota.limit),
    }),
    " ",
    unit,
    quota.is_exhausted ? [" · ", tr("exhausted")] : null,
  );
  return h(
    "div",
    { class: `quota${quota.is_exhausted ? " exhausted" : ""}`, dataset: { quota: "limited" } },
    bar,
    caption,
  );
}

/** A checkbox drawn as a switch (role=switch), labelled. */
export function switchInput({ checked, label, onChange, disabled = false, name }) {
  const input = h("input", { type: "checkbox", role: "switch", checked, disabled, name });
  if (onChange) input.addEventListener("change", () => onChange(input.checked, input));
  return h("label", { class: "switch" }, input, typeof label === "string" ? tr(label) : label);
}

export function button(label, onClick, { kind = "", type = "button", small = false, params } = {}) {
  const element = h("button", { type, class: [kind, small ? "small" : ""].join(" ").trim() });
  translate(element, label, params);
  // the handler gets the button too: event.currentTarget is gone once the handler has awaited anything
  if (onClick) element.addEventListener("click", (event) => onClick(event, element));
  return element;
}

/** Disable `button` and show a spinner in it while `work` runs; returns what `work` returns. */
export async function busy(buttonElement, work) {
  const marker = spinner("Working…");
  buttonElement.disabled = true;
  buttonElement.setAttribute("aria-busy", "true");
  buttonElement.prepend(marker);
  try {
    return await work();
  } finally {
    marker.remove();
    buttonElement.disabled = false;
    buttonElement.removeAttribute("aria-busy");
  }
}

/** Run a row action with its button busy; true when it worked, else the failure is shown in the row. */
export async function act(control, row, work) {
  row.querySelector(":scope > .form-error")?.remove();
  try {
    await busy(control, work);
    return true;
  } catch (error) {
    row.append(failed(error));
    return false;
  }
}

export function panel(title, ...children) {
  const heading = title ? h("h2", {}, typeof title === "string" ? tr(title) : title) : null;
  return h("section", { class: "panel" }, heading, children);
}

export function pageHead(title, lede, ...tools) {
  return h(
    "div",
    { class: "page-head" },
    h("div", {}, h("h1", {}, tr(title)), lede ? h("p", { class: "lede" }, tr(lede)) : null),
    tools.length ? h("div", { class: "tools" }, tools) : null,
  );
}

export function empty(message) {
  return h("p", { class: "empty" }, tr(message));
}

export function failed(error) {
  return h("p", { class: "form-error", role: "alert" }, tr(error.text ?? error.message ?? String(error)));
}

export function number(value) {
  return new Intl.NumberFormat(lang() === "zh_Hans" ? "zh-CN" : "en-US").format(value ?? 0);
}

/** An amount of money (a price or a cost), the same precision everywhere: at least 2 decimals, at most 6. */
export function money(amount, currency = "") {
  const formatted = new Intl.NumberFormat(lang() === "zh_Hans" ? "zh-CN" : "en-US", {
    minimumFractionDigits: 2,
    maximumFractionDigits: 6,
  }).format(Number(amount ?? 0));
  return currency ? `${formatted} ${currency}` : formatted;
}

export function when(iso) {
  if (!iso) return text("never");
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(lang() === "zh_Hans" ? "zh-CN" : "en-US");
}

/**
 * A table with translated headers; rows are arrays of cells, ready <tr> elements, or whole <tbody> groups.
 * Each cell carries its column's name (data-label), so on a narrow screen the rows reflow into labelled cards.
 */
export function table(headers, rows) {
  const head = h(
    "tr",
    {},
    headers.map((header) => h("th", { scope: "col" }, header ? tr(header) : "")),
  );
  const body = rows.map((row) =>
    row instanceof Node
      ? row
      : h(
          "tr",
          {},
          row.map((cell) => h("td", {}, cell)),
        ),
  );
  const bodies = body.some((node) => node.tagName === "TBODY") ? body : [h("tbody", {}, body)];
  const element = h("table", { class: "reflow" }, h("thead", {}, head), bodies);
  for (const tableRow of element.querySelectorAll("tbody > tr:not(.detail):not(.group)")) {
    [...tableRow.children].forEach((cell, index) => {
      if (headers[index]) translateAttribute(cell, "data-label", headers[index]);
    });
  }
  return h("div", { class: "table-wrap" }, element);
}

export function toast(message, { bad = false } = {}) {
  const element = h("div", { class: `toast${bad ? " bad" : ""}` }, message);
  document.getElementById("toasts").append(element);
  setTimeout(() => element.remove(), 4000);
}

/** A modal dialog; `build(close)` fills it. Resolves with the value passed to close(). */
export function dialog(build) {
  return new Promise((resolve) => {
    const element = h("dialog");
    const close = (value) => {
      element.close();
      element.remove();
      resolve(value);
    };
    element.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(undefined);
    });
    append(element, build(close));
    document.body.append(element);
    element.showModal();
  });
}

export function confirmDialog(message, { confirm = "Delete", params } = {}) {
  return dialog((close) => [
    h("h2", {}, tr("Are you sure?")),
    h("p", {}, tr(message, params)),
    h(
      "div",
      { class: "form-actions dialog-actions" },
      button(confirm, () => close(true), { kind: "danger" }),
      button("Cancel", () => close(false)),
    ),
  ]);
}

/** Copy text; falls back to selecting an input and execCommand where the Clipboard API is refused. */
export async function copyText(value, input) {
  try {
    await navigator.clipboard.writeText(value);
    return true;
  } catch {
    if (!input) return false;
    input.select();
    return document.execCommand("copy");
  }
}
