// Charts drawn as inline SVG (no library, no build step): spend per day, stacked by series.
// SVG needs its own namespace, so its elements are not made with dom.js's h().

import { text } from "./i18n.js";
import { money } from "./ui.js";

const NS = "http://www.w3.org/2000/svg";
// Distinguishable on white and for the common colour-vision deficiencies (Okabe-Ito).
const COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child instanceof Node ? child : document.createTextNode(child));
  return element;
}

/**
 * Stacked bars, one per day from `days[0]` to the last: `values` maps a series name to {day: amount}.
 * `label(series)` names a series in the legend; `currency` formats amounts. Each bar segment has a <title>
 * (the day, the series and the amount), which browsers show on hover and screen readers read.
 */
export function stackedBars({ days, values, label = (series) => series, currency = "", title }) {
  const series = Object.keys(values);
  const totals = days.map((day) => series.reduce((sum, name) => sum + (values[name][day] ?? 0), 0));
  const highest = Math.max(...totals, 0) || 1;
  const width = 640;
  const height = 180;
  const top = 10;
  const bottom = 22;
  const slot = width / Math.max(days.length, 1);
  const bar = Math.max(2, slot * 0.7);
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    class: "spend-chart",
    "aria-label": title ?? text("Spend per day"),
    preserveAspectRatio: "none",
  });
  chart.append(svg("line", { x1: 0, y1: height - bottom, x2: width, y2: height - bottom, class: "axis" }));
  days.forEach((day, index) => {
    let y = height - bottom;
    const x = index * slot + (slot - bar) / 2;
    series.forEach((name, number) => {
      const amount = values[name][day] ?? 0;
      if (!amount) return;
      const tall = ((height - top - bottom) * amount) / highest;
      y -= tall;
      const segment = svg("rect", {
        x: x.toFixed(1),
        y: y.toFixed(1),
        width: bar.toFixed(1),
        height: Math.max(tall, 1).toFixed(1),
        fill: COLOURS[number % COLOURS.length],
        "data-day": day,
        "data-series": name,
        "data-amount": amount,
      });
      segment.append(svg("title", {}, `${day} · ${label(name)}: ${money(amount, currency)}`));
      chart.append(segment);
    });
    if (days.length <= 31 ? index % 7 === 0 : index % 14 === 0) {
      chart.append(svg("text", { x: (x + bar / 2).toFixed(1), y: height - 6, class: "tick" }, day.slice(5)));
    }
  });
  chart.append(svg("text", { x: 4, y: top + 8, class: "tick" }, money(highest, currency)));
  return chart;
}

/** The legend of a stacked chart: a swatch and a name per series. */
export function legend(series, label = (name) => name) {
  const list = document.createElement("ul");
  list.className = "legend";
  series.forEach((name, number) => {
    const item = document.createElement("li");
    const swatch = svg("svg", { width: 10, height: 10, "aria-hidden": "true" });
    swatch.append(svg("rect", { width: 10, height: 10, fill: COLOURS[number % COLOURS.length] }));
    item.append(swatch, ` ${label(name)}`);
    list.append(item);
  });
  return list;
}
