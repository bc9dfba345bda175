"""Fetching code-set files over HTTP(S): resumable, verified, never half-written.

A download goes to ``<name>.part`` beside its target. When the connection drops, the next attempt
asks the server for the rest (HTTP Range) and appends; when the server ignores ranges, it starts
again. The file is renamed into place only when its length matches the server's and its sha256
matches the expected one (when known). A checksum mismatch deletes the partial file and raises
:class:`~chartcode.errors.ChecksumMismatchError` naming the URL, the expected and the actual digest.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from chartcode.errors import ChecksumMismatchError, DownloadError

CHUNK = 1 << 16


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(
    url: str,
    target: Path,
    *,
    sha256: str | None = None,
    attempts: int = 4,
    timeout: float = 60.0,
    backoff: float = 0.5,
    client: httpx.Client | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download ``url`` to ``target``; resume after interruptions; verify length and sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    own_client = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=True)
    last_problem = "no attempt was made"
    try:
        for attempt in range(1, attempts + 1):
            try:
                if _fetch_once(http, url, part, progress):
                    break
                last_problem = "the connection closed before the whole file arrived"
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                if status in (404, 410, 401, 403):
                    raise DownloadError(
                        f"{url} answered HTTP {status}.",
                        "the file has moved or the address is wrong; pass a corrected catalogue with "
                        "--catalog, or download the file by hand and install with --source DIR.",
                    ) from None
                last_problem = f"HTTP {status}"
            except httpx.TransportError as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            if attempt < attempts:
                time.sleep(backoff * attempt)
        else:
            raise DownloadError(
                f"could not download {url} after {attempts} attempts ({last_problem}).",
                "check the network and run the install again; the partial file is kept and the next run "
                "resumes it.",
            )
    finally:
        if own_client:
            http.close()
    if sha256 is not None:
        actual = sha256_file(part)
        if actual.lower() != sha256.lower():
            part.unlink(missing_ok=True)
            raise ChecksumMismatchError(
                f"{url}: sha256 is {actual}, expected {sha256}; the download is corrupt or the file changed.",
                "run the install again; if it persists, the official file was replaced: update the pinned "
                "checksum in the catalogue.",
            )
    part.replace(target)
    return target


def _fetch_once(
    http: httpx.Client, url: str, part: Path, progress: Callable[[int, int | None], None] | None
) -> bool:
    """One attempt. Returns True when the file is complete."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with http.stream("GET", url, headers=headers) as response:
        if response.status_code == 416 and have:
            # Nothing left to send: what we have is the whole file only if the server says so.
            total_text = response.headers.get("Content-Range", "").rpartition("/")[2]
            if total_text.isdigit() and int(total_text) == have:
                return True
            part.unlink()
            return False
        response.raise_for_status()
        if response.status_code == 206:
            total_text = response.headers.get("Content-Range", "").rpartition("/")[2]
            total = int(total_text) if total_text.isdigit() else None
            mode = "ab"
        else:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            have, mode = 0, "wb"
        with open(part, mode) as handle:
            try:
                for chunk in response.iter_bytes(CHUNK):
                    handle.write(chunk)
                    have += len(chunk)
                    if progress:
                        progress(have, total)
            except (httpx.TransportError, httpx.RemoteProtocolError):
                return False
    return total is None or have == total
