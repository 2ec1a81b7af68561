"""The reminder outbox: one Reminder row per planned notification, one Delivery per device it goes to, one
DeliveryAttempt per try. The life of a reminder, module by module:

  planning.py   the rows follow the engine's plan, in the transaction of the event that changed it
                (`replans_episode`); re-plans of open episodes and of episodes whose reminder just ended
  claims.py     the one claim rule (FOR UPDATE SKIP LOCKED, then a conditional UPDATE) for due reminders
                and due deliveries; the claim's expiry is its token
  dispatch.py   the dispatcher's step: claim due reminders, expire the stale, fan each out to one Delivery per active device,
                claim due deliveries
  sending.py    post a batch of claimed deliveries from a thread pool, record every answer in one
                transaction (retry with backoff, gone, failed)
  endings.py    a reminder ends when its deliveries have: sent at the first success, else failed
  payloads.py   what the phone shows: texts, payload, TTL
  actions.py    per kind (data): the buttons, the screen a tap opens, the freshness window (a reminder claimed
                after it is expired, not sent; safety reminders have none)
  acks.py       the answers (start, stop, snooze, skip, done) from the notification or the app, and the
                signed token the service worker uses (its reminder's buttons only, until they stop making sense)
  selectors.py  the patient's reminders; outbox status (lag, counts, heartbeat) for healthz and
                `manage.py reminders_status`

The Celery tasks that drive it are in recovery/tasks.py; the push transports in backcare/push/transports.py.

Lock order, for every writer (so two never deadlock): the episode, then its reminders in key order, then
their deliveries in key order, then device rows, then the patient's triage summary, last. Claims use SKIP
LOCKED and never wait, so they are outside the order. Every row lock is FOR NO KEY UPDATE (nothing changes a
key): a transaction that updates a row twice (the dispatcher: claim, then hold or expire) re-checks that
row's deferred foreign keys at commit with FOR KEY SHARE on the episode and the patient, which a FOR UPDATE
held by a writer waiting for that very reminder would block for ever (a deadlock).
"""
