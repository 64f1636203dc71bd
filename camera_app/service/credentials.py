"""Secrets from systemd credentials (``LoadCredential=NAME:/path``) in ``$CREDENTIALS_DIRECTORY``.

A config value can name a credential instead of holding a password::

    source: rtsp://viewer:${credential:camera-password}@192.168.1.20/stream1

The config reader fills each ``${credential:NAME}`` with ``read_credential(NAME)``, the content
of ``$CREDENTIALS_DIRECTORY/NAME``. Errors name the credential and the directory, never the
content.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from camera_app._files import read_regular
from camera_app.errors import ConfigError

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
MAX_CREDENTIAL_BYTES = 1 << 20  # systemd's own limit for a credential

# systemd takes any file name as a credential name; we accept the portable subset.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,254}")


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"invalid credential name {name!r}: expected letters, digits, '_', '.', '@' or '-' "
            "(starting with a letter or digit), as in LoadCredential=camera-password:/path"
        )


def read_credential(
    name: str,
    *,
    directory: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The content of credential ``name``, without one trailing newline.

    ``directory`` defaults to ``$CREDENTIALS_DIRECTORY``, which systemd sets for a unit with
    ``LoadCredential=``. Raises ConfigError naming the credential (never its content) when the
    directory is unset, the file is missing or unreadable, or it is not UTF-8.
    """
    _check_name(name)
    if directory is None:
        env = os.environ if environ is None else environ
        directory = env.get(CREDENTIALS_ENV) or None
        if directory is None:
            raise ConfigError(
                f"credential {name!r} is needed but ${CREDENTIALS_ENV} is not set: run under "
                f"systemd with LoadCredential={name}:/etc/camera-app/credentials/{name}, or set "
                f"{CREDENTIALS_ENV} to a directory holding a file named {name!r}"
            )
    path = Path(directory) / name
    try:
        data = read_regular(path, MAX_CREDENTIAL_BYTES)
    except FileNotFoundError:
        raise ConfigError(
            f"credential {name!r} not found: no file {str(path)!r}; add "
            f"LoadCredential={name}:/etc/camera-app/credentials/{name} to the unit "
            "(see docs/SERVICE.md)"
        ) from None
    except OSError as exc:
        # The OSError names the file and the reason, not the content.
        raise ConfigError(
            f"credential {name!r} cannot be read from {str(path)!r}: {exc.strerror or exc}"
        ) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # "from None": the UnicodeDecodeError would quote the offending byte of the secret.
        raise ConfigError(
            f"credential {name!r} in {str(path)!r} is not UTF-8 text; write it as UTF-8"
        ) from None
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text
