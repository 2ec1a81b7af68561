// History: pain per local day (chart and table) and the ice/heat applications.
import { cachedGet } from "../data.js";
import { fmtDay, fmtDayTime, h, minutesBetween } from "../ui.js";
import { painChart } from "./chart.js";
import { PAIN_WORDS } from "./checkin.js";
import { episodesCard, historyEpisodes } from "./plan.js";

export async function history(root, params) {
  root.append(h("h1", {}, "History"));
  const { list: episodeList, episode } = await historyEpisodes(params).catch(() => ({ list: [], episode: null }));
  if (!episode) {
    root.append(h("p", { class: "lead" }, "Nothing yet: your check-ins and applications will show here."));
    return;
  }
  const [daily, apps, checkins] = await Promise.all([
    cachedGet(`/api/episodes/${episode.id}/daily/`),
    cachedGet(`/api/applications/?episode=${episode.id}&limit=50`),
    cachedGet(`/api/checkins/?episode=${episode.id}&limit=50`),
  ]);
  if (daily.offline) root.append(h("p", { class: "note" }, "Offline: showing what was known when you were last online."));
  const episodes = episodesCard(episodeList, episode); // past episodes, each with its own pain and check-ins
  if (episodes) root.append(episodes);

  const days = daily.data.days;
  const chartBox = h("div", { class: "chart", role: "img", "aria-label": chartSummary(days) });
  root.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "pain-h" },
      h("h2", { id: "pain-h" }, "Pain per day"),
      days.length ? chartBox : h("p", {}, "No check-ins yet."),
      days.length ? dayTable(days) : null,
    ),
  );

  const applications = apps.data.results;
  root.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "apps-h" },
      h("h2", { id: "apps-h" }, "Ice and heat"),
      applications.length
        ? h(
            "ul",
            { class: "list" },
            applications.map((a) =>
              h(
                "li",
                {},
                h("strong", {}, a.kind === "ice" ? "Ice" : "Heat"),
                ` ${fmtDayTime(a.started_at)}, `,
                a.stopped_at ? `${minutesBetween(a.started_at, a.stopped_at)} min` : "running",
                a.auto_closed ? " (ended at the limit)" : "",
              ),
            ),
          )
        : h("p", {}, "No applications yet."),
    ),
  );

  const list = checkins.data.results;
  root.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "ci-h" },
      h("h2", { id: "ci-h" }, "Check-ins"),
      list.length
        ? h(
            "ul",
            { class: "list" },
            list.map((c) => h("li", {}, h("strong", {}, `Pain ${c.pain}`), ` ${PAIN_WORDS[c.pain]}, ${fmtDayTime(c.occurred_at)}`)),
          )
        : h("p", {}, "No check-ins yet."),
    ),
  );
  // Drawn once the card is in the page, so the chart takes the card's width.
  return days.length ? painChart(chartBox, days) : null;
}

function chartSummary(days) {
  const last = days[days.length - 1];
  if (!last) return "No pain data";
  return `Pain chart over ${days.length} day(s); latest day average ${last.pain_mean?.toFixed(1)} out of 10.`;
}

function dayTable(days) {
  return h(
    "table",
    {},
    h("caption", { class: "hint", style: "text-align:left" }, "Per day: average, lowest and highest pain"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), h("th", { scope: "col" }, "Average"), h("th", { scope: "col" }, "Low-high"))),
    h(
      "tbody",
      {},
      [...days].reverse().map((d) =>
        h("tr", {}, h("th", { scope: "row" }, fmtDay(d.date)), h("td", {}, d.pain_mean?.toFixed(1) ?? "-"), h("td", {}, `${d.pain_min ?? "-"}-${d.pain_max ?? "-"}`)),
      ),
    ),
  );
}
