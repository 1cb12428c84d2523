"""iPanda-50 download: MD5 check, resume from .part, Google Drive's confirmation page, safe extraction
(zip-slip, absolute paths, symlinks), non-UTF-8-flagged names, and the offline message. No network:
the HTTP layer (`download._open`) is replaced by a fake server."""

from __future__ import annotations

import email.message
import hashlib
import io
import stat
import urllib.error
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.cli import cli
from dataset_tools.errors import UserError
from dataset_tools.sources import download as dl


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


class FakeResponse:
    def __init__(self, body: bytes, status: int = 200, headers: dict | None = None, fail_after: int | None = None):
        self._buf = io.BytesIO(body)
        self.status = status
        self.headers = email.message.Message()
        for k, v in (headers or {}).items():
            self.headers[k] = v
        self._fail_after = fail_after
        self._sent = 0

    def read(self, n=-1):
        if self._fail_after is not None and self._sent >= self._fail_after:
            raise ConnectionResetError("connection reset by peer")
        n = n if n and n > 0 else 1 << 30
        if self._fail_after is not None:
            n = min(n, self._fail_after - self._sent)
        data = self._buf.read(n)
        self._sent += len(data)
        return data

    def getcode(self):
        return self.status

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


class FakeServer:
    """Serves files by URL, honours Range, can cut the first transfer short, can show a Drive page."""

    def __init__(self, files: dict[str, bytes], cut_first_at: int | None = None, drive_page: bool = False):
        self.files, self.cut, self.drive_page = files, cut_first_at, drive_page
        self.requests: list[tuple[str, dict]] = []

    def __call__(self, url, headers, timeout=None):
        self.requests.append((url, dict(headers)))
        if self.drive_page and "confirm=" not in url:
            page = ('<html><form id="download-form" action="https://drive.usercontent.google.com/download" method="get">'
                    '<input type="hidden" name="id" value="X"><input type="hidden" name="confirm" value="t">'
                    '<input type="hidden" name="uuid" value="u1"></form></html>')
            return FakeResponse(page.encode(), headers={"Content-Type": "text/html; charset=utf-8"})
        key = next(k for k in self.files if url.endswith(k) or ("id=X" in url and k in self.files))
        body = self.files[key]
        start = 0
        rng = headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].rstrip("-"))
            resp = FakeResponse(body[start:], 206, {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}",
                                                    "Content-Type": "application/zip"})
        else:
            resp = FakeResponse(body, 200, {"Content-Length": str(len(body)), "Content-Type": "application/zip"})
        if self.cut is not None:
            resp._fail_after, self.cut = self.cut, None
        return resp


@pytest.fixture
def small_archives(monkeypatch):
    images = _zip_bytes({"iPanda50-images/00_aibang/00_v001_f000001.jpg": b"jpegdata" * 100})
    split = _zip_bytes({"iPanda50-split/split0_train.txt": b"x\n"})
    labels = _zip_bytes({"iPanda50-eyes-labels/00_aibang/00_v001_f000001.json": b'{"shapes": []}'})
    files = {"iPanda50-images.zip": images, "iPanda50-split.zip": split, "iPanda50-eyes-labels.zip": labels}
    arcs = tuple(dl.Archive(n, hashlib.md5(b).hexdigest(), "ID" + n, "1 KB", n[:-4]) for n, b in files.items())
    monkeypatch.setattr(dl, "ARCHIVES", arcs)
    return files


def test_download_resumes_from_part_and_checks_md5(tmp_path: Path, monkeypatch, small_archives):
    server = FakeServer(small_archives, cut_first_at=300)
    monkeypatch.setattr(dl, "_open", server)
    root = tmp_path / "ipanda"
    with pytest.raises(UserError, match="by hand"):  # the first transfer is cut: clear error, .part kept
        dl.download_ipanda50(root, progress=False, mirror="https://mirror.example/ipanda")
    part = root / "iPanda50-images.zip.part"
    assert part.stat().st_size == 300
    dl.download_ipanda50(root, progress=False, mirror="https://mirror.example/ipanda")
    ranged = [h for _, h in server.requests if "Range" in h]
    assert ranged == [{"Range": "bytes=300-"}]  # resumed, not restarted
    assert (root / "iPanda50-images.zip").read_bytes() == small_archives["iPanda50-images.zip"]
    assert (root / "iPanda50-images" / "00_aibang" / "00_v001_f000001.jpg").read_bytes() == b"jpegdata" * 100
    assert (root / "iPanda50-eyes-labels" / "00_aibang" / "00_v001_f000001.json").exists()
    assert not part.exists()
    n = len(server.requests)
    dl.download_ipanda50(root, progress=False, mirror="https://mirror.example/ipanda")  # all done: no requests
    assert len(server.requests) == n


