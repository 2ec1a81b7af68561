// A plan that ends: the "Feeling better?" card, the reviews, ending the plan (with a confirmation), the heat
// reminders a day, and the list of past episodes for History. Today, History and Settings call in here.
import { api, NetworkError } from "../api.js";
import { cachedGet, openEpisode } from "../data.js";
import { errorBox, fmtDay, fmtDayTime, h, showError, toast } from "../ui.js";

const KIND_TEXT = { ice: "ice", heat: "heat" };

// The cards Today shows about the plan's end: feeling better, see a provider, and the control to end it.
export function planCards(state, episode, ctx) {
  const cards = [];
  const provider = seeProvider(state);
  if (provider) cards.push(provider);
  if (state.feeling_better) {
    cards.push(
      h(
        "section",
        { class: "card stack", "aria-labelledby": "better-h", id: "feeling-better" },
        h("h2", { id: "better-h" }, "Feeling better? End the plan"),
        h("p", {}, "Your pain has been low for two days in a row. If your back feels fine, you can end the plan: the reminders stop."),
        endControl(state, episode, ctx, "End the plan"),
      ),
    );
  } else if (((state.protocol && state.protocol.review_days) || []).includes(state.day)) {
    // The review days ask the same question as the good days.
    cards.push(
      h(
        "section",
        { class: "card stack", "aria-labelledby": "review-today-h" },
        h("h2", { id: "review-today-h" }, `Day ${state.day} review`),
        h("p", {}, "How is your back? Feeling better? You can end the plan."),
        h("a", { class: "btn secondary block", href: "#/plan" }, "Look at your progress"),
      ),
    );
  } else {
    cards.push(h("p", { class: "center" }, h("a", { href: "#/plan" }, "Your plan: reviews and ending it")));
  }
  return cards;
}

function seeProvider(state) {
  const warning = (state.warnings || []).find((w) => w.code === "not_improving" && w.level === "alert");
  if (!warning) return null;
  return h(
    "section",
    { class: "card alert stack", "aria-labelledby": "provider-h", id: "see-provider" },
    h("h2", { id: "provider-h" }, "See a doctor or physiotherapist"),
    h("p", {}, "After two weeks your pain is not getting better. Book an appointment with a doctor or physiotherapist to have your back checked."),
  );
}

// "End the plan" -> a confirmation that says what stops (and what still comes) -> resolve.
function endControl(state, episode, ctx, label) {
  const box = h("div", { class: "stack" });
  const error = errorBox();
  const start = h("button", { type: "button", class: "btn primary block" }, label);
  start.addEventListener("click", () => {
    const running = state.running;
    const confirmId = `confirm-${episode.id}`;
    const yes = h("button", { type: "button", class: "btn danger block" }, "Yes, end my plan");
    const no = h("button", { type: "button", class: "btn secondary block" }, "Keep my plan");
    const question = h(
      "div",
      { class: "stack", role: "group", "aria-labelledby": confirmId },
      h("p", { id: confirmId }, h("strong", {}, "End your plan now?"), " Reminders to start ice or heat, check in and move stop at once. Your history is kept, and you can start a new plan any time."),
      running
        ? h("p", { class: "notice caution" }, `Your ${KIND_TEXT[running.kind]} is still on: the reminder to take it off still comes.`)
        : null,
      yes,
      no,
      error,
    );
    no.addEventListener("click", () => box.replaceChildren(start));
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      showError(error, "");
      try {
        await api(`/api/episodes/${episode.id}/resolve/`, { method: "POST", body: {} });
        await cachedGet("/api/episodes/?limit=5").catch(() => null); // the kept copy must not say "open"
        toast("Your plan has ended. Take care of your back.");
        ctx.go("today");
      } catch (e) {
        showError(error, e instanceof NetworkError ? "You are offline: try again when you have a connection." : e.message);
        yes.disabled = false;
      }
    });
    box.replaceChildren(question);
    yes.focus();
  });
  box.append(start);
  return box;
}

