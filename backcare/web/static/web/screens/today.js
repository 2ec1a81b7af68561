// Today: phase and day, the ice/heat timer with a big countdown, what comes next, cautions.
import { api, NetworkError } from "../api.js";
import { cachedGet, openEpisode } from "../data.js";
import { ringOnce } from "../alarm.js";
import { submit } from "../outbox.js";
import { kvGet, kvSet } from "../store.js";
import { planCards } from "./plan.js";
import { errorBox, field, fmtCountdown, fmtDayTime, fmtTime, h, nowIso, showError, toast, uuid } from "../ui.js";
import { dueCard } from "./questionnaire.js";

export const PHASE_TEXT = {
  acute: "Ice phase",
  heat: "Heat phase",
  resolved: "Resolved",
};

const NEXT_TEXT = {
  ice_start: "Put the ice on",
  ice_remove: "Take the ice off",
  heat_start: "Put the heat on",
  heat_remove: "Take the heat off",
  checkin: "Check-in",
  review: "Look at your progress",
  plan_end: "Feeling better?",
  rest_nudge: "A short walk",
  rest_limit: "Bed rest ends",
  movement_break: "Stand up and stretch",
};

const KIND_TEXT = { ice: "Ice", heat: "Heat" };

function pausedBanner() {
  return h(
    "section",
    { class: "card escalation-card emergency", id: "paused-banner", role: "status" },
    h("h2", {}, "Your plan is paused"),
    h("p", {}, "After your emergency answer: get help first. Self-care reminders are off."),
    h("a", { class: "btn secondary block", href: "#/emergency" }, "What to do now"),
  );
}

