"""Push notifications: VAPID keys, the devices API, and the hook the sender plugs into.

Importing this package must stay cheap and Django-free: the settings modules import ``backcare.push.vapid``.
"""
