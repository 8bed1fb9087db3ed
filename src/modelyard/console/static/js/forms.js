// Forms: labelled fields, forms generated from a provider's credential schema, and API errors shown next to the
// field they name. Every field is a `.field[data-field=NAME]` holding its control and a `.field-error`.

import { h, uid } from "./dom.js";
import { text, tr, translate, translateAttribute } from "./i18n.js";
import { busy, toast } from "./ui.js";

export const SECRET_MASK = "************"; // what the API sends in place of a stored secret; sending it back keeps it

/** Wrap a control with its label, required marker, help and error slot. */
export function field({ name, label, control, required = false, help, legend = false }) {
  const errorId = uid("error");
  const helpId = help ? uid("help") : null;
  const described = [helpId, errorId].filter(Boolean).join(" ");
  const marker = required ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null;
  const caption = typeof label === "string" || (label && !(label instanceof Node)) ? tr(label) : label;
  let wrapper;
  if (legend) {
    wrapper = h("fieldset", { class: "field", dataset: { field: name } }, h("legend", {}, caption, marker), control);
  } else {
    // the label points at the input itself, also when it sits inside a wrapper (a switch)
    const input = control.matches("input, select, textarea")
      ? control
      : control.querySelector("input, select, textarea");
    input.id ||= uid("field");
    wrapper = h(
      "div",
      { class: "field", dataset: { field: name } },
      h("label", { for: input.id }, caption, marker),
      control,
    );
  }
  for (const input of controlsOf(wrapper)) {
    input.setAttribute("aria-describedby", described);
    if (required) input.setAttribute("aria-required", "true");
  }
  if (help) wrapper.append(h("p", { class: "help", id: helpId }, tr(help)));
  wrapper.append(h("p", { class: "field-error", id: errorId }));
  wrapper.label = label; // the source, so a "required" message follows the language toggle
  return wrapper;
}

function controlsOf(wrapper) {
  return wrapper.querySelectorAll("input, select, textarea");
}

// `value` is the declared default: set as the attribute (defaultValue), so form.reset() comes back to it.
export function textField({ name, label, type = "text", value = "", placeholder, required, help, autocomplete }) {
  const input = h("input", { type, name, autocomplete, required });
  input.defaultValue = value;
  if (placeholder) translateAttribute(input, "placeholder", placeholder);
  return field({ name, label, control: input, required, help });
}

/** options: [{value, label}] where label is an English UI string or a catalog {en_US, zh_Hans} object. */
export function selectField({ name, label, options, value = "", required, help, onChange }) {
  const select = h(
    "select",
    { name, required },
    options.map((option) => translate(h("option", { value: option.value }), option.label)),
  );
  // Mark the declared default as the selected option, not only the current value: form.reset() goes back to
  // the option marked so, or else to the first one (which, for a role, was Owner).
  for (const option of select.options) option.defaultSelected = option.value === value;
  select.value = value;
  if (onChange) select.addEventListener("change", () => onChange(select.value));
  return field({ name, label, control: select, required, help });
}

/** A <form> that runs `onSubmit` with its button busy, and shows a failure next to the field it names. */
export function form({ onSubmit, className = "", label }, ...children) {
  const element = h("form", { class: className, novalidate: true }, children);
  if (label) translateAttribute(element, "aria-label", label);
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(element);
    const missing = blankRequired(element);
    if (missing) {
      showError(element, missing); // the server refuses it too; this only saves the round trip
      return;
    }
    const submit = event.submitter ?? element.querySelector("button[type=submit]");
    try {
      await busy(submit, () => onSubmit(element));
    } catch (error) {
      showError(element, error);
    }
  });
  return element;
}

/** The first shown control marked `required` (textField, selectField) left blank, as an error naming it. */
function blankRequired(container) {
  for (const control of container.querySelectorAll("input[required], select[required], textarea[required]")) {
    if (control.closest("[hidden]") || control.value.trim() !== "") continue;
    const wrapper = control.closest(".field");
    return {
      field: wrapper?.dataset.field,
      message: text("{label} is required", { label: text(wrapper?.label ?? control.name) }),
    };
  }
  return null;
}

export function formError() {
  return h("p", { class: "form-error", role: "alert" });
}