export async function today(root, _params, ctx) {
  let episode;
  try {
    episode = await openEpisode();
  } catch (error) {
    root.append(h("h1", {}, "Today"), offlineNote(error));
    return;
  }
  if (!episode) return openForm(root, ctx);

  const timers = [];
  const view = h("div", { class: "stack" });
  root.append(view);
  dueCard().then((card) => card && root.append(card)); // a questionnaire due now (issue 17)

  async function load() {
    let state;
    let offline = false;
    try {
      ({ data: state, offline } = await cachedGet(`/api/episodes/${episode.id}/state/`));
    } catch (error) {
      view.replaceChildren(h("h1", {}, "Today"), offlineNote(error));
      return;
    }
    const key = `local-timer:${episode.id}`;
    let local = await kvGet(key);
    if (!offline && local) {
      await kvSet(key, null); // the server knows better once it is reachable again
      local = null;
    }
    draw(state, offline, local);
  }

  function draw(state, offline, local) {
    timers.forEach(clearInterval);
    timers.length = 0;
    const skew = offline ? 0 : Date.parse(state.now) - Date.now();
    const now = () => Date.now() + skew;
    const running = local ? local.running : state.running;

    const heading = h(
      "div",
      { class: "phase" },
      h("h1", {}, `Day ${state.day}`),
      h("p", { class: `pill phase-${state.phase}` }, PHASE_TEXT[state.phase] || state.phase),
    );
    const parts = [heading];
    if (episode.paused_since) parts.push(pausedBanner()); // after an emergency answer (screens/emergency.js)
    if (offline) parts.push(h("p", { class: "note" }, "Offline: showing what was known when you were last online."));
    parts.push(timerCard(state, running, now, local));
    parts.push(nextCard(state));
    const cautions = cautionsCard(state);
    if (cautions) parts.push(cautions);
    parts.push(h("a", { class: "btn secondary block", href: "#/checkin" }, "Log how you feel"));
    if (!offline) parts.push(...planCards(state, episode, ctx));
    view.replaceChildren(...parts);
  }

  function timerCard(state, running, now, local) {
    const card = h("section", { class: "card timer", "aria-labelledby": "timer-h" });
    const error = errorBox();
    if (running) {
      const ends = Date.parse(running.ends_at);
      const clock = h("p", { class: "countdown", role: "timer", "aria-live": "off" });
      const label = `${KIND_TEXT[running.kind]} on`;
      const tick = () => {
        const left = (ends - now()) / 1000;
        clock.textContent = fmtCountdown(left);
        clock.setAttribute("aria-label", `${Math.ceil(Math.max(0, left) / 60)} minutes left`);
        if (left <= 0) {
          clock.classList.add("done");
          ringOnce(running.id); // the app's own alarm while it is open
        }
      };
      tick();
      timers.push(setInterval(tick, 1000));
      const stop = h(
        "button",
        { class: "btn danger big block", type: "button", onclick: () => stopTimer(running, stop, error) },
        `Stop ${running.kind}`,
      );
      // filter: a bare append() would print a null child as "null".
      const parts = [
        h("h2", { id: "timer-h" }, label),
        clock,
        h("p", { class: "center" }, `Started ${fmtTime(running.started_at)}, take it off at ${fmtTime(running.ends_at)}.`),
        running.kind === "ice" ? h("p", { class: "hint center" }, "Keep a thin towel between the ice and your skin.") : null,
        local
          ? h("p", { class: "note", "data-offline-start": "" },
              "Saved on this phone; it will be sent when you are online. Until then the server cannot remind you " +
              "to take it off: keep this app open, it will sound at the end.")
          : null,
        stop,
        error,
      ];
      card.append(...parts.filter(Boolean));
      return card;
    }
    card.append(h("h2", { id: "timer-h" }, state.state === "pausing" ? "Skin rest" : "Ice or heat"));
    if (state.state === "pausing" && state.pause_until) {
      const until = Date.parse(state.pause_until);
      const clock = h("p", { class: "countdown small", role: "timer", "aria-live": "off" });
      const tick = () => {
        clock.textContent = fmtCountdown((until - now()) / 1000);
      };
      tick();
      timers.push(setInterval(tick, 1000));
      card.append(clock, h("p", { class: "center" }, `Next application from ${fmtTime(state.pause_until)}.`));
    }
    const buttons = h("div", { class: "stack" });
    for (const kind of ["ice", "heat"]) {
      const allowed = state.allowed[kind];
      if (allowed.ok) {
        const button = h(
          "button",
          { class: `btn big block ${kind}`, type: "button", onclick: () => startTimer(kind, state, button, error) },
          `Start ${kind} (${onMinutes(state, kind)} min)`,
        );
        buttons.append(button);
      } else if (!(kind === "ice" && state.phase === "heat") && !(kind === "heat" && state.phase === "acute")) {
        buttons.append(h("p", { class: "hint" }, `${KIND_TEXT[kind]}: ${allowed.reason}`));
      }
    }
    card.append(buttons, error);
    return card;
  }

  async function startTimer(kind, state, button, error) {
    button.disabled = true;
    showError(error, "");
    const id = uuid();
    const startedAt = nowIso();
    const result = await submit("application", id, { kind, started_at: startedAt, episode: episode.id });
    if (result && result.status >= 400) {
      showError(error, errorMessage(result));
      button.disabled = false;
      return;
    }
    if (!result) {
      // Offline: keep the timer on this phone until the server has it.
      const ends = new Date(Date.parse(startedAt) + onMinutes(state, kind) * 60000).toISOString();
      await kvSet(`local-timer:${episode.id}`, { running: { id, kind, started_at: startedAt, ends_at: ends } });
      toast("Saved on this phone. It will be sent when you are back online.");
    }
    await load();
  }

  async function stopTimer(running, button, error) {
    button.disabled = true;
    const result = await submit("application_stop", running.id, { stopped_at: nowIso() });
    if (result && result.status >= 400 && result.status !== 409) {
      showError(error, errorMessage(result));
      button.disabled = false;
      return;
    }
    await kvSet(`local-timer:${episode.id}`, null);
    if (!result) toast("Stopped. It will be sent when you are back online.");
    await load();
  }

  await load();
  // Refresh now and then: the server closes an application left on at its cap.
  const refresh = setInterval(load, 60000);
  return () => {
    clearInterval(refresh);
    timers.forEach(clearInterval);
  };
}

