// Settings: time zone, sleep window, reminders, notifications and devices, care team, sign out.
import { api, ApiError, errorText, NetworkError } from "../api.js";
import { cachedGet } from "../data.js";
import { pendingCount } from "../outbox.js";
import { accountForget, kvGet, kvSet } from "../store.js";
import { errorBox, fmtDayTime, h, showError, toast } from "../ui.js";
import { heatPerDayField } from "./plan.js";

export async function settings(root, _params, ctx) {
  const me = ctx.session.me;
  root.append(h("h1", {}, "Settings"));
  if (me.role === "patient") {
    const sections = await Promise.allSettled([
      profileSection(),
      notificationsSection(),
      careSection(),
      exportSection(),
    ]);
    for (const s of sections) {
      if (s.status === "fulfilled" && s.value) root.append(s.value);
      else if (s.status === "rejected") root.append(h("p", { class: "error" }, s.reason.message));
    }
  } else {
    // A red flag reaches the physiotherapist's phone: the same notifications control as a patient's.
    root.append(await notificationsSection(), await inviteSection());
  }
  root.append(accountSection(me, ctx));
}

function card(id, title, ...children) {
  return h("section", { class: "card stack", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

function hhmm(value) {
  return value ? value.slice(0, 5) : "";
}

async function profileSection() {
  const { data: profile, offline } = await cachedGet("/api/me/profile/");
  const detected = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const error = errorBox();
  const save = async (changes, message) => {
    showError(error, "");
    try {
      Object.assign(profile, await api("/api/me/profile/", { method: "PATCH", body: changes }));
      toast(message);
      return true;
    } catch (e) {
      showError(error, e instanceof NetworkError ? "You are offline: settings are saved when you are online." : e.message);
      return false;
    }
  };

  const zoneLine = h("p", {}, "Time zone: ", h("strong", { id: "zone" }, profile.timezone));
  const zoneBox = h("div", {}, zoneLine);
  if (detected !== profile.timezone) {
    const use = h("button", { type: "button", class: "btn secondary" }, `Use ${detected} (this phone)`);
    use.addEventListener("click", async () => {
      if (await save({ timezone: detected }, `Time zone set to ${detected}.`)) {
        zoneLine.querySelector("strong").textContent = detected;
        use.remove();
      }
    });
    zoneBox.append(h("p", { class: "hint" }, `This phone is set to ${detected}.`), use);
  } else {
    zoneBox.append(h("p", { class: "hint" }, "Detected from this phone."));
  }

  const start = h("input", { type: "time", id: "sleep-start", value: hhmm(profile.sleep_start) });
  const end = h("input", { type: "time", id: "sleep-end", value: hhmm(profile.sleep_end) });
  const sleepForm = h(
    "form",
    { class: "stack" },
    h("p", { class: "hint" }, "No reminders to start ice or heat while you sleep (a reminder to take it off still comes)."),
    h(
      "div",
      { class: "row" },
      h("div", { class: "field", style: "flex:1" }, h("label", { for: "sleep-start" }, "Sleep from"), start),
      h("div", { class: "field", style: "flex:1" }, h("label", { for: "sleep-end" }, "Wake at"), end),
    ),
    h("button", { type: "submit", class: "btn secondary" }, "Save sleep window"),
  );
  sleepForm.addEventListener("submit", (event) => {
    event.preventDefault();
    save({ sleep_start: start.value, sleep_end: end.value }, "Sleep window saved.");
  });

  const toggles = [
    ["notify_treatment", "Reminders to start ice or heat (taking it off is always reminded)"],
    ["notify_checkin", "Daily check-in reminder"],
    ["notify_movement", "Reminders to move"],
    ["desk_worker", "I sit at a desk for work (stand-up breaks)"],
  ].map(([name, label]) => {
    const box = h("input", { type: "checkbox", id: `p-${name}`, checked: Boolean(profile[name]) });
    box.addEventListener("change", () => save({ [name]: box.checked }, "Saved."));
    return h("div", { class: "check" }, box, h("label", { for: `p-${name}` }, label));
  });

  return card(
    "profile-h",
    "Your day",
    offline ? h("p", { class: "note" }, "Offline: changes need a connection.") : null,
    zoneBox,
    sleepForm,
    h("fieldset", {}, h("legend", {}, "Reminders"), toggles, heatPerDayField(profile, save)),
    error,
  );
}

function b64urlToBytes(value) {
  const padded = value.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(value.length / 4) * 4, "=");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function notificationsSection() {
  const supported = "Notification" in window && "serviceWorker" in navigator && "PushManager" in window;
  const error = errorBox();
  const status = h("p", { id: "notify-status" });
  const devices = h("ul", { class: "list", id: "devices" });
  const section = card("notify-h", "Notifications", status);

  const showStatus = () => {
    status.textContent = !supported
      ? "This browser cannot show notifications."
      : { granted: "Allowed on this phone.", denied: "Blocked: allow them in the browser's site settings.", default: "Not turned on yet." }[
          Notification.permission
        ];
  };
  showStatus();

  async function loadDevices() {
    try {
      const list = await api("/api/devices/");
      devices.replaceChildren(
        ...(list.length
          ? list.map((d) => {
              const remove = h("button", { type: "button", class: "btn small secondary" }, "Remove");
              remove.setAttribute("aria-label", `Remove ${d.name || d.id}`);
              remove.addEventListener("click", async () => {
                await api(`/api/devices/${d.id}/`, { method: "DELETE" }).catch((e) => showError(error, e.message));
                loadDevices();
              });
              return h(
                "li",
                { class: "row" },
                h("span", { style: "flex:1" }, d.name || d.id, d.active ? "" : " (inactive)"),
                remove,
              );
            })
          : [h("li", {}, "No devices yet.")]),
      );
    } catch (e) {
      devices.replaceChildren(h("li", {}, e instanceof NetworkError ? "Offline." : e.message));
    }
  }

  const enable = h("button", { type: "button", class: "btn primary block" }, "Turn on notifications");
  enable.addEventListener("click", async () => {
    showError(error, "");
    try {
      const permission = await Notification.requestPermission();
      showStatus();
      if (permission !== "granted") return;
      const { public_key: key } = await api("/api/push/vapid-key/");
      const registration = await navigator.serviceWorker.ready;
      let subscription = await registration.pushManager.getSubscription();
      subscription ||= await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: b64urlToBytes(key),
      });
      const device = await api("/api/devices/", {
        method: "POST",
        body: { type: "webpush", name: deviceName(), subscription: subscription.toJSON() },
      });
      await kvSet("push-device", device.id); // removed at sign-out
      toast("Notifications are on.");
      loadDevices();
    } catch (e) {
      showError(error, `Could not turn on notifications: ${e instanceof ApiError ? errorText(e.body) : e.message}`);
    }
  });
  const test = h("button", { type: "button", class: "btn secondary block" }, "Send a test notification");
  test.addEventListener("click", async () => {
    showError(error, "");
    try {
      const answer = await api("/api/devices/test/", { method: "POST", body: {} });
      toast(`Test sent to ${answer.devices} device(s).`);
    } catch (e) {
      showError(error, e.message);
    }
  });
  if (supported) section.append(enable, test);
  section.append(h("h3", {}, "Your devices"), devices, error);
  loadDevices();
  return section;
}

function deviceName() {
  const ua = navigator.userAgent;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iPhone" : /Mac/.test(ua) ? "Mac" : /Windows/.test(ua) ? "Windows" : "Linux";
  return `${os} browser`;
}

async function careSection() {
  const error = errorBox();
  const links = h("ul", { class: "list", id: "care-links" });
  const section = card("care-h", "Care team");

  async function loadLinks() {
    try {
      const page = await api("/api/care/links/?status=active");
      links.replaceChildren(
        ...(page.results.length
          ? page.results.map((link) => {
              const revoke = h("button", { type: "button", class: "btn small danger" }, "Stop sharing");
              revoke.setAttribute("aria-label", `Stop sharing with ${link.physiotherapist.display_name}`);
              revoke.addEventListener("click", async () => {
                if (!confirm(`Stop sharing your data with ${link.physiotherapist.display_name}?`)) return;
                try {
                  await api(`/api/care/links/${link.id}/revoke/`, { method: "POST", body: {} });
                  toast("Sharing stopped.");
                } catch (e) {
                  showError(error, e.message);
                }
                loadLinks();
              });
              return h(
                "li",
                { class: "row" },
                h("span", { style: "flex:1" }, h("strong", {}, link.physiotherapist.display_name), h("br"), h("span", { class: "hint" }, `since ${fmtDayTime(link.consented_at)}`)),
                revoke,
              );
            })
          : [h("li", {}, "You share your data with nobody.")]),
      );
    } catch (e) {
      links.replaceChildren(h("li", {}, e instanceof NetworkError ? "Offline." : e.message));
    }
  }

  const code = h("input", { id: "care-code", name: "code", autocomplete: "off", autocapitalize: "characters", placeholder: "ABCDE-FGHJK", maxlength: 32 });
  const form = h(
    "form",
    { class: "stack" },
    h("div", { class: "field" }, h("label", { for: "care-code" }, "Invitation code from your physiotherapist"), code),
    h("button", { type: "submit", class: "btn secondary block" }, "Share my data with them"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, "");
    try {
      const link = await api("/api/care/redeem/", { method: "POST", body: { code: code.value } });
      code.value = "";
      toast(`You now share your data with ${link.physiotherapist.display_name}.`);
      loadLinks();
    } catch (e) {
      showError(error, e instanceof NetworkError ? "You are offline." : e.message);
    }
  });
  section.append(
    h("p", { class: "hint" }, "A physiotherapist you link to sees your check-ins, timers and notes until you stop sharing."),
    links,
    form,
    error,
  );
  await loadLinks();
  return section;
}

