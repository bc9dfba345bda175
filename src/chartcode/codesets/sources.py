"""Where code-set files come from: a local directory, an HTTP mirror, or the official CMS/NCHS archives.

Every source is turned into a list of local files plus what was verified about them. A directory
(or HTTP mirror) may carry a ``MANIFEST.sha256`` in ``sha256sum`` format: every listed file is
checked and a mismatch or a missing file stops the install. Official archives are zip files whose
CRCs are checked before their members are extracted.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import urljoin

import httpx

from chartcode.codesets.download import download, sha256_file
from chartcode.errors import ChecksumMismatchError, CodesetSourceError

MANIFEST = "MANIFEST.sha256"
_MANIFEST_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


@dataclass
class FetchedFiles:
    files: list[Path]
    origin: str  # what the user asked for: a directory, a URL, "official"
    verified: dict[str, str] = field(default_factory=dict)  # relative name -> sha256 checked against manifest
    notes: list[str] = field(default_factory=list)
    checksums: dict[Path, str] = field(default_factory=dict)  # every file -> its sha256


def parse_manifest(text: str, where: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _MANIFEST_LINE.match(line)
        if not match:
            raise CodesetSourceError(
                f"{where}, line {number}: not a 'sha256  path' line.",
                "regenerate the manifest with `sha256sum` from the mirror's top directory.",
            )
        entries[match.group(2).strip()] = match.group(1).lower()
    return entries


def from_directory(root: Path) -> FetchedFiles:
    if not root.is_dir():
        raise CodesetSourceError(
            f"source directory {root} does not exist or is not a directory.",
            "pass --source with the folder that holds the code-set files (e.g. ../shared/data).",
        )
    fetched = FetchedFiles(files=[], origin=str(root))
    manifest_path = root / MANIFEST
    manifest = (
        parse_manifest(manifest_path.read_text(encoding="utf-8"), str(manifest_path))
        if manifest_path.exists()
        else {}
    )
    for rel, expected in manifest.items():
        path = root / rel
        if not path.exists():
            raise CodesetSourceError(
                f"{path} is listed in {manifest_path} but missing.",
                "restore the file in the mirror (or remove it from the manifest) and install again.",
            )
        actual = sha256_file(path)
        if actual != expected:
            raise ChecksumMismatchError(
                f"{path}: sha256 is {actual}, but {MANIFEST} says {expected}; the file is corrupt, "
                "truncated or was changed.",
                "restore the file from its official source and install again.",
            )
        fetched.verified[rel] = actual
        fetched.checksums[path] = actual
    if not manifest:
        fetched.notes.append(
            f"{root} has no {MANIFEST}: files were parsed strictly but not checksum-verified."
        )
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name == MANIFEST or path.name.startswith("."):
            continue
        fetched.files.append(path)
        if path not in fetched.checksums:
            fetched.checksums[path] = sha256_file(path)
    return fetched


def from_http_mirror(base_url: str, workdir: Path, client: httpx.Client | None = None) -> FetchedFiles:
    """A web server laid out like a directory source, with a MANIFEST.sha256 at its top."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    manifest_file = download(urljoin(base, MANIFEST), workdir / MANIFEST, client=client)
    manifest = parse_manifest(manifest_file.read_text(encoding="utf-8"), urljoin(base, MANIFEST))
    if not manifest:
        raise CodesetSourceError(
            f"{urljoin(base, MANIFEST)} lists no files.", "point --source at the top of the mirror."
        )
    fetched = FetchedFiles(files=[], origin=base)
    for rel, expected in sorted(manifest.items()):
        target = workdir / rel
        download(urljoin(base, rel), target, sha256=expected, client=client)
        fetched.files.append(target)
        fetched.verified[rel] = expected
        fetched.checksums[target] = expected
    return fetched


@dataclass(frozen=True)
class Archive:
    name: str
    url: str
    members: tuple[str, ...]
    sha256: str | None = None


def load_catalog(path: Path | None = None) -> tuple[list[Archive], dict[str, str]]:
    if path is None:
        text = resources.files("chartcode.data").joinpath("official_sources.json").read_text(encoding="utf-8")
        where = "the built-in official catalogue"
    else:
        text = path.read_text(encoding="utf-8")
        where = str(path)
    try:
        data = json.loads(text)
        archives = [
            Archive(a["name"], a["url"], tuple(a["members"]), a.get("sha256")) for a in data["archives"]
        ]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CodesetSourceError(
            f"{where} is not a valid catalogue ({exc}).",
            'each archive needs "name", "url" and "members"; see chartcode/data/official_sources.json.',
        ) from None
    return archives, dict(data.get("not_downloadable", {}))


def from_catalog(
    workdir: Path,
    catalog: Path | None = None,
    client: httpx.Client | None = None,
    progress: Callable[[str], None] | None = None,
) -> FetchedFiles:
    archives, unavailable = load_catalog(catalog)
    fetched = FetchedFiles(files=[], origin=str(catalog) if catalog else "official CMS/NCHS downloads")
    for index, archive in enumerate(archives):
        if progress:
            progress(archive.name)
        is_zip = archive.url.lower().endswith(".zip")
        local = workdir / "downloads" / f"{index:02d}{'.zip' if is_zip else ''}"
        download(archive.url, local, sha256=archive.sha256, client=client)
        if not is_zip:
            name = archive.url.rstrip("/").rsplit("/", 1)[-1]
            target = workdir / "files" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            local.replace(target)
            fetched.files.append(target)
            fetched.checksums[target] = sha256_file(target)
            continue
        fetched.files.extend(_extract(local, archive, workdir / "files" / f"{index:02d}", fetched))
    for what, why in unavailable.items():
        fetched.notes.append(f"{what}: {why}")
    return fetched


def _extract(zip_path: Path, archive: Archive, into: Path, fetched: FetchedFiles) -> list[Path]:
    patterns = [re.compile(p, re.IGNORECASE) for p in archive.members]
    try:
        with zipfile.ZipFile(zip_path) as zf:
            broken = zf.testzip()
            if broken is not None:
                raise ChecksumMismatchError(
                    f"{archive.url}: member {broken} fails its CRC check; the download is corrupt.",
                    "run the install again to download the archive afresh.",
                )
            out: list[Path] = []
            for info in zf.infolist():
                base = info.filename.rsplit("/", 1)[-1]
                if info.is_dir() or not any(p.fullmatch(base) for p in patterns):
                    continue
                target = into / base
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    while block := src.read(1 << 20):
                        dst.write(block)
                out.append(target)
                fetched.checksums[target] = sha256_file(target)
    except zipfile.BadZipFile as exc:
        zip_path.unlink(missing_ok=True)
        raise CodesetSourceError(
            f"{archive.url} is not a readable zip archive ({exc}).",
            "run the install again; if it persists the official file has changed: fix the catalogue entry.",
        ) from None
    if not out:
        raise CodesetSourceError(
            f"{archive.url} holds no file matching {list(archive.members)}.",
            "the archive's layout changed: update the members patterns in the catalogue (--catalog).",
        )
    return out
