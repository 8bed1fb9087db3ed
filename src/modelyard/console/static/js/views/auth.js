// Sign-in and first-run setup: full pages outside the console frame.

import { get, post } from "../api.js";
import { h } from "../dom.js";
import { form, formError, textField, valueOf } from "../forms.js";
import { text, tr } from "../i18n.js";
import { go, route } from "../router.js";
import { loadSession, remember } from "../session.js";
import { languageToggle } from "../shell.js";
import { button } from "../ui.js";

function authPage(title, lede, body) {
  return h(
    "div",
    { class: "auth" },
    h("div", { class: "corner" }, languageToggle()),
    h("section", { class: "panel" }, h("h1", {}, tr(title)), h("p", { class: "lede" }, tr(lede)), body),
  );
}

async function signIn(email, password) {
  try {
    remember(await post("/auth/login", { email, password }));
  } catch (error) {
    if (error.status === 429 && error.retryAfter) {
      error.message = `${error.message} ${text("Try again in {seconds} s.", { seconds: error.retryAfter })}`;
    }
    throw error;
  }
  await loadSession();
  go("#/providers");
}

function loginPage() {
  const login = form(
    { onSubmit: (element) => signIn(valueOf(element, "email"), element.elements.password.value), label: "Sign in" },
    textField({ name: "email", label: "Email", type: "email", autocomplete: "username", required: true }),
    textField({
      name: "password",
      label: "Password",
      type: "password",
      autocomplete: "current-password",
      required: true,
    }),
    formError(),
    button("Sign in", null, { kind: "primary", type: "submit" }),
  );
  return authPage("Sign in to modelyard", "Manage model providers for your workspaces.", login);
}

async function setupPage({ query }) {
  const { needed } = await get("/auth/setup");
  if (!needed) {
    return authPage(
      "Setup is done",
      "This server already has an owner account.",
      h("a", { class: "button primary", href: "#/login" }, tr("Sign in")),
    );
  }
  const setup = form(
    {
      label: "Create the owner account",
      onSubmit: async (element) => {
        const body = {
          token: valueOf(element, "token"),
          name: valueOf(element, "name"),
          email: valueOf(element, "email"),
          password: element.elements.password.value,
        };
        remember(await post("/auth/setup", body)); // setup signs the new owner in
        if (await loadSession()) go("#/providers");
        else await signIn(body.email, body.password);
      },
    },
    textField({
      name: "token",
      label: "Setup token",
      value: query.get("token") ?? "",
      required: true,
      help: "Printed by “modelyard serve” on first start.",
    }),
    textField({ name: "name", label: "Your name", autocomplete: "name" }),
    textField({ name: "email", label: "Email", type: "email", autocomplete: "username", required: true }),
    textField({ name: "password", label: "Password", type: "password", autocomplete: "new-password", required: true }),
    formError(),
    button("Create owner account", null, { kind: "primary", type: "submit" }),
  );
  return authPage(
    "Set up modelyard",
    "Create the first owner account; a workspace named Default comes with it.",
    setup,
  );
}

route("login", loginPage, { title: "Sign in", public: true });
route("setup", setupPage, { title: "Setup", public: true });
