// IndexedDB through idb: the offline outbox and the last answers the app needs offline.
import { openDB } from "./vendor/idb.js";

const DB_NAME = "backcare";

let dbPromise;
export function db() {
  dbPromise ||= openDB(DB_NAME, 1, {
    upgrade(database) {
      // Writes waiting to be sent, keyed "kind:client uuid" (a start and its stop share the uuid).
      const outbox = database.createObjectStore("outbox", { keyPath: "key" });
      outbox.createIndex("queued_at", "queued_at");
      // Last known answers (me, checklist, state, library...): what the app shows offline.
      database.createObjectStore("kv");
    },
  });
  return dbPromise;
}

export async function kvGet(key) {
  return (await db()).get("kv", key);
}

export async function kvSet(key, value) {
  return (await db()).put("kv", value, key);
}

export async function kvClear() {
  return (await db()).clear("kv");
}

export async function outboxAll() {
  return (await db()).getAllFromIndex("outbox", "queued_at");
}

export async function outboxPut(item) {
  return (await db()).put("outbox", item);
}

export async function outboxDelete(keys) {
  const tx = (await db()).transaction("outbox", "readwrite");
  await Promise.all([...keys.map((key) => tx.store.delete(key)), tx.done]);
}

export async function outboxCount() {
  return (await db()).count("outbox");
}

export async function outboxClear() {
  return (await db()).clear("outbox");
}
