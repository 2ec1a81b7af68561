/* backcare service worker. The server prepends VERSION (a hash of the app's files) and PRECACHE. */
/* global VERSION, PRECACHE */

const SHELL = `backcare-shell-${VERSION}`;
const ICON = "/static/web/icons/icon-192.png";
// What each reminder kind opens when the notification is tapped.
const SCREEN_FOR_KIND = { checkin: "#/checkin", review: "#/plan", plan_end: "#/plan", test: "#/settings", help_check: "#/emergency", clinician_alert: "#/alerts", questionnaire: "#/questionnaire" };

self.addEventListener("install", (event) => {
  // cache: "reload" so a stale HTTP cache never ends up in a new version's precache.
  const requests = PRECACHE.map((url) => new Request(url, { cache: "reload" }));
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll(requests))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("backcare-shell-") && k !== SHELL).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(navigate(request, url));
    return;
  }
  // The API is never cached here: the app keeps what it needs offline in IndexedDB, per user.
  if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/admin/")) return;
  if (PRECACHE.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname, { cacheName: SHELL }).then((hit) => hit || fetch(request)));
  }
});

async function navigate(request, url) {
  // The shell is the same for everyone: serve it from the cache (fast, offline), the worker's
  // version bump brings a new one.
  if (url.pathname === "/") {
    const hit = await caches.match("/", { cacheName: SHELL });
    if (hit) return hit;
  }
  try {
    return await fetch(request);
  } catch (error) {
    const page = await caches.match(url.pathname === "/" ? "/" : "/offline/", { cacheName: SHELL });
    if (page) return page;
    throw error;
  }
}

self.addEventListener("push", (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch {
    payload = { body: event.data ? event.data.text() : "" };
  }
  const tag = typeof payload.tag === "string" && payload.tag ? payload.tag : undefined;
  const options = {
    body: payload.body || "Open backcare to see what to do next.",
    icon: ICON,
    badge: ICON,
    // The tag is the reminder's slot: a redelivered reminder replaces itself instead of stacking.
    tag,
    renotify: Boolean(tag),
    actions: Array.isArray(payload.actions) ? payload.actions.slice(0, 2) : [],
    data: {
      kind: payload.kind || "",
      reminder_id: payload.reminder_id ?? null,
      ack_token: payload.ack_token ?? null,
      url: payload.url || "/",
    },
  };
  event.waitUntil(self.registration.showNotification(payload.title || "backcare", options));
});

self.addEventListener("notificationclick", (event) => {
  const notification = event.notification;
  const data = notification.data || {};
  notification.close();
  if (event.action) {
    // A button (Start now, It's off, In 10 min): answer the server without opening the app. The signed
    // token stands in for the session, which a worker woken by a push may not have.
    if (data.reminder_id && data.ack_token) event.waitUntil(ack(data, event.action, notification.tag));
    return;
  }
  // A plain tap (and any tap where the browser shows no buttons: Firefox, Safari) opens the reminder's
  // screen, which offers the same answers.
  event.waitUntil(openScreen(hashOf(data)));
});

function hashOf(data) {
  const url = typeof data.url === "string" ? data.url : "";
  const hash = url.startsWith("/#/") ? url.slice(1) : "";
  return hash || SCREEN_FOR_KIND[data.kind] || "#/today";
}

async function ack(data, action, tag) {
  let response;
  try {
    response = await fetch("/api/reminders/ack/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify({ reminder: data.reminder_id, action, token: data.ack_token }),
    });
  } catch {
    // Offline: say so at once, in place of the reminder; a tap opens the app, which shows what is due.
    return refused(data, tag, "You are offline: open backcare to do this.");
  }
  if (response.ok) return undefined;
  let reason = "";
  try {
    const body = await response.json();
    reason = typeof body.detail === "string" ? body.detail : "";
  } catch {
    reason = "";
  }
  return refused(data, tag, reason || "This could not be done from the notification: open backcare.");
}

function refused(data, tag, reason) {
  // Same tag: the answer replaces the reminder instead of stacking under it. No buttons: a tap opens the
  // reminder's screen.
  return self.registration.showNotification("backcare", {
    body: reason,
    icon: ICON,
    badge: ICON,
    tag: tag || undefined,
    renotify: Boolean(tag),
    data: { ...data, refused: true },
  });
}

async function openScreen(hash) {
  // The screen travels in the URL, not in a message: a page reads its route from location.hash
  // whenever it loads or the hash changes, so nothing depends on a message reaching a listener.
  const url = new URL(`/${hash}`, self.location.origin).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  // Prefer the app's shell; any other page of the site (admin, offline) is navigated to it.
  const client = windows.find((c) => new URL(c.url).pathname === "/") || windows[0];
  if (!client) return self.clients.openWindow(url);
  // Not chained: focus() can be refused (no user gesture left), the route must change regardless.
  const focused = client.focus().catch(() => null);
  // Always: client.url may be stale (Chromium keeps the URL the document loaded with, not its hash).
  try {
    await client.navigate(url);
  } catch {
    // navigate() needs a window this worker controls (not so after a hard reload, for example).
    if (new URL(client.url).pathname === "/") client.postMessage({ type: "open", hash });
    else await self.clients.openWindow(url);
  }
  await focused;
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip-waiting") self.skipWaiting();
});
