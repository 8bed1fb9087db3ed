// Hosted quota and usage: totals over a chosen period, calls and spend per day (by API key or by model, as an
// inline SVG chart), per provider and model, per API key, recent calls.

import { get, query } from "../api.js";
import { catalog } from "../catalog.js";
import { legend, stackedBars } from "../chart.js";
import { h, replace } from "../dom.js";
import { text, tr, translate, translateAttribute } from "../i18n.js";
import { route } from "../router.js";
import { canManage, wsPath } from "../session.js";
import { empty, failed, loading, money, number, pageHead, panel, quotaBar, table, when } from "../ui.js";

function isoDay(daysAgo) {
  const day = new Date(Date.now() - daysAgo * 86_400_000);
  return day.toISOString().slice(0, 10);
}

function moneyTotals(totals) {
  const entries = Object.entries(totals);
  if (!entries.length) return money(0);
  return entries.map(([currency, amount]) => money(amount, currency)).join(" + ");
}

function stat(label, value) {
  return h("div", { class: "stat" }, h("div", { class: "value" }, value), h("div", { class: "label" }, tr(label)));
}

function summary(rows) {
  const sum = (key) => rows.reduce((total, row) => total + Number(row[key] ?? 0), 0);
  const prices = {};
  for (const row of rows) prices[row.currency] = (prices[row.currency] ?? 0) + Number(row.total_price ?? 0);
  return h(
    "div",
    { class: "stats", id: "usage-totals" },
    stat("Calls", number(sum("calls"))),
    stat("Errors", number(sum("errors"))),
    stat("Prompt tokens", number(sum("prompt_tokens"))),
    stat("Completion tokens", number(sum("completion_tokens"))),
    stat("Cost", moneyTotals(prices)),
  );
}

function dailyBars(days, since) {
  const calls = new Map(days.map((row) => [row.day, Number(row.calls)]));
  const highest = Math.max(1, ...calls.values());
  const bars = [];
  for (let day = new Date(`${since}T00:00:00Z`); day <= new Date(); day = new Date(day.getTime() + 86_400_000)) {
    const key = day.toISOString().slice(0, 10);
    const bar = h("span", { title: `${key}: ${calls.get(key) ?? 0}` });
    bar.style.height = `${(100 * (calls.get(key) ?? 0)) / highest}%`;
    bars.push(bar);
  }
  const chart = h("div", { class: "days", role: "img" }, bars);
  translateAttribute(chart, "aria-label", "Calls per day");
  return chart;
}

function daysSince(since) {
  const days = [];
  for (let day = new Date(`${since}T00:00:00Z`); day <= new Date(); day = new Date(day.getTime() + 86_400_000)) {
    days.push(day.toISOString().slice(0, 10));
  }
  return days;
}

/** Spend per day, stacked by API key or by model, one chart per currency. */
function spendChart(rows, since, by, names) {
  const key = by === "model" ? (row) => `${row.provider}/${row.model}` : (row) => row.api_key_id ?? "";
  const label = by === "model" ? (name) => name : (name) => names.get(name) ?? (name ? name : text("console (no key)"));
  const currencies = [...new Set(rows.map((row) => row.currency))];
  if (!rows.some((row) => Number(row.total_price) > 0)) return empty("Nothing spent in this period.");
  return currencies.map((currency) => {
    const values = {};
    for (const row of rows.filter((candidate) => candidate.currency === currency)) {
      const series = (values[key(row)] ??= {});
      series[row.day] = (series[row.day] ?? 0) + Number(row.total_price);
    }
    const title = text("Spend per day in {currency}", { currency });
    return h(
      "figure",
      { class: "spend", dataset: { currency, by } },
      stackedBars({ days: daysSince(since), values, label, currency, title }),
      h("figcaption", {}, legend(Object.keys(values), label)),
    );
  });
}

function spendByKey(rows, names) {
  const totals = new Map();
  for (const row of rows) {
    const id = row.api_key_id ?? "";
    const total = totals.get(id) ?? { calls: 0, prompt: 0, completion: 0, prices: {} };
    total.calls += row.calls;
    total.prompt += row.prompt_tokens;
    total.completion += row.completion_tokens;
    total.prices[row.currency] = (total.prices[row.currency] ?? 0) + Number(row.total_price);
    totals.set(id, total);
  }
  const rowsOut = [...totals].map(([id, total]) => [
    id ? names.get(id) ?? h("code", {}, id) : tr("console (no key)"),
    number(total.calls),
    `${number(total.prompt)} / ${number(total.completion)}`,
    moneyTotals(total.prices),
  ]);
  return rowsOut.length
    ? table(["API key", "Calls", "Tokens (prompt / completion)", "Cost"], rowsOut)
    : empty("No calls in this period.");
}

