// IndexedDB through idb: the offline outbox and the last answers the app needs offline, one database per
// account ("backcare-u<user id>"), so a shared phone never mixes two people's data.
//
// Only the signed-in account's database is ever read or written. When someone else signs in on this
// browser (the last session ended without "Sign out": cookies cleared, session expired), the other
// account's database is left alone, kept for its owner: their queued check-ins are sent, as them, the next
// time they sign in here, and nothing of theirs is shown or sent meanwhile. "Sign out" deletes the database.
import { deleteDB, openDB } from "./vendor/idb.js";

const LEGACY_DB = "backcare"; // before per-account databases: one for whoever was signed in
const LAST_ACCOUNT = "backcare.account"; // the id only: which database to open offline, before /api/me/ answers

let account = null;
let dbPromise = null;

function dbName(id) {
  return `backcare-u${id}`;
}

function open(name) {
  return openDB(name, 1, {
    upgrade(database) {
      // Writes waiting to be sent, keyed "kind:client uuid" (a start and its stop share the uuid).
      const outbox = database.createObjectStore("outbox", { keyPath: "key" });
      outbox.createIndex("queued_at", "queued_at");
      // Last known answers (me, checklist, state, library...): what the app shows offline.
      database.createObjectStore("kv");
    },
  });
}

// The account every read and write below goes to (the signed-in user's id), or null: nothing is read then.
export async function useAccount(id) {
  id = id === undefined || id === null ? null : Number(id);
  if (id === account) return;
  account = id;
  dbPromise = id === null ? null : open(dbName(id));
  try {
    if (id === null) localStorage.removeItem(LAST_ACCOUNT);
    else localStorage.setItem(LAST_ACCOUNT, String(id));
  } catch {
    /* storage refused (private mode): offline start then shows the sign-in screen */
  }
  if (id !== null) await adoptLegacy(id);
}

export function currentAccount() {
  return account;
}

// The account that was signed in last on this browser (for an offline start), or null.
export function lastAccount() {
  try {
    const value = localStorage.getItem(LAST_ACCOUNT);
    return value ? Number(value) : null;
  } catch {
    return null;
  }
}

// The one database of older versions: its data moves to its owner's database (its "me" says whose),
// and only when that owner signs in; anyone else never reads it.
async function adoptLegacy(id) {
  if (!indexedDB.databases) return;
  const names = (await indexedDB.databases()).map((d) => d.name);
  if (!names.includes(LEGACY_DB)) return;
  const legacy = await open(LEGACY_DB);
  const me = await legacy.get("kv", "me");
  if (!me || me.id !== id) {
    legacy.close();
    return;
  }
  const items = await legacy.getAll("outbox");
  const target = await dbPromise;
  const tx = target.transaction("outbox", "readwrite");
  await Promise.all([...items.map((item) => tx.store.put({ ...item, owner: id })), tx.done]);
  legacy.close();
  await deleteDB(LEGACY_DB);
}

export function db() {
  return dbPromise;
}

export async function kvGet(key) {
  const database = await db();
  return database ? database.get("kv", key) : undefined;
}

export async function kvSet(key, value) {
  const database = await db();
  return database ? database.put("kv", value, key) : undefined;
}

export async function kvClear() {
  const database = await db();
  return database ? database.clear("kv") : undefined;
}

// The signed-in account's outbox, oldest first (each item also names its owner: a belt to the braces).
export async function outboxAll() {
  const database = await db();
  if (!database) return [];
  const owner = account;
  const items = await database.getAllFromIndex("outbox", "queued_at");
  return items.filter((item) => item.owner === owner);
}

export async function outboxPut(item) {
  const database = await db();
  if (!database) throw new Error("Not signed in: nothing can be queued.");
  return database.put("outbox", { ...item, owner: account });
}

export async function outboxDelete(keys, owner = account) {
  if (owner === null || owner !== account) return; // the account changed meanwhile: its database is not ours
  const tx = (await db()).transaction("outbox", "readwrite");
  await Promise.all([...keys.map((key) => tx.store.delete(key)), tx.done]);
}

export async function outboxCount() {
  const database = await db();
  return database ? database.count("outbox") : 0;
}

export async function outboxClear() {
  const database = await db();
  return database ? database.clear("outbox") : undefined;
}

// Sign out: nothing of this account stays on the phone.
export async function accountForget() {
  const id = account;
  const database = await db();
  await useAccount(null);
  if (id === null) return;
  if (database) database.close();
  await deleteDB(dbName(id));
}