// Downloads (recovery/api/export_views.py): plain links, the session cookie authenticates them.
async function exportSection() {
  const link = (href, text) => h("a", { class: "btn secondary block", href, download: "" }, text);
  return card(
    "export-h",
    "Export my data",
    h("p", { class: "hint" }, "Everything backcare keeps about you, to keep or to give to a doctor."),
    link("/api/me/export/", "All my data (JSON)"),
    link("/api/me/export/timeline.csv", "My timeline (CSV, for a spreadsheet)"),
    link("/api/me/export/fhir/", "My episode for a clinic system (FHIR)"),
  );
}

async function inviteSection() {
  const out = h("p", { id: "invite-code", class: "big-line", "aria-live": "polite" });
  const error = errorBox();
  const button = h("button", { type: "button", class: "btn primary" }, "Create an invitation code");
  button.addEventListener("click", async () => {
    showError(error, "");
    try {
      const invite = await api("/api/physio/invites/", { method: "POST", body: {} });
      out.textContent = `${invite.code} (valid until ${fmtDayTime(invite.expires_at)})`;
    } catch (e) {
      showError(error, e.message);
    }
  });
  return card("invite-h", "Invite a patient", h("p", { class: "hint" }, "The code works once and is shown only now."), button, out, error);
}

// Sign-out: the device this browser registered is deleted and its push subscription ended. Its id was kept
// when it was registered; a subscription from before that is registered again (same row, its id answered).
async function pushForget() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return;
  const registration = await navigator.serviceWorker.getRegistration();
  const subscription = registration && (await registration.pushManager.getSubscription());
  let id = await kvGet("push-device");
  try {
    if (!id && subscription) {
      const body = { type: "webpush", name: deviceName(), subscription: subscription.toJSON() };
      id = (await api("/api/devices/", { method: "POST", body })).id;
    }
    if (id) await api(`/api/devices/${id}/`, { method: "DELETE" });
  } finally {
    if (subscription) await subscription.unsubscribe();
  }
}

function accountSection(me, ctx) {
  const button = h("button", { type: "button", class: "btn secondary block" }, "Sign out");
  button.addEventListener("click", async () => {
    const pending = await pendingCount();
    if (pending && !confirm(`${pending} change(s) made offline are not sent yet and will be lost. Sign out anyway?`)) return;
    // This browser stops receiving the account's reminders: its device is removed (while still signed in)
    // and its push subscription ended.
    await pushForget().catch(() => {});
    await api("/api/auth/logout/", { method: "POST" }).catch(() => {});
    // Nothing of this account stays on the phone.
    await accountForget();
    ctx.session.me = null;
    ctx.go("signin");
  });
  return card("account-h", "Account", h("p", {}, me.display_name ? `${me.display_name}, ` : "", me.email), button);
}
