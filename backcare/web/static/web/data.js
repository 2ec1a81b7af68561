// Reads that the app also needs offline: the answer is kept in IndexedDB and served from there
// when the network is down.
import { api, apiAll, NetworkError } from "./api.js";
import { kvGet, kvSet } from "./store.js";

// {data, offline}: fresh from the server, or the last copy kept (offline: true). Throws ApiError.
export async function cachedGet(path, { all = false } = {}) {
  try {
    const data = all ? await apiAll(path) : await api(path);
    await kvSet(path, data);
    return { data, offline: false };
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    const data = await kvGet(path);
    if (data === undefined) throw error;
    return { data, offline: true };
  }
}

// The episode the patient is in: the open one, else null.
export async function openEpisode() {
  const { data } = await cachedGet("/api/episodes/?limit=5");
  return data.results.find((episode) => episode.status === "open") || null;
}

export async function latestEpisode() {
  const { data } = await cachedGet("/api/episodes/?limit=5");
  return data.results[0] || null;
}

// The red-flag checklist, kept for offline check-ins. The fallback is the emergency text alone,
// so a phone that never got the checklist still shows what to do.
export const FALLBACK_LEVELS = {
  emergency: {
    headline: "Get emergency help now",
    actions: [
      "Call your emergency number or go to the nearest emergency department now.",
      "Do not drive yourself; ask someone to take you or call an ambulance.",
    ],
  },
};

export async function checklist() {
  try {
    return (await cachedGet("/api/library/red-flags/")).data;
  } catch {
    return null;
  }
}

// Fetch what later screens need offline, quietly (after sign-in and at app start).
export async function prefetch(me) {
  if (me.role !== "patient") return;
  const paths = ["/api/library/red-flags/", "/api/library/for-me/", "/api/me/profile/", "/api/questionnaires/"];
  await Promise.allSettled(paths.map((path) => cachedGet(path)));
}