function onMinutes(state, kind) {
  return state.protocol[`${kind}_on_min`] || 20;
}

function errorMessage(result) {
  const errors = result.errors || {};
  return errors.detail || Object.values(errors).flat().join(" ") || `Not saved (${result.status}).`;
}

function nextCard(state) {
  const next = state.next_action;
  const card = h("section", { class: "card", "aria-labelledby": "next-h" }, h("h2", { id: "next-h" }, "What comes next"));
  if (next) {
    card.append(h("p", { class: "big-line" }, `${NEXT_TEXT[next.kind] || next.kind} at ${fmtTime(next.due)}`));
  } else {
    card.append(h("p", {}, "Nothing planned right now."));
  }
  const upcoming = (state.reminders || []).filter((r) => Date.parse(r.due) > Date.parse(state.now));
  upcoming.sort((a, b) => Date.parse(a.due) - Date.parse(b.due));
  const r = upcoming[0];
  if (r && (!next || r.slot !== next.slot)) {
    card.append(h("p", { class: "hint" }, `Next reminder: ${NEXT_TEXT[r.kind] || r.kind}, ${fmtDayTime(r.due)}`));
  }
  return card;
}

function cautionsCard(state) {
  const items = (state.warnings || []).map((w) =>
    h("li", { class: `notice ${w.level}` }, w.message, w.until ? ` (until ${fmtDayTime(w.until)})` : ""),
  );
  const rest = state.rest;
  if (rest && rest.total_minutes > 0) {
    const hours = (rest.total_minutes / 60).toFixed(1);
    items.push(h("li", { class: "notice info" }, `Bed rest so far: ${hours} h of at most ${rest.cap_hours} h.`));
  }
  if (state.nsaid_days > 0) {
    items.push(h("li", { class: "notice info" }, `Anti-inflammatory (NSAID) days so far: ${state.nsaid_days}.`));
  }
  if (!items.length) return null;
  return h(
    "section",
    { class: "card", "aria-labelledby": "caution-h" },
    h("h2", { id: "caution-h" }, "Take care"),
    h("ul", { class: "notices" }, items),
  );
}

function offlineNote(error) {
  const text =
    error instanceof NetworkError ? "You are offline and nothing is saved on this phone yet." : error.message;
  return h("p", { class: "error", role: "alert" }, text);
}

function openForm(root, ctx) {
  const error = errorBox();
  const onset = h("input", { name: "onset", type: "datetime-local", max: localInputValue(new Date()) });
  onset.value = localInputValue(new Date());
  const trigger = h(
    "select",
    { name: "trigger" },
    [
      ["unknown", "I don't know"],
      ["lifting", "Lifting"],
      ["twisting", "Twisting"],
      ["sport", "Sport"],
      ["sitting", "Sitting"],
      ["sleeping", "Sleeping"],
      ["other", "Something else"],
    ].map(([value, label]) => h("option", { value }, label)),
  );
  const button = h("button", { type: "submit", class: "btn primary big block" }, "Start my plan");
  const clientId = uuid(); // a retried open returns the same episode
  const form = h(
    "form",
    { class: "card stack" },
    field("When did the spasm start?", onset, "Now, or earlier if it started before."),
    field("What set it off?", trigger),
    error,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    showError(error, "");
    try {
      const when = onset.value ? new Date(onset.value) : new Date();
      await api("/api/episodes/", {
        method: "POST",
        body: { onset: when.toISOString(), trigger: trigger.value, client_uuid: clientId },
      });
      ctx.go("today");
    } catch (e) {
      showError(error, e instanceof NetworkError ? "You are offline. Try again when you have a connection." : e.message);
      button.disabled = false;
    }
  });
  root.append(
    h("h1", {}, "Start your plan"),
    h("p", { class: "lead" }, "Tell us when your back went into spasm. We guide you through ice, heat and movement, day by day."),
    form,
  );
}

function localInputValue(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}
