// A per-day pain chart (uPlot): mean pain as a line, the day's highest as dots.
import uPlot from "../vendor/uPlot.esm.js";

export function painChart(container, days) {
  // Midnight UTC of each local day, labelled in UTC: points sit on their day's tick.
  const xs = days.map((d) => Date.parse(`${d.date}T00:00:00Z`) / 1000);
  const mean = days.map((d) => d.pain_mean);
  const max = days.map((d) => d.pain_max);
  const width = Math.max(280, container.clientWidth || 320);
  const opts = {
    width,
    height: 220,
    // The card's heading names the chart; the legend below is plain HTML (uPlot's is interactive).
    legend: { show: false },
    // Ticks at UTC midnights, like the points (uPlot would use the browser's zone).
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    scales: {
      x: { time: true, range: (_u, min, max) => [min - 43200, max + 43200] },
      y: { range: [0, 10] },
    },
    axes: [
      {
        stroke: "#47524f",
        grid: { stroke: "#e3e8e6" },
        // Whole days only: a tick per day, or per few days on a long episode.
        incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400],
        space: 56,
        values: (_u, ticks) => ticks.map(dayLabel),
      },
      { stroke: "#47524f", grid: { stroke: "#e3e8e6" }, splits: () => [0, 2, 4, 6, 8, 10] },
    ],
    series: [
      { label: "Day", value: (_u, v) => (v == null ? "-" : dayLabel(v)) },
      { label: "Average", stroke: "#0b5e59", width: 3, points: { size: 8, fill: "#0b5e59" } },
      { label: "Highest", stroke: "#a4161a", width: 0, points: { size: 7, stroke: "#a4161a", fill: "#fff" } },
    ],
  };
  const plot = new uPlot(opts, [xs, mean, max], container);
  container.after(legend());
  // Keep the chart as wide as its card when the phone turns or the window resizes.
  const resize = () => plot.setSize({ width: Math.max(280, container.clientWidth), height: 220 });
  window.addEventListener("resize", resize);
  return () => {
    window.removeEventListener("resize", resize);
    plot.destroy();
  };
}

function legend() {
  const key = (colour, filled, text) => {
    const dot = document.createElement("span");
    dot.className = "key";
    dot.style.borderColor = colour;
    dot.style.background = filled ? colour : "#fff";
    const label = document.createElement("span");
    label.append(dot, text);
    return label;
  };
  const p = document.createElement("p");
  p.className = "chart-legend";
  p.setAttribute("aria-hidden", "true"); // the table next to the chart carries the numbers
  p.append(key("#0b5e59", true, "Average"), key("#a4161a", false, "Highest"));
  return p;
}

function dayLabel(seconds) {
  return new Date(seconds * 1000).toLocaleDateString(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
}