export function clearErrors(container) {
  for (const slot of container.querySelectorAll(".field-error, .form-error")) {
    slot.textContent = "";
    delete slot.dataset.i18n; // a language switch must not bring a cleared error back
  }
  for (const control of container.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
}

/** Put an API error next to the field it names (`error.field`), or at the form level when it names none. */
export function showError(container, error) {
  clearErrors(container);
  const message = error?.text ?? error?.message ?? String(error); // an ApiError's text follows the language toggle
  const wrapper = fieldFor(container, error?.field);
  if (wrapper && !wrapper.hidden) {
    translate(wrapper.querySelector(".field-error"), message);
    const control = wrapper.querySelector("input, select, textarea");
    control?.setAttribute("aria-invalid", "true");
    control?.focus();
    return;
  }
  let slot = container.querySelector(".form-error");
  if (!slot) {
    slot = formError();
    container.append(slot);
  }
  translate(slot, message);
  if (!container.isConnected) toast(text(message), { bad: true });
}

function fieldFor(container, name) {
  if (!name) return null;
  // the API may name a nested field ("values.api_key"); the form knows it by its last part
  for (const candidate of [name, String(name).split(".").pop()]) {
    const found = container.querySelector(`[data-field="${CSS.escape(candidate)}"]`);
    if (found) return found;
  }
  return null;
}

/** The trimmed value of a named control in a form. */
export function valueOf(container, name) {
  const control = container.querySelector(`[name="${CSS.escape(name)}"]`);
  return control ? control.value.trim() : "";
}

// --- forms generated from a provider's schema ------------------------------------------------------------------

/**
 * Build the inputs a provider's form schema describes (credential_schema or model_credential_schema).
 * `values` pre-fills them (secrets arrive masked). Fields with `show_on` appear only while their conditions hold,
 * re-checked on every change. Returns {element, collect(), check()}.
 */
export function schemaFields(schema, { values = {}, editing = false, context = {} } = {}) {
  const inputs = schema.map((spec) => schemaInput(spec, values[spec.variable] ?? spec.default ?? ""));
  const element = h(
    "div",
    { class: "form-grid" },
    inputs.map((input) => input.wrapper),
  );

  // `context` holds values from outside the schema that `show_on` may name: `__model_type`, the type of the
  // custom model being described, so a field shows only for the model types it applies to.
  let outside = { ...context };
  const current = () => ({
    ...outside,
    ...Object.fromEntries(inputs.map((input) => [input.spec.variable, input.read()])),
  });
  const holds = (conditions, now) => (conditions ?? []).every((c) => now[c.variable] === c.value);
  const refresh = () => {
    const now = current();
    for (const input of inputs) {
      input.wrapper.hidden = !holds(input.spec.show_on, now);
      input.filterOptions((option) => holds(option.show_on, now));
    }
  };
  element.addEventListener("input", refresh);
  element.addEventListener("change", refresh);
  refresh();

  return {
    element,
    /** Change the values from outside the schema (the model type) and show the fields they call for. */
    setContext(next) {
      outside = { ...outside, ...next };
      refresh();
    },
    /** The values of the fields shown now; empty ones are left out, or sent as "" (clear) when editing. */
    collect() {
      const result = {};
      for (const input of inputs) {
        if (input.wrapper.hidden) continue;
        const value = input.read();
        if (value !== "" || editing) result[input.spec.variable] = value;
      }
      return result;
    },
    /** Flag empty required fields before a round trip; true when none is. */
    check() {
      for (const input of inputs) {
        if (input.wrapper.hidden || !input.spec.required || input.read() !== "") continue;
        const error = {
          field: input.spec.variable,
          message: text("{label} is required", { label: text(input.spec.label) }),
        };
        showError(element, error);
        return false;
      }
      return true;
    },
  };
}

function schemaInput(spec, initial) {
  const common = { name: spec.variable, label: spec.label, required: spec.required, help: spec.help };
  const noFilter = () => {};
  if (spec.type === "radio") return radioInput(spec, initial, common);
  if (spec.type === "switch") {
    const input = h("input", { type: "checkbox", role: "switch", name: spec.variable, checked: initial === "true" });
    const wrapper = field({ ...common, control: h("span", { class: "switch" }, input) });
    return { spec, wrapper, read: () => (input.checked ? "true" : "false"), filterOptions: noFilter };
  }
  if (spec.type === "select") return selectInput(spec, initial, common);
  const secret = spec.type === "secret-input";
  const input = h("input", {
    type: secret ? "password" : "text",
    name: spec.variable,
    autocomplete: secret ? "new-password" : "off",
    maxlength: spec.max_length,
    required: spec.required,
  });
  input.defaultValue = initial; // the attribute: a form reset comes back to it
  if (spec.placeholder) translateAttribute(input, "placeholder", spec.placeholder);
  const wrapper = field({ ...common, control: input });
  const read = () => (secret ? input.value : input.value.trim());
  return { spec, wrapper, read, filterOptions: noFilter };
}

function selectInput(spec, initial, common) {
  const blank = !spec.required && spec.default == null;
  const options = spec.options.map((option) => {
    const element = translate(h("option", { value: option.value }), option.label);
    element.spec = option;
    return element;
  });
  const select = h(
    "select",
    { name: spec.variable },
    blank ? translate(h("option", { value: "" }), "—") : null,
    options,
  );
  select.value = initial;
  const wrapper = field({ ...common, control: select });
  const filterOptions = (visible) => {
    for (const option of options) option.hidden = option.disabled = !visible(option.spec);
    if (select.selectedOptions[0]?.disabled) select.value = options.find((o) => !o.disabled)?.value ?? "";
  };
  return { spec, wrapper, read: () => select.value, filterOptions };
}

function radioInput(spec, initial, common) {
  const radios = spec.options.map((option) => {
    const radio = h("input", {
      type: "radio",
      name: spec.variable,
      value: option.value,
      checked: option.value === initial,
    });
    radio.spec = option;
    return radio;
  });
  const choices = h(
    "div",
    { class: "choices", role: "radiogroup" },
    radios.map((radio) => h("label", {}, radio, tr(radio.spec.label))),
  );
  const wrapper = field({ ...common, control: choices, legend: true });
  const read = () => radios.find((radio) => radio.checked)?.value ?? "";
  const filterOptions = (visible) => {
    for (const radio of radios) {
      radio.closest("label").hidden = radio.disabled = !visible(radio.spec);
      if (radio.disabled) radio.checked = false;
    }
  };
  return { spec, wrapper, read, filterOptions };
}

/**
 * The stored values of a schema form as `label: value` pairs; secrets come from the API already masked. A choice
 * shows its option's label and a switch Yes or No, in the page's language, not the raw value.
 */
export function valuesSummary(schema, values = {}) {
  const shown = schema.filter((spec) => values[spec.variable] !== undefined && values[spec.variable] !== "");
  const shownValue = (spec, value) => {
    const option = spec.options?.find((o) => o.value === value);
    if (option) return tr(option.label);
    if (spec.type === "switch") return tr(value === "true" ? "Yes" : "No");
    return h("code", {}, value);
  };
  return h(
    "div",
    { class: "values" },
    shown.map((spec) =>
      h(
        "span",
        { dataset: { value: spec.variable } },
        tr(spec.label),
        ": ",
        h("strong", { class: "value" }, shownValue(spec, values[spec.variable])),
      ),
    ),
  );
}

/** A "check with the provider" switch, on by default, and the line shown while the check runs. */
export function validateSwitch() {
  const input = h("input", { type: "checkbox", role: "switch", name: "validate", checked: true });
  return h("label", { class: "switch" }, input, tr("Check with the provider before saving"));
}

export function validatingNotice() {
  const notice = h("p", { class: "validating", hidden: true }, h("span", { class: "spinner" }), tr("Validating…"));
  notice.setAttribute("role", "status");
  return notice;
}

/** Run `work` with the validating notice shown when the form's validate switch is on. */
export async function whileValidating(container, work) {
  const notice = container.querySelector(".validating");
  const checking = container.elements?.validate?.checked ?? true;
  if (notice) notice.hidden = !checking;
  try {
    return await work(checking);
  } finally {
    if (notice) notice.hidden = true;
  }
}
