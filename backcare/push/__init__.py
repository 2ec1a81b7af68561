"""Push notifications: VAPID keys, the devices and their API, and the transports that send to them.

  devices.py     the map of device models (our type name -> django-push-notifications' model)
  selectors.py   reads of devices;  services.py  register, rename, remove, deactivate, the test push
  transports.py  one class per push service (WebPush, FCM, APNs); network only
  endpoints.py   the one endpoint parser (devices API and sender) and the addresses a push may reach
  http.py        the sender's session: connections that check their addresses, a total deadline per push
  probe.py       a test notification now; tasks.py queues it; models.py keeps each device's last result
  vapid.py       the VAPID key and the signed header cache

Importing this package must stay cheap and Django-free: the settings modules import ``backcare.push.vapid``.
"""
