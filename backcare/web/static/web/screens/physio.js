// Physiotherapist: the triage queue, and one patient's charts, timeline, notes and prescription.
import { api, ApiError } from "../api.js";
import { errorBox, fmtDayTime, h, showError, toast } from "../ui.js";
import { alertsCard } from "./alerts.js";
import { painChart } from "./chart.js";
import { outcomesCard } from "./questionnaire.js";

const REASON_TEXT = {
  redflag_emergency: ["Emergency warning sign", "alert"],
  redflag_urgent: ["Urgent warning sign", "alert"],
  redflag_soon: ["Warning sign", "caution"],
  not_improving_day14: ["Not improving (day 14)", "caution"],
  not_improving_day7: ["Not improving (day 7)", "caution"],
  pain_worsening: ["Pain worsening", "caution"],
  startback_high: ["High risk (STarT Back)", "caution"],
  peg_worsening: ["PEG worsening", "caution"],
  rest_over_cap: ["Bed rest over limit", "caution"],
  nsaid_days: ["Long NSAID use", "caution"],
  high_pain: ["High pain", "caution"],
  no_checkin_48h: ["No check-in in 48 h", ""],
  low_adherence: ["Low adherence", ""],
  no_active_device: ["No device", ""],
  no_delivery_48h: ["No reminder delivered in 48 h", ""],
};
const PHASE_TEXT = { acute: "Ice phase", heat: "Heat phase", resolved: "Resolved", none: "No episode" };
const FIELD_TEXT = {
  ice_on_min: "Ice on (min)",
  ice_off_min: "Pause after ice (min)",
  acute_hours: "Ice phase length (h)",
  heat_on_min: "Heat on (min)",
  heat_off_min: "Pause after heat (min)",
  ice_after_acute: "Ice allowed after the ice phase",
  rest_nudge_hours: "Bed rest nudge (h)",
  rest_cap_hours: "Bed rest limit (h)",
  sitting_break_min: "Sitting break every (min)",
};

function unavailable(root, error) {
  const text =
    error instanceof ApiError && error.status === 404
      ? "This part of the server is not available yet."
      : `Could not load: ${error.message}`;
  root.append(h("p", { class: "error", role: "alert" }, text));
}

function reasonBadges(reasons) {
  return reasons.map((r) => {
    const [text, level] = REASON_TEXT[r] || [r, ""];
    return h("span", { class: `badge ${level}` }, text);
  });
}

