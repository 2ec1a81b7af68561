// The full-screen instruction for a red-flag answer. Built from the cached checklist, so it shows
// at once and offline; the fallback text covers a phone that never loaded the checklist.
import { FALLBACK_LEVELS } from "../data.js";
import { h } from "../ui.js";

export function showEscalation({ level, headline, actions, flags = [] }, { onClose } = {}) {
  const overlay = document.getElementById("overlay");
  const previous = document.activeElement;
  const fallback = FALLBACK_LEVELS.emergency;
  const close = h("button", { type: "button", class: "btn light big block" }, "I understand");
  const dialog = h(
    "div",
    {
      class: `escalation ${level}`,
      role: "alertdialog",
      "aria-modal": "true",
      "aria-labelledby": "esc-h",
      "aria-describedby": "esc-actions",
      "data-level": level,
    },
    h("h1", { id: "esc-h", tabindex: "-1" }, headline || fallback.headline),
    h("ol", { id: "esc-actions", class: "actions" }, (actions?.length ? actions : fallback.actions).map((a) => h("li", {}, a))),
    flags.length
      ? h("div", { class: "why" }, h("h2", {}, "Because you said"), h("ul", {}, flags.map((f) => h("li", {}, f.question))))
      : null,
    close,
  );
  close.addEventListener("click", () => {
    overlay.replaceChildren();
    document.body.classList.remove("has-overlay");
    if (previous && previous.focus) previous.focus();
    if (onClose) onClose();
  });
  // Keep keyboard focus inside the dialog.
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Tab") {
      event.preventDefault();
      close.focus();
    }
  });
  overlay.replaceChildren(dialog);
  document.body.classList.add("has-overlay");
  dialog.querySelector("h1").focus();
}

// The most severe level among the answers, from the checklist (same rule as the server's).
const ORDER = ["emergency", "urgent", "soon"];
export function localEscalation(checklist, answers) {
  const rules = checklist ? checklist.rules : [];
  const flagged = rules.filter((rule) => answers[rule.code]);
  if (!flagged.length) return null;
  const level = ORDER.find((l) => flagged.some((rule) => rule.level === l)) || "soon";
  const text = (checklist.levels && checklist.levels[level]) || FALLBACK_LEVELS.emergency;
  return {
    level,
    headline: text.headline,
    actions: text.actions,
    flags: flagged.map((rule) => ({ code: rule.code, level: rule.level, question: rule.question, guidance: rule.guidance })),
  };
}

// The emergency screen (#/emergency, also where the "did you get help?" reminder opens): the instruction, the
// paused plan, and once the patient says they got help, Resume plan or End the plan.
export async function emergency(root, _params, ctx) {
  const { cachedGet, checklist, openEpisode } = await import("../data.js");
  const { api } = await import("../api.js");
  const { errorBox, fmtDayTime, showError, toast } = await import("../ui.js");
  let episode;
  try {
    episode = await openEpisode();
  } catch (error) {
    root.append(h("h1", {}, "Your plan"), h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  const list = await checklist();
  const text = (list && list.levels && list.levels.emergency) || FALLBACK_LEVELS.emergency;
  if (!episode || !episode.paused_since) {
    root.append(
      h("h1", {}, "Your plan is not paused"),
      h("p", {}, "If you have a warning sign, answer it in a check-in: the app tells you what to do."),
      h("a", { class: "btn primary block", href: "#/today" }, "Back to today"),
    );
    return;
  }
  const error = errorBox();
  const confirm = h("input", { type: "checkbox", id: "got-help" });
  const resume = h("button", { type: "button", class: "btn primary big block", id: "resume-plan", disabled: true }, "Resume plan");
  const end = h("button", { type: "button", class: "btn secondary block", id: "end-plan", disabled: true }, "End the plan");
  confirm.addEventListener("change", () => {
    resume.disabled = end.disabled = !confirm.checked;
  });
  async function act(path, message) {
    showError(error, "");
    resume.disabled = end.disabled = true;
    try {
      await api(`/api/episodes/${episode.id}/${path}/`, { method: "POST", body: {} });
      await cachedGet("/api/episodes/?limit=5"); // today reads the episode from this copy
      toast(message);
      ctx.go("today");
    } catch (e) {
      showError(error, e.message);
      resume.disabled = end.disabled = !confirm.checked;
    }
  }
  resume.addEventListener("click", () => act("resume", "Your plan is back on."));
  end.addEventListener("click", () => act("resolve", "Your plan has ended."));
  root.append(
    h(
      "section",
      { class: "card escalation-card emergency", "aria-labelledby": "em-h" },
      h("h1", { id: "em-h" }, text.headline),
      h("ol", {}, text.actions.map((a) => h("li", {}, a))),
    ),
    h(
      "section",
      { class: "card stack", "aria-labelledby": "paused-h", id: "paused-card" },
      h("h2", { id: "paused-h" }, "Your self-care plan is paused"),
      h(
        "p",
        {},
        `Since ${fmtDayTime(episode.paused_since)}: no ice, heat, check-in or movement reminders. ` +
          "A reminder to take ice or heat off still comes.",
      ),
      h("div", { class: "check" }, confirm, h("label", { for: "got-help" }, "I got help: a doctor or emergency service has seen me")),
      resume,
      end,
      error,
    ),
  );
}
