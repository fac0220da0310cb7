// Teams: the teams the user belongs to, making one, and accepting an invitation. The invitation
// mail links here with `?invitation=<token>`, which fills the form; accepting is still a click.
// Running a team (members, keys, accounts, usage) is the API's: /api/teams/{id}/…

import { api } from "./api.js";
import { h, mount, field, table, loadInto, toast, formatCredits, formatDate } from "./dom.js";
import { pageHead, card, formMessages, withBusy } from "./user-ui.js";

/**
 * @param {HTMLElement} root
 * @param {{invitation?: string}} params
 */
export async function teamsPage(root, params = {}) {
  const listBox = h("div");
  const loadList = () => loadInto(listBox, renderList, "Loading your teams…");

  async function renderList() {
    const answer = await api("/api/teams");
    const teams = answer.data || [];
    return table({
      id: "teams-table",
      caption: `${teams.length} ${teams.length === 1 ? "team" : "teams"}`,
      rows: teams,
      rowKey: (team) => ["data-team-id", team.id],
      empty: "You are in no team yet. Make one below, or accept an invitation.",
      columns: [
        { label: "Team", value: (team) => team.name, className: "wrap" },
        { label: "Your role", value: (team) => team.role || "—" },
        { label: "Balance", value: (team) => `${formatCredits(team.balance)} credits`, className: "nowrap" },
        { label: "Plan", value: (team) => team.plan },
        { label: "Made", value: (team) => formatDate(team.created_at), className: "nowrap" },
      ],
    });
  }

  mount(
    root,
    pageHead("Teams", "A team shares a wallet: its members' team keys spend it, within each member's limit."),
    card("Accept an invitation", {}, acceptForm(params.invitation || "", loadList)),
    card("Your teams", {}, listBox),
    card("Make a team", {}, createForm(loadList)),
  );
  await loadList();
}

function acceptForm(token, reload) {
  const input = h("input", { id: "invitation-token", name: "token", value: token, autocomplete: "off", spellcheck: "false" });
  const submit = h("button", { type: "submit", id: "invitation-accept", class: "primary" }, "Accept");
  const messages = formMessages();
  const form = h(
    "form",
    { id: "invitation-form", "aria-label": "Accept a team invitation" },
    field("Invitation token", input, "From the invitation mail. It works once, for the address it was sent to."),
    messages.nodes,
    h("div", { class: "form-actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    messages.clear();
    const value = input.value.trim();
    if (!value) return messages.fail("Paste the token from your invitation.");
    await withBusy(submit, async () => {
      try {
        const team = await api("/api/team-invitations/accept", { method: "POST", body: { token: value } });
        input.value = "";
        messages.ok(`You joined ${team.name} as ${team.role}.`);
        toast(`You joined ${team.name}.`, "success");
        await reload();
      } catch (error) {
        messages.fail(error);
      }
    }, "Accepting…");
  });
  return form;
}

function createForm(reload) {
  const input = h("input", { id: "team-name", name: "name", maxlength: "100", autocomplete: "off", placeholder: "e.g. Research" });
  const submit = h("button", { type: "submit", id: "team-create", class: "primary" }, "Make team");
  const messages = formMessages();
  const form = h(
    "form",
    { id: "team-form", "aria-label": "Make a team" },
    field("Name", input, "You will be its owner."),
    messages.nodes,
    h("div", { class: "form-actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    messages.clear();
    const name = input.value.trim();
    if (!name) return messages.fail("Give the team a name.");
    await withBusy(submit, async () => {
      try {
        const team = await api("/api/teams", { method: "POST", body: { name } });
        input.value = "";
        messages.ok(`${team.name} is made; you are its owner.`);
        await reload();
      } catch (error) {
        messages.fail(error);
      }
    }, "Making…");
  });
  return form;
}
