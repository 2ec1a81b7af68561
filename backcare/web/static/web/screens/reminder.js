// A reminder, opened from its notification (a plain tap, or any tap where the browser shows no buttons:
// Firefox, Safari): what it asks, and the same one-tap answers (Start now, It's off, snooze, skip) through
// the session API. Says plainly when it is done already or too late to act on.
import { api, ApiError, NetworkError } from "../api.js";
import { errorBox, fmtTime, h, showError } from "../ui.js";

const DONE_TEXT = {
  started: "Started. The app and your phone will tell you when to take it off.",
  already_started: "It is already running.",
  stopped: "Stopped. Let your skin rest before the next one.",
  already_stopped: "It is already off.",
  snoozed: "We will remind you again in 10 minutes.",
  skipped: "Skipped.",
  done: "Done.",
};
const STATE_TEXT = {
  done: "Already done: nothing more to do for this reminder.",
  too_late: "This reminder is too old to act on now. Open Today to see what to do next.",
  closed: "This reminder is no longer due. Open Today to see what to do next.",
};

export async function reminder(root, params, { go }) {
  const id = Number.parseInt(params[0], 10);
  if (!Number.isInteger(id) || id < 1) {
    go("today");
    return;
  }
  const view = h("div", {});
  root.append(view);

  async function load() {
    let detail;
    try {
      detail = await api(`/api/reminders/${id}/`);
    } catch (error) {
      const text =
        error instanceof NetworkError
          ? "You are offline: this reminder cannot be answered until you are back online."
          : error instanceof ApiError && error.status === 404
            ? "This reminder was not found."
            : error.message;
      view.replaceChildren(h("h1", {}, "Reminder"), h("p", { class: "error", role: "alert" }, text), todayLink());
      return;
    }
    draw(detail);
  }

  function draw(detail, said) {
    const error = errorBox();
    const status = h("p", { class: "note", role: "status", "data-reminder-state": detail.state }, said || STATE_TEXT[detail.state] || "");
    const buttons = (detail.state === "due" ? detail.actions : []).map(({ action, title }, index) =>
      h(
        "button",
        {
          type: "button",
          class: `btn ${index === 0 ? "primary big" : "light"} block`,
          "data-action": action,
          onclick: (event) => answer(action, event.currentTarget, error, detail),
        },
        title,
      ),
    );
    view.replaceChildren(
      h("h1", {}, detail.title),
      h("p", {}, detail.body),
      h("p", { class: "hint" }, `Due at ${fmtTime(detail.due_at)}.`),
      status,
      ...buttons,
      error,
      todayLink(),
    );
  }

  async function answer(action, button, error, detail) {
    button.disabled = true;
    showError(error, "");
    try {
      const result = await api(`/api/reminders/${id}/ack/`, { method: "POST", body: { action } });
      const fresh = await api(`/api/reminders/${id}/`);
      draw({ ...fresh, actions: [] }, DONE_TEXT[result.result] || "Done.");
    } catch (e) {
      button.disabled = false;
      // Refused (the pause is not over, another application runs, too old): say why, offer nothing more.
      if (e instanceof ApiError && e.status === 409) draw({ ...detail, actions: [] }, e.message);
      else showError(error, e instanceof NetworkError ? "You are offline. Try again when you have a connection." : e.message);
    }
  }

  await load();
}

function todayLink() {
  return h("p", { class: "center" }, h("a", { href: "#/today" }, "Open Today"));
}
