// Questionnaires (outcome measures): the ones the episode asks for now, and a form to answer one. Answers go
// through the outbox under a client id, so they work offline and a replay never stores them twice. Only the
// questionnaires this deployment offers are listed (the PEG always; licensed ones where the licence is held).
// Also the physiotherapist's card of scores and trends (outcomesCard), shown on the patient page.
import { api } from "../api.js";
import { cachedGet, openEpisode } from "../data.js";
import { submit } from "../outbox.js";
import { errorBox, fmtDayTime, focusHeading, h, nowIso, showError, uuid } from "../ui.js";

const TREND = { worsening: "worse", improving: "better", stable: "about the same" };

async function offered() {
  try {
    return (await cachedGet("/api/questionnaires/")).data;
  } catch {
    return [];
  }
}

async function openNow() {
  try {
    return (await cachedGet("/api/questionnaires/open/")).data;
  } catch {
    return [];
  }
}

export async function questionnaire(root, params) {
  const [list, episode] = await Promise.all([offered(), openEpisode().catch(() => null)]);
  const code = params[0];
  const chosen = code && list.find((q) => q.code === code);
  if (!chosen) return chooser(root, list, await openNow());
  root.append(h("h1", {}, chosen.title));
  if (!episode) {
    root.append(h("p", { class: "lead" }, "Start your plan first, then answer."), h("a", { class: "btn primary block", href: "#/today" }, "Start my plan"));
    return;
  }
  const form = h("form", { class: "stack", novalidate: true, id: "questionnaire-form", "data-code": chosen.code });
  for (const item of chosen.items) form.append(h("div", { class: "card" }, itemField(item)));
  const error = errorBox();
  const save = h("button", { type: "submit", class: "btn primary big block" }, "Save answers");
  form.append(error, save);
  const clientId = uuid(); // one id per answer: a retry or a replay never stores it twice
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, "");
    const data = new FormData(form);
    const answers = {};
    for (const item of chosen.items) {
      const value = data.get(`item-${item.id}`);
      if (value !== null) answers[item.id] = item.kind === "scale" ? Number(value) : value;
    }
    const count = Object.keys(answers).length;
    if (count < chosen.min_answered) {
      const need = chosen.min_answered === chosen.items.length ? "every question" : `at least ${chosen.min_answered} questions`;
      showError(error, `Please answer ${need} (${count} answered).`);
      return;
    }
    save.disabled = true;
    const body = { questionnaire: chosen.code, answers, occurred_at: nowIso(), episode: episode.id };
    const result = await submit("questionnaire_response", clientId, body);
    if (result && result.status >= 400) {
      showError(error, Object.values(result.errors || {}).flat(Infinity).join(" ") || `Not saved (${result.status}).`);
      save.disabled = false;
      return;
    }
    root.replaceChildren(
      h("h1", {}, result ? "Answers saved" : "Saved on this phone"),
      h(
        "p",
        { class: "lead", id: "questionnaire-result", "data-queued": result ? "0" : "1" },
        result ? "Thank you: your physiotherapist will see them." : "You are offline. They will be sent as soon as you are back online.",
      ),
      h("a", { class: "btn primary block", href: "#/today" }, "Back to today"),
    );
    focusHeading(root);
  });
  root.append(form);
}

function chooser(root, list, open) {
  root.append(h("h1", {}, "Questionnaires"));
  const due = new Set(open.map((o) => o.questionnaire));
  if (!list.length) {
    root.append(h("p", {}, "No questionnaire is available right now."));
    return;
  }
  root.append(
    h("p", { class: "lead" }, due.size ? "A few questions help follow your recovery." : "Nothing is due now; you may still answer one."),
    h(
      "ul",
      { class: "list", id: "questionnaires" },
      list.map((q) =>
        h("li", {}, h("a", { class: "item", href: `#/questionnaire/${q.code}` }, h("strong", {}, q.title), due.has(q.code) ? h("span", { class: "hint" }, " due now") : null)),
      ),
    ),
  );
}

function itemField(item) {
  const name = `item-${item.id}`;
  const set = h("fieldset", { class: item.kind === "scale" ? "choices pain" : "choices" }, h("legend", {}, item.text));
  const row = h("div", { class: "choice-row" });
  const options =
    item.kind === "scale"
      ? Array.from({ length: item.high - item.low + 1 }, (_, i) => [String(item.low + i), String(item.low + i)])
      : item.options.map((o) => [o.code, o.text]);
  for (const [value, label] of options) {
    const id = `${name}-${value}`;
    row.append(h("span", { class: "choice" }, h("input", { type: "radio", name, id, value }), h("label", { for: id }, label)));
  }
  set.append(row);
  if (item.kind === "scale" && item.anchors.length === 2) {
    set.append(h("p", { class: "scale-ends" }, h("span", {}, `${item.low} ${item.anchors[0]}`), h("span", {}, `${item.high} ${item.anchors[1]}`)));
  }
  return set;
}

// The physiotherapist's card: each questionnaire's latest score, its band, the trend and the history.
export async function outcomesCard(patientId) {
  const card = h("section", { class: "card", "aria-labelledby": "outcomes-h", id: "outcomes" }, h("h2", { id: "outcomes-h" }, "Questionnaires"));
  let outcomes;
  try {
    outcomes = await api(`/api/physio/patients/${patientId}/outcomes/`);
  } catch (error) {
    card.append(h("p", { class: "error" }, `Not available: ${error.message}`));
    return card;
  }
  if (!outcomes.length) {
    card.append(h("p", {}, "No questionnaire answered yet."));
    return card;
  }
  card.append(
    h(
      "ul",
      { class: "list" },
      outcomes.map((o) =>
        h(
          "li",
          { "data-questionnaire": o.questionnaire },
          h("strong", {}, `${o.title}: ${o.latest.score}${o.latest.band ? ` (${o.latest.band})` : ""}`),
          o.trend ? h("span", { class: `hint trend ${o.trend}` }, ` ${TREND[o.trend]} than before`) : null,
          h("span", { class: "hint" }, ` ${o.scores.map((s) => s.score).join(" → ")}, last ${fmtDayTime(o.latest.occurred_at)}`),
        ),
      ),
    ),
  );
  return card;
}

// Today's card when a questionnaire is due (null when none): a link to answer it.
export async function dueCard() {
  const open = await openNow();
  if (!open.length) return null;
  const list = await offered();
  const titles = open.map((o) => (list.find((q) => q.code === o.questionnaire) || {}).title || o.questionnaire);
  const first = open[0].questionnaire;
  return h(
    "section",
    { class: "card", id: "questionnaire-due", "aria-labelledby": "qdue-h" },
    h("h2", { id: "qdue-h" }, "A few questions"),
    h("p", {}, `Due now: ${[...new Set(titles)].join(", ")}.`),
    h("a", { class: "btn secondary block", href: open.length > 1 ? "#/questionnaire" : `#/questionnaire/${first}` }, "Answer now"),
  );
}