export async function triage(root) {
  root.append(h("h1", {}, "Patients"), h("p", { class: "lead" }, "Most in need of attention first."));
  const search = h("input", { type: "search", id: "triage-search", placeholder: "Name or email" });
  const outcomeFilter = h(
    "select",
    { id: "triage-reason", "aria-label": "Show" },
    h("option", { value: "" }, "All patients"),
    h("option", { value: "startback_high,peg_worsening" }, "Questionnaire signals"),
  );
  outcomeFilter.addEventListener("change", () => load());
  const form = h(
    "form",
    { class: "row", role: "search" },
    h("label", { for: "triage-search", class: "visually-hidden" }, "Search patients"),
    h("div", { style: "flex:1; min-width:200px" }, search),
    h("button", { type: "submit", class: "btn secondary" }, "Search"),
    outcomeFilter, // issue 17: only patients with a high STarT Back risk or a worsening PEG
  );
  const table = h("div", { class: "card", style: "overflow-x:auto" });
  root.append(await alertsCard(), form, table); // open red-flag alerts first (screens/alerts.js)

  async function load() {
    let page;
    try {
      const params = new URLSearchParams();
      if (search.value) params.set("search", search.value);
      if (outcomeFilter.value) params.set("reason", outcomeFilter.value);
      const query = params.toString() ? `?${params}` : "";
      page = await api(`/api/physio/patients/${query}`);
    } catch (error) {
      table.replaceChildren();
      unavailable(table, error);
      return;
    }
    if (!page.results.length) {
      table.replaceChildren(h("p", {}, "No linked patients yet. Create an invitation code in Settings."));
      return;
    }
    table.replaceChildren(
      h(
        "table",
        { class: "triage" },
        h(
          "thead",
          {},
          h("tr", {}, ["Patient", "Why", "Day", "Latest pain", "Trend", "Last check-in"].map((t) => h("th", { scope: "col" }, t))),
        ),
        h(
          "tbody",
          {},
          page.results.map((row) =>
            h(
              "tr",
              {},
              h(
                "th",
                { scope: "row" },
                h("a", { href: `#/patient/${row.patient.id}` }, row.patient.display_name || row.patient.email),
              ),
              // data-label: on a phone the rows become cards, each cell named by it.
              h("td", { "data-label": "Why" }, row.reasons.length ? reasonBadges(row.reasons) : h("span", { class: "hint" }, "Nothing flagged")),
              h("td", { "data-label": "Day" }, row.day ? `Day ${row.day}, ${PHASE_TEXT[row.phase]}` : PHASE_TEXT[row.phase]),
              h("td", { "data-label": "Latest pain" }, row.latest_pain ?? "-"),
              h("td", { "data-label": "Trend" }, row.pain_trend || "-"),
              h("td", { "data-label": "Last check-in" }, row.last_checkin_at ? fmtDayTime(row.last_checkin_at) : "never"),
            ),
          ),
        ),
      ),
    );
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  await load();
}

export async function patient(root, params) {
  const id = Number(params[0]);
  root.append(h("p", {}, h("a", { href: "#/triage" }, "All patients")));
  let summary;
  try {
    summary = await api(`/api/physio/patients/${id}/`);
  } catch (error) {
    root.append(h("h1", {}, "Patient"));
    unavailable(root, error);
    return;
  }
  const person = summary.patient;
  const reviewed = h("span", { id: "reviewed-at" }, summary.link.last_reviewed_at ? fmtDayTime(summary.link.last_reviewed_at) : "never");
  const reviewButton = h("button", { type: "button", class: "btn secondary" }, "Mark reviewed");
  reviewButton.addEventListener("click", async () => {
    const answer = await api(`/api/physio/patients/${id}/reviewed/`, { method: "POST", body: {} });
    reviewed.textContent = fmtDayTime(answer.last_reviewed_at);
    toast("Marked reviewed.");
  });
  root.append(
    h("h1", {}, person.display_name || person.email),
    h(
      "dl",
      { class: "kv card" },
      h("dt", {}, "Email"),
      h("dd", {}, person.email),
      h("dt", {}, "Time zone"),
      h("dd", {}, person.timezone),
      h("dt", {}, "Linked since"),
      h("dd", {}, fmtDayTime(summary.link.consented_at)),
      h("dt", {}, "Last reviewed"),
      h("dd", {}, reviewed),
    ),
    h(
      "p",
      { class: "row" },
      reviewButton,
      h("a", { class: "btn secondary", href: `/api/physio/patients/${id}/export/timeline.csv`, download: "" }, "Timeline (CSV)"),
      h("a", { class: "btn secondary", href: `/api/physio/patients/${id}/export/fhir/`, download: "" }, "Episode (FHIR)"),
    ),
  );

  const left = h("div", {});
  const right = h("div", {});
  root.append(h("div", { class: "columns" }, left, right));
  const cleanups = [];
  const [daily, timeline, notes, protocol] = await Promise.allSettled([
    api(`/api/physio/patients/${id}/daily/`),
    api(`/api/physio/patients/${id}/timeline/?limit=50`),
    api(`/api/physio/patients/${id}/notes/`),
    api(`/api/physio/patients/${id}/protocol/`),
  ]);

  // Pain and adherence per day.
  const dailyCard = h("section", { class: "card", "aria-labelledby": "daily-h" }, h("h2", { id: "daily-h" }, "Pain and treatment per day"));
  left.append(dailyCard);
  if (daily.status === "fulfilled" && daily.value.days.length) {
    const days = daily.value.days;
    const chart = h("div", { class: "chart", role: "img", "aria-label": `Pain per day over ${days.length} day(s)` });
    dailyCard.append(
      chart,
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, ["Day", "Pain avg", "Check-ins", "Ice", "Heat", "Minutes", "Adherence"].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          [...days].reverse().map((d) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, d.date),
              h("td", {}, d.pain_mean?.toFixed(1) ?? "-"),
              h("td", {}, d.checkins),
              h("td", {}, d.ice),
              h("td", {}, d.heat),
              h("td", {}, d.applied_minutes),
              h("td", {}, d.adherence == null ? "-" : `${Math.round(d.adherence * 100)}%`),
            ),
          ),
        ),
      ),
    );
    cleanups.push(painChart(chart, days));
  } else if (daily.status === "rejected") unavailable(dailyCard, daily.reason);
  else dailyCard.append(h("p", {}, "No days recorded yet."));

  // Timeline, newest first.
  const timelineCard = h("section", { class: "card", "aria-labelledby": "tl-h" }, h("h2", { id: "tl-h" }, "Timeline"));
  left.append(timelineCard);
  if (timeline.status === "fulfilled") {
    const entries = timeline.value.results;
    timelineCard.append(
      entries.length
        ? h("ul", { class: "list", id: "timeline" }, entries.map((e) => h("li", { "data-kind": e.kind }, h("strong", {}, describe(e)), h("span", { class: "hint" }, ` ${fmtDayTime(e.at)}`))))
        : h("p", {}, "Nothing yet."),
    );
  } else unavailable(timelineCard, timeline.reason);

  right.append(notesCard(id, notes), protocolCard(id, protocol));
  right.prepend(await outcomesCard(id)); // scores and trends of the questionnaires (issue 17)
  return () => cleanups.forEach((c) => c && c());
}

