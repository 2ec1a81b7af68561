"""Signals accounts sends, so that apps built on it react without accounts importing them."""

from django.dispatch import Signal

# Sent by profile_update inside its transaction, after the profile is saved, with `user` and `profile`.
# Receivers write in that transaction (recovery re-plans the patient's reminders for the new zone, sleep
# window and preferences); a receiver that raises rolls the update back, so it is sent with send(), not
# send_robust().
profile_changed = Signal()
