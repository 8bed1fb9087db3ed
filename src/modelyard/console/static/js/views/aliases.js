// Model aliases: a name for several models, first choice first, each with a weight. Calls spread over them by
// weight and fall back to the next when one fails before answering; a model resting after failures shows so.

import { del, get, patch, post } from "../api.js";
import { h, replace } from "../dom.js";
import { field, form, formError, selectField, textField, valueOf } from "../forms.js";
import { text, tr, translate, translateAttribute } from "../i18n.js";
import { route } from "../router.js";
import { canManage, wsPath } from "../session.js";
import {
  MODEL_TYPE_TEXT,
  act,
  button,
  confirmDialog,
  dialog,
  empty,
  failed,
  loading,
  modelTypeChip,
  pageHead,
  panel,
  statusPill,
  table,
  toast,
} from "../ui.js";

const TYPE_OPTIONS = Object.entries(MODEL_TYPE_TEXT).map(([value, label]) => ({ value, label }));

function targetState(target) {
  if (target.cooldown_remaining_s > 0) {
    return statusPill("cooling", { seconds: Math.ceil(target.cooldown_remaining_s) });
  }
  if (!target.is_available) {
    const pill = h("span", { class: "pill warning", dataset: { status: "unavailable" } }, tr("Unavailable"));
    if (target.reason) pill.title = target.reason;
    return pill;
  }
  return statusPill("available");
}

function targetsCell(alias) {
  return h(
    "ol",
    { class: "alias-targets" },
    alias.targets.map((target) =>
      h(
        "li",
        { dataset: { target: `${target.provider}/${target.model}` } },
        h("code", {}, `${target.provider}/${target.model}`),
        " ",
        target.weight > 0
          ? h("span", { class: "muted" }, tr("weight {weight}", { weight: target.weight }))
          : h("span", { class: "muted" }, tr("fallback only")),
        " ",
        targetState(target),
      ),
    ),
  );
}

/**
 * The ordered list of an alias's models: a model picker and a weight per row, moved up or down, added, removed.
 * `models` are the workspace's models ({provider, model, model_type}); returns {element, collect(), setType()}.
 */
function targetsEditor(targets, models, modelType) {
  const rows = h("ol", { class: "targets-editor" });
  let type = modelType;
  const choices = () => models.filter((m) => m.model_type === type);

  const picker = (value) => {
    const select = h("select", { name: "target-model" });
    const listed = choices().map((m) => `${m.provider}/${m.model}`);
    if (value && !listed.includes(value)) listed.unshift(value);
    for (const name of listed) select.append(h("option", { value: name }, name));
    if (value) select.value = value;
    translateAttribute(select, "aria-label", "Model");
    return select;
  };

  const renumber = () => {
    [...rows.children].forEach((row, index) => {
      row.dataset.field = `targets[${index}]`;
    });
  };

  const addRow = (target = {}) => {
    const name = target.provider ? `${target.provider}/${target.model}` : "";
    const weight = h("input", { type: "number", name: "target-weight", min: "0", max: "1000", step: "1" });
    weight.value = String(target.weight ?? 1);
    translateAttribute(weight, "aria-label", "Weight");
    const row = h("li", { class: "target-row" }, picker(name), weight);
    row.append(
      button("Move up", () => {
        if (row.previousElementSibling) row.previousElementSibling.before(row);
        renumber();
      }, { small: true }),
      button("Remove", () => {
        row.remove();
        renumber();
      }, { small: true }),
      h("p", { class: "field-error" }),
    );
    rows.append(row);
    renumber();
  };

  for (const target of targets) addRow(target);
  if (!targets.length) addRow();
  const element = field({
    name: "targets",
    label: "Models, first choice first",
    legend: true,
    help: "Weight 0: used only when the others fail.",
    control: h("div", {}, rows, button("Add a model", () => addRow(), { small: true })),
  });
  return {
    element,
    collect: () =>
      [...rows.children].map((row) => {
        const [provider, ...model] = row.querySelector("select").value.split("/");
        return { provider, model: model.join("/"), weight: Number(row.querySelector("input").value) };
      }),
    setType(next) {
      type = next;
      for (const select of rows.querySelectorAll("select")) select.replaceWith(picker(""));
    },
  };
}

function budgetFields(alias = {}) {
  return h(
    "div",
    { class: "form-grid" },
    textField({
      name: "max_attempts",
      label: "Attempts per call",
      type: "number",
      value: String(alias.max_attempts ?? 3),
      help: "Retries and fallbacks together, before the first byte.",
    }),
    textField({
      name: "max_time_s",
      label: "Seconds per call",
      type: "number",
      value: String(alias.max_time_s ?? 30),
    }),
  );
}