def test_md5_mismatch_is_removed_and_reported(tmp_path: Path, monkeypatch, small_archives):
    bad = dict(small_archives)
    bad["iPanda50-images.zip"] = b"corrupted" + bad["iPanda50-images.zip"][9:]
    monkeypatch.setattr(dl, "_open", FakeServer(bad))
    with pytest.raises(UserError, match="MD5"):
        dl.download_ipanda50(tmp_path, progress=False, mirror="https://m")
    assert not (tmp_path / "iPanda50-images.zip").exists()


def test_hand_downloaded_archive_is_used_without_network(tmp_path: Path, monkeypatch, small_archives):
    for name, data in small_archives.items():
        (tmp_path / name).write_bytes(data)

    def offline(*a, **k):
        raise AssertionError("no request expected")

    monkeypatch.setattr(dl, "_open", offline)
    dl.download_ipanda50(tmp_path, progress=False)
    assert (tmp_path / "iPanda50-split" / "split0_train.txt").read_bytes() == b"x\n"


def test_google_drive_confirmation_page_is_followed(tmp_path: Path, monkeypatch, small_archives):
    files = {"iPanda50-images.zip": small_archives["iPanda50-images.zip"]}
    server = FakeServer(files, drive_page=True)
    monkeypatch.setattr(dl, "_open", server)
    dl.fetch(["https://drive.google.com/uc?export=download&id=X"], tmp_path / "iPanda50-images.zip", progress=False)
    assert (tmp_path / "iPanda50-images.zip").read_bytes() == files["iPanda50-images.zip"]
    second = server.requests[1][0]
    assert second.startswith("https://drive.usercontent.google.com/download?") and "confirm=t" in second and "uuid=u1" in second


def test_offline_is_one_clear_sentence(tmp_path: Path, monkeypatch):
    def offline(url, headers, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(dl, "_open", offline)
    r = CliRunner().invoke(cli, ["build-dataset", "--source", "ipanda50", "--root", str(tmp_path / "ip"), "--download",
                                 "--out", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "by hand" in r.output and "1nkh-g6a8JvWy-XsMaZqrN2AXoPlaXuFg" in r.output and str(tmp_path / "ip") in r.output
    assert len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["../evil.txt", "ok/../../evil.txt", "/tmp/evil-abs.txt", "C:/evil.txt", "..\\evil.txt"])
def test_zip_slip_is_refused(tmp_path: Path, name):
    target = tmp_path / "t"
    target.mkdir()
    z = tmp_path / "bad.zip"
    z.write_bytes(_zip_bytes({"fine.txt": b"ok", name: b"pwned"}))
    with pytest.raises(UserError, match="refusing"):
        dl.safe_extract(z, target)
    assert not list(target.iterdir())  # checked before anything is written
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_member_is_refused(tmp_path: Path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    (tmp_path / "l.zip").write_bytes(buf.getvalue())
    with pytest.raises(UserError, match="symbolic link"):
        dl.safe_extract(tmp_path / "l.zip", tmp_path / "t")


def test_utf8_names_without_the_zip_flag_are_decoded(tmp_path: Path):
    real = "iPanda50-images/01_白雪/00_v001_f01_雪.jpg"
    raw = real.encode("utf-8")
    placeholder = b"Q" * len(raw)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(placeholder.decode(), b"x")  # ASCII name: no UTF-8 flag; then put raw UTF-8 bytes in place
    data = buf.getvalue().replace(placeholder, raw)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert not zf.infolist()[0].flag_bits & 0x800 and zf.infolist()[0].filename != real  # zipfile says cp437
    (tmp_path / "n.zip").write_bytes(data)
    dl.safe_extract(tmp_path / "n.zip", tmp_path / "t")
    assert (tmp_path / "t" / real).read_bytes() == b"x"