function describe(entry) {
  const d = entry.data || {};
  switch (entry.kind) {
    case "checkin":
      return `Check-in: pain ${d.pain}${d.note ? ` - "${d.note}"` : ""}`;
    case "application":
      return `${d.kind === "heat" ? "Heat" : "Ice"}${entry.ends_at ? ` ${Math.round((Date.parse(entry.ends_at) - Date.parse(entry.at)) / 60000)} min` : " (running)"}${d.auto_closed ? ", ended at the limit" : ""}`;
    case "rest":
      return "Bed rest";
    case "medication":
      return `Medication: ${d.name || d.med_class} ${d.dose_mg} mg`;
    case "activity":
      return `Walk ${d.minutes} min, pain ${d.pain_before} to ${d.pain_after}`;
    case "redflag":
      return `Warning sign (${d.level}): ${d.code}`;
    case "reminder_sent":
      return `Reminder sent: ${d.kind}`;
    case "reminder_ack":
      return `Reminder answered: ${d.kind}, ${d.action}`;
    case "prescription":
      return `Prescription by ${d.author || "?"}`;
    case "note":
      return `Note by ${d.author || "?"}: ${d.text}`;
    case "questionnaire":
      return `Questionnaire ${d.questionnaire}: ${d.score}${d.band ? ` (${d.band})` : ""}`;
    default:
      return entry.kind;
  }
}

function notesCard(id, notes) {
  const card = h("section", { class: "card stack", "aria-labelledby": "notes-h" }, h("h2", { id: "notes-h" }, "Notes"));
  if (notes.status === "rejected") {
    unavailable(card, notes.reason);
    return card;
  }
  const list = h("ul", { class: "list", id: "notes" }, notes.value.results.map(noteItem));
  const text = h("textarea", { id: "note-text", rows: 3, maxlength: 4000 });
  const error = errorBox();
  const form = h(
    "form",
    { class: "stack" },
    h("div", { class: "field" }, h("label", { for: "note-text" }, "Add a note"), text),
    h("button", { type: "submit", class: "btn primary" }, "Save note"),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, "");
    try {
      const note = await api(`/api/physio/patients/${id}/notes/`, { method: "POST", body: { text: text.value } });
      list.prepend(noteItem(note));
      text.value = "";
    } catch (e) {
      showError(error, e.message);
    }
  });
  card.append(list, form);
  return card;
}

function noteItem(note) {
  return h("li", {}, h("p", {}, note.text), h("span", { class: "hint" }, `${note.author || ""}, ${fmtDayTime(note.created_at)}`));
}

function protocolCard(id, protocol) {
  const card = h("section", { class: "card stack", "aria-labelledby": "rx-h" }, h("h2", { id: "rx-h" }, "Prescription"));
  if (protocol.status === "rejected") {
    unavailable(card, protocol.reason);
    return card;
  }
  const p = protocol.value;
  const error = errorBox();
  const inputs = {};
  const order = Object.keys(FIELD_TEXT);
  const names = [...p.prescribable].sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
  const fields = names.map((name) => {
    const fid = `rx-${name}`;
    if (name === "ice_after_acute") {
      inputs[name] = h("input", { type: "checkbox", id: fid, checked: Boolean(p.values[name]) });
      return h("div", { class: "check" }, inputs[name], h("label", { for: fid }, FIELD_TEXT[name] || name));
    }
    const bound = p.bounds[name] || {};
    inputs[name] = h("input", { type: "number", id: fid, min: bound.min, max: bound.max, value: p.values[name], inputmode: "numeric" });
    return h(
      "div",
      { class: "field" },
      h("label", { for: fid }, FIELD_TEXT[name] || name),
      h("p", { class: "hint" }, `Default ${p.defaults[name]}; allowed ${bound.min}-${bound.max}`),
      inputs[name],
    );
  });
  const note = h("input", { id: "rx-note", maxlength: 2000 });
  const form = h(
    "form",
    { class: "stack" },
    fields,
    h("div", { class: "field" }, h("label", { for: "rx-note" }, "Note for the patient"), note),
    h("button", { type: "submit", class: "btn primary" }, "Prescribe"),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, "");
    const overrides = {};
    for (const [name, input] of Object.entries(inputs)) {
      const value = input.type === "checkbox" ? input.checked : Number(input.value);
      if (value !== p.defaults[name]) overrides[name] = value;
    }
    try {
      await api(`/api/physio/patients/${id}/protocol/`, { method: "POST", body: { overrides, note: note.value } });
      toast("Prescription saved; the patient's reminders follow it now.");
    } catch (e) {
      showError(error, e.message);
    }
  });
  const last = p.prescriptions[0];
  card.append(
    h("p", { class: "hint" }, `Protocol version ${p.version}.`, last ? ` Last prescribed by ${last.author || "?"} on ${fmtDayTime(last.created_at)}.` : ""),
    form,
  );
  return card;
}