function budgets(container) {
  return { max_attempts: Number(valueOf(container, "max_attempts")), max_time_s: Number(valueOf(container, "max_time_s")) };
}

function createForm(models, refresh) {
  const editor = targetsEditor([], models, "llm");
  return form(
    {
      className: "create-alias",
      label: "Make an alias",
      onSubmit: async (self) => {
        const body = {
          name: valueOf(self, "name"),
          model_type: valueOf(self, "model_type"),
          targets: editor.collect(),
          ...budgets(self),
        };
        await post(wsPath("/aliases"), body);
        toast(text("Saved the alias {name}", { name: body.name }));
        await refresh();
      },
    },
    h(
      "div",
      { class: "form-grid" },
      textField({ name: "name", label: "Alias name", required: true, placeholder: "e.g. smart" }),
      selectField({
        name: "model_type",
        label: "Model type",
        options: TYPE_OPTIONS,
        value: "llm",
        onChange: (type) => editor.setType(type),
      }),
    ),
    editor.element,
    budgetFields(),
    formError(),
    h("div", { class: "form-actions" }, button("Make alias", null, { kind: "primary", type: "submit" })),
  );
}

/** Edit an alias's models and budgets in a dialog; resolves true once saved. */
function editAlias(alias, models) {
  return dialog((close) => {
    const editor = targetsEditor(alias.targets, models, alias.model_type);
    const edit = form(
      {
        className: "edit-alias",
        label: "Edit the alias",
        onSubmit: async (self) => {
          await patch(wsPath(`/aliases/${encodeURIComponent(alias.name)}`), {
            targets: editor.collect(),
            ...budgets(self),
          });
          toast(text("Saved the alias {name}", { name: alias.name }));
          close(true);
        },
      },
      editor.element,
      budgetFields(alias),
      formError(),
      h(
        "div",
        { class: "form-actions dialog-actions" },
        button("Save changes", null, { kind: "primary", type: "submit" }),
        button("Cancel", () => close(false)),
      ),
    );
    return [h("h2", {}, tr("Alias {name}", { name: alias.name })), edit];
  });
}

function aliasRow(alias, models, refresh) {
  const row = h("tr", { dataset: { alias: alias.name } });
  const actions = canManage()
    ? h(
        "div",
        { class: "form-actions" },
        button(
          "Edit",
          async () => {
            if (await editAlias(alias, models)) await refresh();
          },
          { small: true },
        ),
        button(
          "Delete",
          async (_event, self) => {
            const sure = await confirmDialog("Delete the alias {name}? Calls that name it will be refused.", {
              params: { name: alias.name },
            });
            if (sure && (await act(self, row.lastChild, () => del(wsPath(`/aliases/${encodeURIComponent(alias.name)}`)))))
              await refresh();
          },
          { small: true, kind: "danger" },
        ),
      )
    : null;
  for (const cell of [
    h("strong", {}, alias.name),
    modelTypeChip(alias.model_type),
    targetsCell(alias),
    tr("{attempts} attempts in {seconds} s", { attempts: alias.max_attempts, seconds: alias.max_time_s }),
    actions,
  ]) {
    row.append(h("td", {}, cell));
  }
  row.lastChild.className = "actions";
  return row;
}

async function aliasesPage() {
  const models = await get(wsPath("/models"));
  const list = h("div", { id: "alias-list" }, loading());
  const refresh = async () => {
    try {
      const aliases = await get(wsPath("/aliases"));
      replace(
        list,
        aliases.length
          ? table(
              ["Name", "Type", "Models", "Budget per call", ""],
              aliases.map((alias) => aliasRow(alias, models, refresh)),
            )
          : empty("No aliases yet."),
      );
    } catch (error) {
      replace(list, failed(error));
    }
  };
  await refresh();
  const explain = h("p", { class: "lede" });
  translate(explain, "Call an alias as the model: “{example}”. The answer names the model that gave it.", {
    example: "smart",
  });
  return h(
    "div",
    {},
    pageHead(
      "Model aliases",
      "A name for several models: calls spread over them by weight, and move on to the next when one fails before answering.",
    ),
    panel("Aliases", explain, list),
    canManage() ? panel("Make an alias", createForm(models, refresh)) : null,
  );
}

route("aliases", aliasesPage, { title: "Model aliases" });
