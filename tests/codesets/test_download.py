from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chartcode.codesets.download import download
from chartcode.errors import ChecksumMismatchError, DownloadError
from tests.httpserver import Site, serve

BODY = bytes(range(256)) * 8192  # 2 MiB: big enough that part of it arrives before the cut


def test_download_complete_file(tmp_path: Path) -> None:
    site = Site(files={"a.bin": BODY})
    with serve(site) as base:
        out = download(base + "a.bin", tmp_path / "a.bin", sha256=hashlib.sha256(BODY).hexdigest())
    assert out.read_bytes() == BODY
    assert not (tmp_path / "a.bin.part").exists()


def test_interrupted_download_resumes_with_range(tmp_path: Path) -> None:
    site = Site(files={"a.bin": BODY}, cut_off={"a.bin": 1})
    with serve(site) as base:
        out = download(base + "a.bin", tmp_path / "a.bin", sha256=hashlib.sha256(BODY).hexdigest(), backoff=0)
    assert out.read_bytes() == BODY
    assert site.requests[0] == ("a.bin", None)
    resumed_from = int(site.requests[1][1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_from <= len(BODY) // 2


def test_interrupted_download_restarts_when_server_ignores_range(tmp_path: Path) -> None:
    site = Site(files={"a.bin": BODY}, cut_off={"a.bin": 1}, honour_range=False)
    with serve(site) as base:
        out = download(base + "a.bin", tmp_path / "a.bin", backoff=0)
    assert out.read_bytes() == BODY


def test_download_gives_up_after_attempts_and_keeps_partial(tmp_path: Path) -> None:
    site = Site(files={"a.bin": BODY}, cut_off={"a.bin": 10}, honour_range=False)
    with serve(site) as base, pytest.raises(DownloadError) as err:
        download(base + "a.bin", tmp_path / "a.bin", attempts=2, backoff=0)
    assert "after 2 attempts" in str(err.value)
    assert "connection closed before the whole file arrived" in str(err.value)
    assert not (tmp_path / "a.bin").exists()


def test_checksum_mismatch_is_an_error_and_nothing_is_kept(tmp_path: Path) -> None:
    site = Site(files={"a.bin": BODY})
    with serve(site) as base, pytest.raises(ChecksumMismatchError) as err:
        download(base + "a.bin", tmp_path / "a.bin", sha256="0" * 64)
    assert f"sha256 is {hashlib.sha256(BODY).hexdigest()}, expected {'0' * 64}" in str(err.value)
    assert not (tmp_path / "a.bin").exists()
    assert not (tmp_path / "a.bin.part").exists()


def test_missing_file_names_the_url(tmp_path: Path) -> None:
    with serve(Site()) as base, pytest.raises(DownloadError) as err:
        download(base + "gone.zip", tmp_path / "gone.zip")
    assert str(err.value).startswith(f"[CC104] {base}gone.zip answered HTTP 404.")
