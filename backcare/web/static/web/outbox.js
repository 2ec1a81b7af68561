// Writes wait in IndexedDB under their client uuid and go to POST /api/sync/ in order.
// The server stores each uuid once, so sending an item twice (a lost answer, two tabs) is harmless;
// an item leaves the outbox only once the server has answered for it.
// The outbox is the signed-in account's own (store.js): another account's queued writes are never sent.
import { api, NetworkError } from "./api.js";
import { currentAccount, outboxAll, outboxCount, outboxDelete, outboxPut } from "./store.js";

const BATCH = 200; // the sync endpoint's limit
const listeners = new Set();
let seq = 0;
let chain = Promise.resolve(new Map());

export function onOutboxChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

async function notify(rejected = [], sent = 0, background = false) {
  const pending = await outboxCount();
  for (const listener of listeners) listener({ pending, rejected, sent, background });
}

export async function enqueue(kind, id, data) {
  // queued_at keeps the order of writes made within the same millisecond.
  const item = { key: `${kind}:${id}`, kind, id, data, queued_at: Date.now() * 1000 + (seq++ % 1000) };
  await outboxPut(item);
  await notify();
  return item;
}

// Queue a write and try to send it now. Answers the server's result for it, or null while it waits.
export async function submit(kind, id, data) {
  const item = await enqueue(kind, id, data);
  const results = await flush();
  return results.get(item.key) || null;
}

// Sends run one after another: a write queued while a send is under way goes in the next one,
// so its caller gets its own result. background: not started by a screen's own write.
export function flush({ background = false } = {}) {
  const next = chain.then(() => send(background));
  chain = next.catch(() => new Map());
  return next;
}

async function send(background) {
  const results = new Map();
  const rejected = [];
  let sent = 0;
  const owner = currentAccount();
  const run = async () => {
    const items = await outboxAll();
    for (let start = 0; start < items.length; start += BATCH) {
      // Someone else signed in while this ran: what is left belongs to the one who queued it.
      if (owner === null || currentAccount() !== owner) return;
      const batch = items.slice(start, start + BATCH);
      let answer;
      try {
        answer = await api("/api/sync/", {
          method: "POST",
          body: { items: batch.map(({ kind, id, data }) => ({ kind, id, data })) },
        });
      } catch (error) {
        // Offline, signed out, throttled or a server error: keep everything for the next try.
        if (error instanceof NetworkError || error.status) return;
        throw error;
      }
      const answered = [];
      for (const result of answer.results) {
        const item = batch[result.index];
        results.set(item.key, result);
        if (result.status >= 500 || result.status === 429) continue; // worth another try later
        answered.push(item.key);
        // Stored, or refused for good (a 4xx): it must not be sent again, but the user should know.
        if (result.status >= 400) rejected.push({ item, result });
      }
      await outboxDelete(answered, owner);
      sent += answered.length;
    }
  };
  // One sender across tabs; the server would de-duplicate anyway, this just saves requests.
  if (navigator.locks) await navigator.locks.request("backcare-outbox", run);
  else await run();
  await notify(rejected, sent, background);
  return results;
}

export { outboxCount as pendingCount };
