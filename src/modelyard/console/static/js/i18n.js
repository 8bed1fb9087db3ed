// Two languages, switched live. UI strings are keyed by their English text (strings.js holds the Chinese);
// catalog labels arrive as {en_US, zh_Hans} objects. Every translated node remembers its source, so a switch
// relabels the page in place and never throws away what the user has typed.

import { ZH_HANS } from "./strings.js";

export const LANGUAGES = ["en_US", "zh_Hans"];
const STORAGE_KEY = "modelyard.lang";

let current = LANGUAGES.includes(localStorage.getItem(STORAGE_KEY)) ? localStorage.getItem(STORAGE_KEY) : "en_US";

export function lang() {
  return current;
}

/** The text of a source in the current language: an English UI string, or a catalog {en_US, zh_Hans} object. */
export function text(source, params) {
  let resolved;
  if (source === null || source === undefined) resolved = "";
  else if (typeof source === "object") resolved = source[current] || source.en_US || "";
  else resolved = (current === "zh_Hans" && ZH_HANS[source]) || String(source);
  if (params) resolved = resolved.replace(/\{(\w+)\}/g, (match, name) => (name in params ? params[name] : match));
  return resolved;
}

/** A span whose text follows the language toggle. */
export function tr(source, params) {
  const span = document.createElement("span");
  return translate(span, source, params);
}

/** Make an element's whole text follow the language toggle (for <option>, <button>, headings ...). */
export function translate(element, source, params) {
  element.i18n = { source, params };
  element.dataset.i18n = "";
  element.textContent = text(source, params);
  return element;
}

/** Make an attribute (placeholder, aria-label, title) follow the language toggle. */
export function translateAttribute(element, attribute, source, params) {
  element.i18nAttributes = { ...(element.i18nAttributes ?? {}), [attribute]: { source, params } };
  element.dataset.i18nAttr = "";
  element.setAttribute(attribute, text(source, params));
  return element;
}

const listeners = new Set();

/** Run `callback` after each language switch; returns the function that stops it. */
export function onLanguageChange(callback) {
  listeners.add(callback);
  return () => listeners.delete(callback);
}

export function setLang(next) {
  if (!LANGUAGES.includes(next)) return;
  current = next;
  localStorage.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next === "zh_Hans" ? "zh-Hans" : "en";
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = text(element.i18n.source, element.i18n.params);
  }
  for (const element of document.querySelectorAll("[data-i18n-attr]")) {
    for (const [attribute, { source, params }] of Object.entries(element.i18nAttributes)) {
      element.setAttribute(attribute, text(source, params));
    }
  }
  for (const callback of listeners) callback(next);
}

document.documentElement.lang = current === "zh_Hans" ? "zh-Hans" : "en";
