"""Writes of the treatment domain, one module per kind of record; import them from here.

- protocol.py      loading protocol versions, prescriptions (a physiotherapist's per-episode values)
- applications.py  ice and heat applications: start (or record offline), stop, the sweep closing overdue ones
- rest.py          bed rest: start (or record offline), stop, the stop at the episode's resolution
- intake.py        medication intakes and walks
- running.py       the stop of a running thing (an application or a rest period), written once
- records.py       what every timed record's write checks: its episode, its instants, the resolution, overlaps

Every write under a client id follows backcare.core.replay (a replay answers the stored record, other content
under the same id is a 409). A write to an episode locks the episode row first (records.episode_for_write),
then the record's row: one episode's writes are serialised.
"""

from recovery.treatment.services.applications import application_put, application_stop, applications_close_all_overdue
from recovery.treatment.services.intake import ACTIVITY_MAX_MINUTES, DOSE_RANGES_MG, activity_put, medication_put
from recovery.treatment.services.protocol import PROTOCOL_SOURCE, prescription_create, protocol_version_load
from recovery.treatment.services.rest import rest_put, rest_stop, rest_stop_at_resolution

__all__ = [
    "ACTIVITY_MAX_MINUTES",
    "DOSE_RANGES_MG",
    "PROTOCOL_SOURCE",
    "activity_put",
    "application_put",
    "application_stop",
    "applications_close_all_overdue",
    "medication_put",
    "prescription_create",
    "protocol_version_load",
    "rest_put",
    "rest_stop",
    "rest_stop_at_resolution",
]
