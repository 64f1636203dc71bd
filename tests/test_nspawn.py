"""The nspawn helper's pure parts: which mirror debootstrap uses (the host apt's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nspawn import DEFAULT_MIRROR, debian_mirror

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
"""
ONE_LINE = """\
# old style
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://old.example/debian/ bookworm main
"""


@pytest.mark.parametrize(
    ("files", "release", "expected"),
    [
        ({"sources.list.d/debian.sources": DEB822}, "bookworm", "http://mirror.example/debian"),
        ({"sources.list.d/debian.sources": DEB822}, "trixie", DEFAULT_MIRROR),
        # A disabled stanza and a deb-src one are not where packages come from.
        (
            {
                "sources.list.d/a.sources": "Enabled: no\n" + DEB822,
                "sources.list.d/b.sources": DEB822.replace("deb\n", "deb-src\n", 1),
            },
            "bookworm",
            DEFAULT_MIRROR,
        ),
        ({"sources.list": ONE_LINE}, "bookworm", "http://old.example/debian"),
        ({"sources.list": ONE_LINE.replace("deb ", "deb-src ")}, "bookworm", DEFAULT_MIRROR),
        ({}, "bookworm", DEFAULT_MIRROR),
    ],
)
def test_debootstrap_uses_the_mirror_of_the_hosts_apt(
    tmp_path: Path, files: dict[str, str], release: str, expected: str
) -> None:
    (tmp_path / "sources.list.d").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert debian_mirror(release, tmp_path) == expected
