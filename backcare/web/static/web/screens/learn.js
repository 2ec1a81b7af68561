// Learn: what applies now (from /api/library/for-me/), kept on the phone to read offline.
import { cachedGet } from "../data.js";
import { h } from "../ui.js";

const PHASE_WORDS = { acute: "the ice phase", heat: "the heat phase", recovery: "recovery" };

export async function learn(root, params) {
  const { data, offline } = await cachedGet("/api/library/for-me/");
  const slug = params[0];
  if (slug) return article(root, data, slug);

  root.append(h("h1", {}, "Learn"));
  if (offline) root.append(h("p", { class: "note" }, "Offline: the articles saved on this phone."));
  root.append(h("p", { class: "lead" }, `For ${PHASE_WORDS[data.phase] || "now"}${data.day ? `, day ${data.day}` : ""}.`));
  root.append(
    h(
      "ul",
      { class: "list card" },
      data.items.map((item) =>
        h(
          "li",
          {},
          h(
            "a",
            { class: "item", href: `#/learn/${item.slug}` },
            h("strong", {}, item.title),
            h("span", { class: "hint" }, item.summary),
          ),
        ),
      ),
    ),
  );
  if (data.not_yet.length) {
    root.append(
      h(
        "section",
        { class: "card", "aria-labelledby": "later-h" },
        h("h2", { id: "later-h" }, "Not yet"),
        h("p", { class: "hint" }, "Exercises for later, when your back is ready."),
        h("ul", {}, data.not_yet.map((item) => h("li", {}, `${item.title} (from ${PHASE_WORDS[item.phase_from] || item.phase_from})`))),
      ),
    );
  }
}

function article(root, data, slug) {
  const item = data.items.find((i) => i.slug === slug);
  root.append(h("p", {}, h("a", { href: "#/learn" }, "Back to Learn")));
  if (!item) {
    root.append(h("h1", {}, "Not available"), h("p", {}, "This article is not part of what applies to you now."));
    return;
  }
  const exercise = item.exercise;
  root.append(
    h("h1", {}, item.title),
    h("p", { class: "lead" }, item.summary),
    // The server sanitizes this HTML (nh3) before it is stored.
    h("div", { class: "article card", html: item.html }),
    exercise
      ? h(
          "section",
          { class: "card", "aria-labelledby": "ex-h" },
          h("h2", { id: "ex-h" }, "How to do it"),
          h("ol", {}, exercise.steps.map((s) => h("li", {}, s))),
          h("p", {}, `${exercise.repetitions} times${exercise.hold_seconds ? `, hold ${exercise.hold_seconds} s` : ""}.`),
          h("p", { class: "notice caution" }, `Stop if: ${exercise.stop_if}`),
          exercise.avoid ? h("p", { class: "hint" }, `Avoid: ${exercise.avoid}`) : null,
        )
      : null,
    item.references.length
      ? h("p", { class: "hint" }, `Based on: ${item.references.join("; ")}. Reviewed ${item.reviewed}.`)
      : null,
  );
}
