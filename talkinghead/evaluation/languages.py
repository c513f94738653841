"""The language each held-out speaker speaks, so lip sync can be reported per language: a
model that only works on English must not hide behind an English-heavy mean.

The prepared format has no language; the shared data's manifest.csv files do, per clip,
next to the speaker id that `talkinghead prepare` gives the clip. So the languages are read
at evaluation time from the data root, by speaker.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

from talkinghead.data_root import SPEAKER_COLUMNS

UNKNOWN = "unknown"
LANGUAGE_COLUMN = "language"
UNVERIFIED = {"", UNKNOWN, "not verified"}
# Speakers of the shared data that no manifest lists: GRID s1 (video/grid/, the speaker
# prepare's shared_data_inputs names), English like the whole GRID corpus (data README).
UNLISTED = {"grid_s1": "en"}


def read_languages(root: str | os.PathLike) -> tuple[dict[str, str], list[Path]]:
    """(speaker -> language, the manifests read) from every manifest.csv under root/video
    with a speaker and a language column. A speaker whose clips have several languages gets
    them all, sorted and joined by "+" (e.g. "fr+unknown": one clip in French, the others
    not verified), so no speaker is claimed for a language the data does not show."""
    found: dict[str, set[str]] = {}
    manifests = []
    for path in sorted(Path(root, "video").rglob("manifest.csv")):
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            speaker = next((c for c in SPEAKER_COLUMNS if c in columns), None)
            if speaker is None or LANGUAGE_COLUMN not in columns:
                continue
            manifests.append(path)
            for row in reader:
                language = row[LANGUAGE_COLUMN].strip().lower()
                if row[speaker].strip():
                    found.setdefault(row[speaker].strip(), set()).add(UNKNOWN if language in UNVERIFIED else language)
    languages = {s: "+".join(sorted(langs, key=lambda x: (x == UNKNOWN, x))) for s, langs in found.items()}
    return UNLISTED | languages, manifests


def language_groups(speakers: Iterable[str], languages: dict[str, str]) -> dict[str, list[str]]:
    """language -> its speakers: known languages first (most speakers first), then those
    partly known ("fr+unknown"), then "unknown"."""
    groups: dict[str, list[str]] = {}
    for s in speakers:
        groups.setdefault(languages.get(s, UNKNOWN), []).append(s)
    return dict(
        sorted(groups.items(), key=lambda kv: (kv[0] == UNKNOWN, UNKNOWN in kv[0].split("+"), -len(kv[1]), kv[0]))
    )