async function keyNames() {
  if (!canManage()) return new Map(); // members see key ids: listing keys is for owners and admins
  try {
    return new Map((await get(wsPath("/api-keys"))).map((key) => [key.id, key.name]));
  } catch {
    return new Map();
  }
}

async function usageBody(days) {
  const since = isoDay(days - 1);
  const [byModel, byDay, byKeyDay, byModelDay, records, providers, names] = await Promise.all([
    get(wsPath(`/usage${query({ since, group_by: "provider,model" })}`)),
    get(wsPath(`/usage${query({ since, group_by: "day" })}`)),
    get(wsPath(`/usage${query({ since, group_by: "day,api_key" })}`)),
    get(wsPath(`/usage${query({ since, group_by: "day,provider,model" })}`)),
    get(wsPath(`/usage/records${query({ limit: 20 })}`)),
    catalog(),
    keyNames(),
  ]);
  const chart = h("div", { id: "spend-chart" });
  const by = h(
    "select",
    { class: "compact", id: "spend-by" },
    [
      { value: "key", label: "By API key" },
      { value: "model", label: "By model" },
    ].map((option) => translate(h("option", { value: option.value }), option.label)),
  );
  translateAttribute(by, "aria-label", "Spend by");
  const draw = () =>
    replace(chart, spendChart(by.value === "model" ? byModelDay : byKeyDay, since, by.value, names));
  by.addEventListener("change", draw);
  draw();
  const providerName = (id) => (providers.get(id) ? tr(providers.get(id).label) : id);
  const modelRows = byModel.map((row) => [
    providerName(row.provider),
    h("code", {}, row.model),
    number(row.calls),
    number(row.errors),
    `${number(row.prompt_tokens)} / ${number(row.completion_tokens)}`,
    money(row.total_price, row.currency),
  ]);
  const recordRows = records.map((record) => [
    when(record.created_at),
    h("code", {}, `${record.provider}/${record.model}`),
    record.status === "success" || !record.error_class ? record.status : `${record.status} (${record.error_class})`,
    `${number(record.prompt_tokens)} / ${number(record.completion_tokens)}`,
    `${number(record.latency_ms)} ms`,
    money(record.total_price, record.currency),
  ]);
  return [
    summary(byModel),
    h("div", { class: "spend-head" }, h("h3", {}, tr("Spend per day")), by),
    chart,
    h("h3", {}, tr("By API key")),
    spendByKey(byKeyDay, names),
    h("h3", {}, tr("Calls per day")),
    dailyBars(byDay, since),
    h("h3", {}, tr("By provider and model")),
    byModel.length
      ? table(["Provider", "Model", "Calls", "Errors", "Tokens (prompt / completion)", "Cost"], modelRows)
      : empty("No calls in this period."),
    h("h3", {}, tr("Recent calls")),
    records.length
      ? table(["Time", "Model", "Status", "Tokens", "Latency", "Cost"], recordRows)
      : empty("No calls yet."),
  ];
}

async function quotaPanel() {
  const [quotas, providers] = await Promise.all([get(wsPath("/quota")), catalog()]);
  const items = quotas.map((quota) =>
    h(
      "div",
      { class: "row", dataset: { provider: quota.provider } },
      h("strong", {}, providers.get(quota.provider) ? tr(providers.get(quota.provider).label) : quota.provider),
      h("div", { class: "grow" }, quotaBar(quota)),
    ),
  );
  return panel(
    "Hosted quota",
    items.length ? h("div", { class: "rows" }, items) : empty("No hosted quota for this workspace."),
  );
}

async function usagePage() {
  const period = h(
    "select",
    { class: "compact", id: "usage-period" },
    [7, 30, 90].map((days) => translate(h("option", { value: days }), "Last {days} days", { days })),
  );
  period.value = "30";
  translateAttribute(period, "aria-label", "Period");
  const body = h("div", {}, loading());
  const show = async () => {
    replace(body, loading());
    try {
      replace(body, await usageBody(Number(period.value)));
    } catch (error) {
      replace(body, failed(error));
    }
  };
  period.addEventListener("change", show);
  show();
  return h(
    "div",
    {},
    pageHead("Usage & quota", "What this workspace spent, from the gateway's usage records.", period),
    await quotaPanel(),
    panel("Usage", body),
  );
}

route("usage", usagePage, { title: "Usage & quota" });