// The #/plan screen: where the plan stands, the reviews' question, and ending it.
export async function plan(root, _params, ctx) {
  root.append(h("h1", {}, "Your plan"));
  const episode = await openEpisode().catch(() => null);
  if (!episode) {
    root.append(
      h("p", { class: "lead" }, "No plan is running."),
      h("a", { class: "btn primary block", href: "#/today" }, "Start a new plan"),
    );
    return;
  }
  const { data: state } = await cachedGet(`/api/episodes/${episode.id}/state/`);
  const reviews = (state.protocol && state.protocol.review_days) || [7, 14];
  const reviewDay = reviews.filter((d) => d <= state.day).pop();
  const parts = [h("p", { class: "lead" }, `Day ${state.day} of your plan, started ${fmtDay(episode.onset.slice(0, 10))}.`)];
  const provider = seeProvider(state);
  if (provider) parts.push(provider);
  if (reviewDay) {
    parts.push(
      h(
        "section",
        { class: "card stack", "aria-labelledby": "review-h" },
        h("h2", { id: "review-h" }, `Day ${reviewDay} review`),
        h("p", {}, "Look at how your pain went in History. Feeling better? You can end the plan below."),
        h("a", { href: "#/history" }, "See your pain per day"),
      ),
    );
  }
  if (state.starts_end_at) {
    parts.push(h("p", { class: "hint" }, `Ice and heat reminders run until ${fmtDayTime(state.starts_end_at)}, the last review.`));
  }
  parts.push(
    h(
      "section",
      { class: "card stack", "aria-labelledby": "end-h" },
      h("h2", { id: "end-h" }, state.feeling_better ? "Feeling better? End the plan" : "End the plan"),
      h("p", {}, "When your back feels fine again, end the plan. If it comes back, start a new one from Today."),
      endControl(state, episode, ctx, "End the plan"),
    ),
  );
  root.append(...parts);
}

// History: the episode asked for (#/history/<id>), else the latest, and the list of all of them.
export async function historyEpisodes(params) {
  const { data } = await cachedGet("/api/episodes/?limit=50");
  const list = data.results;
  const chosen = list.find((e) => e.id === params[0]) || list[0] || null;
  return { list, episode: chosen };
}

export function episodesCard(list, episode) {
  if (list.length < 2) return null;
  return h(
    "section",
    { class: "card", "aria-labelledby": "episodes-h" },
    h("h2", { id: "episodes-h" }, "Your episodes"),
    h(
      "ul",
      { class: "list" },
      list.map((e) => {
        const dates = `${fmtDay(e.onset.slice(0, 10))} to ${e.resolved_at ? fmtDay(e.resolved_at.slice(0, 10)) : "now"}`;
        const label = e.status === "open" ? `Current plan, ${dates}` : `Ended plan, ${dates}`;
        return h(
          "li",
          {},
          e.id === episode.id
            ? h("strong", { "aria-current": "page" }, label)
            : h("a", { href: `#/history/${e.id}` }, label),
        );
      }),
    ),
  );
}

// Settings: how many heat reminders a day (remove reminders always come).
export function heatPerDayField(profile, save) {
  const select = h(
    "select",
    { id: "p-heat-per-day", "aria-describedby": "p-heat-per-day-hint" },
    h("option", { value: "" }, "As the plan says (every 110 minutes)"),
    [1, 2, 3, 4, 5, 6].map((n) => h("option", { value: String(n) }, `${n} a day`)),
  );
  select.value = profile.heat_reminders_per_day ? String(profile.heat_reminders_per_day) : "";
  select.addEventListener("change", () =>
    save({ heat_reminders_per_day: select.value ? Number(select.value) : null }, "Heat reminders saved."),
  );
  return h(
    "div",
    { class: "field" },
    h("label", { for: "p-heat-per-day" }, "Heat reminders"),
    h("p", { class: "hint", id: "p-heat-per-day-hint" }, "After the ice days. A reminder to take the heat off always comes."),
    select,
  );
}
