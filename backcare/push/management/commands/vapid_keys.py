import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backcare.push.vapid import (
    VapidKeyError,
    generate_private_key,
    private_key_from_text,
    private_key_to_pem,
    private_key_to_raw_b64,
    public_key_b64,
)


class Command(BaseCommand):
    help = (
        "VAPID keys for WebPush. --ensure FILE: create an EC P-256 private key (PEM, mode 0600) unless FILE "
        "already holds a valid one, then print its public key. --print FILE: show the public key (and, with "
        "--env, the line to put in an environment file). Without arguments: print a new key as environment lines."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--ensure", metavar="FILE", help="Create FILE with a new key unless it holds a valid one.")
        group.add_argument("--print", dest="show", metavar="FILE", help="Print the public key of the key in FILE.")
        parser.add_argument(
            "--env", action="store_true", help="Also print BACKCARE_VAPID_PRIVATE_KEY=<base64url raw key>."
        )

    def handle(self, *args, **options):
        if options["ensure"]:
            key = self._ensure(Path(options["ensure"]))
        elif options["show"]:
            key = self._load(Path(options["show"]))
        else:
            key = generate_private_key()
            options["env"] = True
        if options["env"]:
            self.stdout.write(f"BACKCARE_VAPID_PRIVATE_KEY={private_key_to_raw_b64(key)}")
        self.stdout.write(f"BACKCARE_VAPID_PUBLIC_KEY={public_key_b64(key)}")

    def _load(self, path: Path):
        try:
            return private_key_from_text(path.read_text())
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        except (VapidKeyError, UnicodeError) as exc:
            raise CommandError(f"{path}: the key {exc}") from None

    def _ensure(self, path: Path):
        if path.exists():
            key = self._load(path)  # never overwrite: browsers are subscribed to this key
            self.stderr.write(f"VAPID key: using {path}")
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        key = generate_private_key()
        # Written beside the target with mode 0600 (the key is a secret), then linked into place: link fails
        # if the file appeared meanwhile, so two starts at once never overwrite or read a half-written key.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(private_key_to_pem(key))
            try:
                os.link(temporary, path)
            except FileExistsError:
                return self._load(path)
        finally:
            temporary.unlink(missing_ok=True)
        self.stderr.write(f"VAPID key: created {path}")
        return key
