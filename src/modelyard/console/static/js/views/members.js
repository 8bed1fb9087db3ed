// Members of the workspace: list with roles, change a role, remove, and add an existing or new account.

import { del, get, patch, post } from "../api.js";
import { h, replace } from "../dom.js";
import { form, formError, selectField, textField, valueOf } from "../forms.js";
import { text, tr, translate, translateAttribute } from "../i18n.js";
import { route } from "../router.js";
import { canManage, session, workspace, wsPath } from "../session.js";
import { act, button, confirmDialog, empty, failed, loading, pageHead, panel, table, toast, when } from "../ui.js";

const ROLES = [
  { value: "owner", label: "Owner" },
  { value: "admin", label: "Admin" },
  { value: "member", label: "Member" },
];

function roleSelect(member, refresh) {
  const select = h(
    "select",
    { class: "compact", disabled: !canManage() },
    ROLES.map((role) => translate(h("option", { value: role.value }), role.label)),
  );
  select.value = member.role;
  translateAttribute(select, "aria-label", "Role of {email}", { email: member.email });
  select.addEventListener("change", async () => {
    try {
      await patch(wsPath(`/members/${encodeURIComponent(member.account_id)}`), { role: select.value });
      toast(
        text("{email} is now {role}", {
          email: member.email,
          role: text(ROLES.find((r) => r.value === select.value).label),
        }),
      );
      await refresh();
    } catch (error) {
      select.value = member.role;
      toast(error.message, { bad: true });
    }
  });
  return select;
}

function memberRow(member, refresh) {
  const row = h("tr", { dataset: { member: member.account_id, email: member.email } });
  const isMe = member.account_id === session.account?.id;
  const remove =
    canManage() && !isMe
      ? button(
          "Remove",
          async (_event, self) => {
            if (
              !(await confirmDialog("Remove {email} from this workspace?", {
                confirm: "Remove",
                params: { email: member.email },
              }))
            )
              return;
            const path = wsPath(`/members/${encodeURIComponent(member.account_id)}`);
            if (await act(self, row.lastChild, () => del(path))) await refresh();
          },
          { small: true, kind: "danger" },
        )
      : null;
  const who = [
    h("strong", {}, member.name || member.email),
    h("div", { class: "sub" }, member.email),
    isMe ? h("span", { class: "chip" }, tr("you")) : null,
  ];
  for (const cell of [who, roleSelect(member, refresh), when(member.joined_at), remove]) row.append(h("td", {}, cell));
  row.lastChild.className = "actions";
  return row;
}

function addMemberForm(refresh) {
  return form(
    {
      className: "add-member",
      label: "Add a member",
      onSubmit: async (self) => {
        const body = { email: valueOf(self, "email"), role: valueOf(self, "role") };
        const password = self.elements.password.value;
        if (password) Object.assign(body, { password, name: valueOf(self, "name") });
        await post(wsPath("/members"), body);
        self.reset();
        await refresh();
      },
    },
    h(
      "div",
      { class: "form-grid" },
      textField({ name: "email", label: "Email", type: "email", required: true }),
      selectField({ name: "role", label: "Role", options: ROLES, value: "member", required: true }),
      textField({ name: "name", label: "Name", help: "For a new account only." }),
      textField({
        name: "password",
        label: "Password",
        type: "password",
        autocomplete: "new-password",
        help: "Give one to create the account; leave empty to add an existing account.",
      }),
    ),
    formError(),
    h("div", { class: "form-actions" }, button("Add member", null, { kind: "primary", type: "submit" })),
  );
}

async function membersPage() {
  const list = h("div", { id: "member-list" }, loading());
  const refresh = async () => {
    try {
      const members = await get(wsPath("/members"));
      replace(
        list,
        members.length
          ? table(
              ["Member", "Role", "Joined", ""],
              members.map((m) => memberRow(m, refresh)),
            )
          : empty("No members."),
      );
    } catch (error) {
      replace(list, failed(error));
    }
  };
  refresh();
  return h(
    "div",
    {},
    pageHead(
      "Members",
      "Owners and admins change credentials, keys and members; members use and read.",
      h("span", { class: "chip" }, workspace().name),
    ),
    panel("Members", list),
    canManage() ? panel("Add a member", addMemberForm(refresh)) : null,
  );
}

route("members", membersPage, { title: "Members" });
