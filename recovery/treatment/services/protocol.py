"""Writes of the protocol itself: loading a version from its file, and a per-episode prescription."""

import hashlib
import json
from pathlib import Path
from typing import Any

from django.db import transaction

from backcare.accounts.models import User
from recovery.episodes.models import Episode
from recovery.protocol.definition import ProtocolError, prescribe, protocol_from_dict, protocol_to_dict
from recovery.reminders.planning import replans_episode
from recovery.treatment.models import Prescription, ProtocolVersion
from recovery.treatment.selectors import protocol_version_current

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "data"
PROTOCOL_V1 = PROTOCOL_DIR / "protocol_v1.json"
# The newest version: new episodes follow it; each episode keeps the version it began with.
PROTOCOL_SOURCE = PROTOCOL_DIR / "protocol_v2.json"


@transaction.atomic
def protocol_version_load(*, source: Path = PROTOCOL_SOURCE, model=ProtocolVersion) -> tuple[ProtocolVersion, bool]:
    """Load a protocol file. Unchanged: nothing happens. Changed without a new version: refused."""
    raw = source.read_bytes()
    definition = json.loads(raw)["protocol"]
    protocol = protocol_from_dict(definition)  # refuses anything outside the hard bounds
    normalised = protocol_to_dict(protocol)
    checksum = hashlib.sha256(json.dumps(normalised, sort_keys=True).encode()).hexdigest()
    existing = model.objects.select_for_update().filter(version=protocol.version).first()
    if existing is not None:
        if existing.checksum != checksum:
            raise ProtocolError(
                {"version": f"v{protocol.version} is already loaded with other values; bump the version"}
            )
        return existing, False
    return model.objects.create(version=protocol.version, definition=normalised, checksum=checksum), True


@transaction.atomic
@replans_episode
def prescription_create(
    *, episode: Episode, overrides: dict[str, Any], author: User | None, note: str = ""
) -> Prescription:
    """Record a per-episode change to the protocol; refused if it leaves the hard safety bounds."""
    version = episode.protocol_version or protocol_version_current()
    prescribe(protocol_from_dict(version.definition), overrides)  # raises ProtocolError naming each field out of bounds
    return Prescription.objects.create(episode=episode, overrides=overrides, created_by=author, note=note)
