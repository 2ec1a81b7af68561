// The app's entry: session, hash routes, navigation, the service worker and the outbox.
import { api, ApiError, NetworkError } from "./api.js";
import { prefetch } from "./data.js";
import { flush, onOutboxChange, pendingCount } from "./outbox.js";
import { kvGet, kvSet, lastAccount, useAccount } from "./store.js";
import { focusHeading, h, toast } from "./ui.js";

const PATIENT_TABS = [
  ["today", "Today"],
  ["checkin", "Check-in"],
  ["history", "History"],
  ["learn", "Learn"],
  ["settings", "Settings"],
];
const PHYSIO_TABS = [
  ["triage", "Patients"],
  ["settings", "Settings"],
];
const PUBLIC = new Set(["signin", "signup"]);

const screens = {
  signin: () => import("./screens/auth.js").then((m) => m.signin),
  signup: () => import("./screens/auth.js").then((m) => m.signup),
  today: () => import("./screens/today.js").then((m) => m.today),
  checkin: () => import("./screens/checkin.js").then((m) => m.checkin),
  history: () => import("./screens/history.js").then((m) => m.history),
  learn: () => import("./screens/learn.js").then((m) => m.learn),
  settings: () => import("./screens/settings.js").then((m) => m.settings),
  plan: () => import("./screens/plan.js").then((m) => m.plan),
  questionnaire: () => import("./screens/questionnaire.js").then((m) => m.questionnaire),
  triage: () => import("./screens/physio.js").then((m) => m.triage),
  patient: () => import("./screens/physio.js").then((m) => m.patient),
  reminder: () => import("./screens/reminder.js").then((m) => m.reminder),
  emergency: () => import("./screens/emergency.js").then((m) => m.emergency),
  alerts: () => import("./screens/physio.js").then((m) => m.triage), // the alerts stand at the queue's top
};

export const session = { me: null };
let cleanup = null;
// Bumped by every render: a slower, older render must not replace the screen a newer one shows.
let renders = 0;
// The screen asked for before signing in (a tapped reminder, a bookmark): opened once signed in.
let wanted = null;

async function loadMe() {
  try {
    session.me = await api("/api/me/");
    await useAccount(session.me.id);
    await kvSet("me", session.me);
  } catch (error) {
    if (error instanceof NetworkError) {
      // Offline: the account signed in last on this browser, from its own store.
      await useAccount(lastAccount());
      session.me = (await kvGet("me")) || null;
    } else if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      // The session ended without "Sign out": that account's store stays closed (kept for its owner).
      session.me = null;
      await useAccount(null);
    } else throw error;
  }
  return session.me;
}

export async function signedIn(me) {
  session.me = me;
  // The store and outbox of this account only: another account's queue is never sent, its cache never shown.
  await useAccount(me.id);
  await kvSet("me", me);
  prefetch(me);
  flush({ background: true });
  const tabs = me && me.role === "physiotherapist" ? PHYSIO_TABS : PATIENT_TABS;
  // A tapped reminder (#/reminder/<id>) survives signing in too.
  const fits = wanted && (tabs.some(([route]) => route === wanted) || /^reminder\/\d+$/.test(wanted));
  const next = fits ? wanted : homeRoute();
  wanted = null;
  go(next);
}

export function homeRoute() {
  return session.me && session.me.role === "physiotherapist" ? "triage" : "today";
}

export function go(route) {
  const hash = `#/${route}`;
  if (location.hash === hash) render();
  else location.hash = hash;
}

function parseHash() {
  const [name, ...params] = location.hash.replace(/^#\/?/, "").split("/");
  return { name: name || "", params };
}

function renderNav(active) {
  const nav = document.getElementById("nav");
  if (!session.me) {
    nav.hidden = true;
    document.body.classList.remove("with-nav");
    return;
  }
  const tabs = session.me.role === "physiotherapist" ? PHYSIO_TABS : PATIENT_TABS;
  const current = active === "patient" || active === "alerts" ? "triage" : active;
  nav.replaceChildren(
    ...tabs.map(([route, label]) =>
      h("a", { href: `#/${route}`, class: "tab", "aria-current": route === current ? "page" : false }, label),
    ),
  );
  nav.hidden = false;
  document.body.classList.add("with-nav", `role-${session.me.role}`);
}

async function render() {
  const turn = ++renders;
  let { name, params } = parseHash();
  if (!session.me && !PUBLIC.has(name)) {
    if (screens[name]) wanted = [name, ...params].join("/");
    name = "signin";
  }
  if (session.me && (PUBLIC.has(name) || !screens[name])) name = homeRoute();
  if (`#/${[name, ...params].join("/")}` !== location.hash && !params.length) {
    history.replaceState(null, "", `#/${name}`);
  }
  if (cleanup) cleanup();
  cleanup = null;
  renderNav(name);
  const main = document.getElementById("main");
  main.dataset.screen = name;
  const screen = await screens[name]();
  if (turn !== renders) return;
  const root = h("div", { class: "screen" });
  main.replaceChildren(root);
  let done = null;
  try {
    done = (await screen(root, params, { go, session, signedIn })) || null;
  } catch (error) {
    root.append(h("p", { class: "error", role: "alert" }, `This screen could not load: ${error.message}`));
  }
  if (turn !== renders) {
    if (done) done();
    return;
  }
  cleanup = done;
  focusHeading(root);
}

function showNetwork() {
  const el = document.getElementById("net");
  pendingCount().then((pending) => {
    const waiting = pending ? ` - ${pending} waiting to send` : "";
    el.textContent = navigator.onLine ? (pending ? `${pending} waiting to send` : "") : `Offline${waiting}`;
    el.classList.toggle("off", !navigator.onLine);
  });
}

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  // Before any await: the worker's messages are dropped if no listener is there once the document
  // has loaded. A tapped notification sends one to a window the worker cannot navigate.
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "open") location.hash = event.data.hash;
  });
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  } catch (error) {
    console.warn("service worker not registered", error);
  }
}

async function start() {
  registerWorker();
  // A link to the screen already shown starts it afresh (no hashchange fires for it).
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#/"]');
    if (link && link.getAttribute("href") === location.hash) {
      event.preventDefault();
      render();
    }
  });
  window.addEventListener("online", () => {
    showNetwork();
    flush({ background: true });
  });
  window.addEventListener("offline", showNetwork);
  onOutboxChange(({ rejected, sent, background }) => {
    showNetwork();
    // Screens that show server state refresh once queued writes have reached it.
    const screen = document.getElementById("main").dataset.screen;
    if (background && sent && (screen === "today" || screen === "history")) render();
    for (const { item, result } of rejected) {
      const what = item.kind.replace("_", " ");
      toast(`A ${what} saved offline was refused: ${JSON.stringify(result.errors || result.status)}`, 8000);
    }
  });
  // A server that comes back without the browser noticing (no "online" event) is caught here.
  setInterval(() => {
    pendingCount().then((n) => n && flush({ background: true }));
  }, 30000);
  await loadMe();
  if (session.me) {
    prefetch(session.me);
    // Send what waited offline before the first screen reads the state it changes (bounded wait:
    // a slow server must not hold the app).
    await Promise.race([flush({ background: true }), new Promise((resolve) => setTimeout(resolve, 4000))]);
  }
  showNetwork();
  // Only now: a route set while the session loads (a tapped reminder) would otherwise be rendered
  // as signed out, rewritten to #/signin and lost. The render below reads the latest hash.
  window.addEventListener("hashchange", render);
  await render();
  document.body.dataset.ready = "1";
}

start();
