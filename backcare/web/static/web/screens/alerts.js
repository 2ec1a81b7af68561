// Physiotherapist: red-flag alerts at the top of the triage queue. An open one has an Acknowledge button (the
// re-alerts stop, for every physiotherapist of the patient); an acknowledged one says who and when.
import { api } from "../api.js";
import { errorBox, fmtDayTime, h, showError, toast } from "../ui.js";

const SEVERITY_TEXT = { emergency: "Emergency", urgent: "Urgent" };

export async function alertsCard() {
  const section = h("section", { class: "card stack", id: "alerts", "aria-labelledby": "alerts-h" });
  const error = errorBox();

  async function load() {
    let rows;
    try {
      rows = await api("/api/physio/alerts/");
    } catch (e) {
      section.replaceChildren(h("h2", { id: "alerts-h" }, "Red-flag alerts"), h("p", { class: "error", role: "alert" }, e.message));
      return;
    }
    const open = rows.filter((a) => !a.acknowledged_at).length;
    section.hidden = !rows.length;
    section.classList.toggle("alert", open > 0);
    section.replaceChildren(
      h("h2", { id: "alerts-h" }, open ? `Red-flag alerts: ${open} open` : "Red-flag alerts"),
      h("ul", { class: "list" }, rows.map(alertItem)),
      error,
    );
  }

  function alertItem(alert) {
    const who = h("a", { href: `#/patient/${alert.patient}` }, alert.patient_name || `Patient ${alert.patient}`);
    const parts = [
      h("p", {}, h("span", { class: `badge ${alert.acknowledged_at ? "" : "alert"}` }, SEVERITY_TEXT[alert.severity] || alert.severity), " ", who),
      h("p", {}, alert.question),
      h("p", { class: "hint" }, `Raised ${fmtDayTime(alert.raised_at)}`),
    ];
    if (alert.acknowledged_at) {
      parts.push(h("p", { class: "acked" }, `Acknowledged by ${alert.acknowledged_by || "a colleague"} at ${fmtDayTime(alert.acknowledged_at)}`));
    } else {
      const button = h("button", { type: "button", class: "btn danger block" }, "Acknowledge");
      button.setAttribute("aria-label", `Acknowledge the alert for ${alert.patient_name || `patient ${alert.patient}`}`);
      button.addEventListener("click", async () => {
        showError(error, "");
        button.disabled = true;
        try {
          await api(`/api/physio/alerts/${alert.id}/acknowledge/`, { method: "POST", body: {} });
          toast("Acknowledged: the other physiotherapists see that you took it on.");
          await load();
        } catch (e) {
          showError(error, e.message);
          button.disabled = false;
        }
      });
      parts.push(button);
    }
    return h("li", { class: "stack", "data-alert": alert.id, "data-open": alert.acknowledged_at ? "0" : "1" }, ...parts);
  }

  await load();
  return section;
}
