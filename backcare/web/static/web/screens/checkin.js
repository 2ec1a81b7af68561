// Check-in: pain 0-10, optional details, the red-flag checklist. Saved through the outbox, so it
// works offline; an emergency answer shows the full-screen instruction at once.
import { checklist as loadChecklist, openEpisode } from "../data.js";
import { submit } from "../outbox.js";
import { errorBox, field, focusHeading, h, nowIso, showError, uuid } from "../ui.js";
import { localEscalation, showEscalation } from "./emergency.js";

export const PAIN_WORDS = [
  "No pain",
  "Very mild",
  "Mild",
  "Uncomfortable",
  "Moderate",
  "Distracting",
  "Hard to ignore",
  "Severe",
  "Intense",
  "Very intense",
  "Worst imaginable",
];

function radios(name, legend, options, { hint, className = "choices" } = {}) {
  const set = h("fieldset", { class: className }, h("legend", {}, legend));
  if (hint) set.append(h("p", { class: "hint" }, hint));
  const row = h("div", { class: "choice-row" });
  for (const [value, label, title] of options) {
    const id = `${name}-${value}`;
    row.append(
      h(
        "span",
        { class: "choice" },
        h("input", { type: "radio", name, id, value, "aria-label": title || undefined }),
        h("label", { for: id }, label),
      ),
    );
  }
  set.append(row);
  return set;
}

export async function checkin(root, _params, ctx) {
  const [episode, list] = await Promise.all([openEpisode().catch(() => null), loadChecklist()]);
  root.append(h("h1", {}, "How is your back?"));
  if (!episode) {
    root.append(
      h("p", { class: "lead" }, "Start your plan first, then log how you feel."),
      h("a", { class: "btn primary block", href: "#/today" }, "Start my plan"),
    );
    return;
  }

  const painWord = h("p", { class: "pain-word", id: "pain-word", "aria-live": "polite" }, "Choose a number");
  const pain = radios(
    "pain",
    "Pain right now, 0 to 10",
    PAIN_WORDS.map((word, n) => [String(n), String(n), `${n}: ${word}`]),
    { className: "choices pain" },
  );
  pain.append(painWord, h("p", { class: "scale-ends", "aria-hidden": "true" }, h("span", {}, "0 no pain"), h("span", {}, "10 worst")));
  pain.addEventListener("change", (event) => {
    const n = Number(event.target.value);
    painWord.textContent = `${n}: ${PAIN_WORDS[n]}`;
  });

  const spasms = radios("spasm_frequency", "Spasms today (optional)", [
    ["none", "None"],
    ["occasional", "Some"],
    ["frequent", "Often"],
    ["constant", "Constant"],
  ]);
  const sleep = radios("sleep_quality", "Last night's sleep (optional)", [
    ["good", "Good"],
    ["fair", "Fair"],
    ["poor", "Poor"],
  ]);
  const stiffness = h(
    "select",
    { name: "stiffness" },
    h("option", { value: "" }, "Not now"),
    PAIN_WORDS.map((_, n) => h("option", { value: String(n) }, String(n))),
  );
  const water = h("input", { name: "water_glasses", type: "number", min: 0, max: 40, inputmode: "numeric" });
  const note = h("textarea", { name: "note", rows: 3, maxlength: 1000 });

  const flags = h(
    "fieldset",
    { class: "redflags" },
    h("legend", {}, "Warning signs"),
    h("p", { class: "hint" }, "Tick any that are true now. If none are, leave them all empty."),
  );
  const rules = list ? list.rules : [];
  for (const rule of rules) {
    const id = `rf-${rule.code}`;
    const box = h("input", { type: "checkbox", id, name: "red_flag", value: rule.code, "data-level": rule.level });
    box.addEventListener("change", () => {
      // An emergency answer does not wait for "Save": the instruction comes at once.
      if (box.checked && rule.level === "emergency") showEscalation(localEscalation(list, { [rule.code]: true }));
    });
    flags.append(h("div", { class: "check" }, box, h("label", { for: id }, rule.question)));
  }
  if (!rules.length) flags.append(h("p", { class: "note" }, "The checklist could not be loaded. If you lose bladder or bowel control, feel numb between the legs or your legs get weaker, call your emergency number now."));

  const error = errorBox();
  const save = h("button", { type: "submit", class: "btn primary big block" }, "Save check-in");
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    h("div", { class: "card" }, pain),
    h("div", { class: "card" }, flags),
    h(
      "details",
      { class: "card" },
      h("summary", {}, "More details (optional)"),
      h(
        "div",
        { class: "stack" },
        spasms,
        sleep,
        field("Stiffness, 0 to 10", stiffness),
        field("Glasses of water today", water),
        field("Anything else", note),
      ),
    ),
    error,
    save,
  );
  const clientId = uuid(); // one id per check-in: a retry or a replay never stores it twice
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, "");
    const data = new FormData(form);
    if (data.get("pain") === null) {
      showError(error, "Choose a pain number from 0 to 10.");
      form.querySelector("input[name=pain]").focus();
      return;
    }
    const answers = Object.fromEntries(rules.map((rule) => [rule.code, false]));
    for (const code of data.getAll("red_flag")) answers[code] = true;
    const body = { occurred_at: nowIso(), episode: episode.id, pain: Number(data.get("pain")), red_flags: answers };
    for (const name of ["spasm_frequency", "sleep_quality"]) if (data.get(name)) body[name] = data.get(name);
    if (data.get("stiffness")) body.stiffness = Number(data.get("stiffness"));
    if (data.get("water_glasses")) body.water_glasses = Number(data.get("water_glasses"));
    if (data.get("note")) body.note = data.get("note");
    save.disabled = true;
    const local = localEscalation(list, answers);
    if (local && local.level === "emergency") showEscalation(local);
    const result = await submit("checkin", clientId, body);
    if (result && result.status >= 400) {
      showError(error, Object.values(result.errors || {}).flat().join(" ") || `Not saved (${result.status}).`);
      save.disabled = false;
      return;
    }
    const escalation = result ? result.record.escalation : local;
    done(root, { queued: !result, escalation, pain: body.pain });
    if (escalation && escalation.level === "emergency" && !(local && local.level === "emergency")) showEscalation(escalation);
  });
  root.append(form);
}

function done(root, { queued, escalation, pain }) {
  const parts = [
    h("h1", {}, queued ? "Saved on this phone" : "Check-in saved"),
    h(
      "p",
      { class: "lead", id: "checkin-result", "data-queued": queued ? "1" : "0" },
      queued
        ? "You are offline. It will be sent as soon as you are back online."
        : `Pain ${pain}: ${PAIN_WORDS[pain]}. Thank you.`,
    ),
  ];
  if (escalation) {
    parts.push(
      h(
        "section",
        { class: `card escalation-card ${escalation.level}`, role: "alert" },
        h("h2", {}, escalation.headline),
        h("ul", {}, escalation.actions.map((a) => h("li", {}, a))),
        escalation.level === "emergency" ? h("a", { class: "btn secondary block", href: "#/emergency" }, "Your plan is paused") : null,
      ),
    );
  }
  parts.push(h("a", { class: "btn primary block", href: "#/today" }, "Back to today"));
  root.replaceChildren(...parts);
  focusHeading(root);
}
