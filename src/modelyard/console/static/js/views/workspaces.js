// Creating a workspace: from the switcher, or on the empty page an account without workspaces sees.

import { post } from "../api.js";
import { h } from "../dom.js";
import { form, formError, textField, valueOf } from "../forms.js";
import { tr } from "../i18n.js";
import { chooseWorkspace, loadSession } from "../session.js";
import { button, dialog, panel } from "../ui.js";

async function create(element) {
  const created = await post("/workspaces", { name: valueOf(element, "name") });
  await loadSession();
  chooseWorkspace(created.id);
  document.querySelector("main#content")?.remove(); // the frame is rebuilt with the new switcher entry
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

function workspaceForm(after) {
  return form(
    {
      label: "New workspace",
      onSubmit: async (element) => {
        await create(element);
        after?.();
      },
    },
    textField({ name: "name", label: "Workspace name", required: true }),
    formError(),
    h("div", { class: "form-actions" }, button("Create workspace", null, { kind: "primary", type: "submit" })),
  );
}

export function noWorkspace() {
  return panel(
    "No workspace yet",
    h("p", { class: "lede" }, tr("Create one to configure model providers.")),
    workspaceForm(),
  );
}

export function newWorkspaceButton() {
  return button(
    "+",
    () =>
      dialog((close) => [
        h("h2", {}, tr("New workspace")),
        workspaceForm(() => close()),
        h(
          "div",
          { class: "form-actions dialog-actions" },
          button("Cancel", () => close()),
        ),
      ]),
    { small: true },
  );
}
