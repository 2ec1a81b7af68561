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
