"""`bench build-dataset --source ipanda50 --download`: fetch iPanda-50's three published archives.

The archives, sizes, MD5 sums and Google Drive file IDs are those of the iPanda-50 README (commit
000a8f6, 2021-02-13; see ../shared/notes/ipanda50-and-occlusion.md). For each archive:

1. an archive already in ROOT whose MD5 matches is used as is (so a hand download just works);
2. otherwise it is downloaded into `ROOT/<name>.part`, resuming an interrupted download with an HTTP
   Range request (a server that ignores the range restarts it from zero), and renamed to `<name>` only
   when complete and its MD5 matches (a mismatching file is removed and reported);
3. it is extracted safely into ROOT: every member must land inside ROOT (absolute paths, drive
   letters, `..` components and symlink members are refused), each file is written atomically, and a
   marker `.<name>.extracted` (holding the MD5) records a finished extraction so reruns skip it. Member
   names without the ZIP UTF-8 flag are decoded as UTF-8 (or GBK, which an older release used) when
   they are not plain ASCII, instead of zipfile's cp437 default.

Google Drive serves files larger than ~100 MB through a "can't scan this file for viruses" page;
the confirmation form on that page (action URL and hidden fields, or the older `confirm=` token) is
followed automatically. Offline, or when Drive refuses (quota), the download fails with one sentence
that says where to get the archives by hand and where to put them.

`BENCH_IPANDA50_MIRROR` (or the `mirror` argument) replaces Google Drive with `<mirror>/<name>`, e.g. a
local copy served over http(s) or a `file://` folder.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import stat
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from dataset_tools import fileio
from dataset_tools.errors import UserError


@dataclass(frozen=True)
class Archive:
    name: str
    md5: str
    drive_id: str
    size_text: str
    folder: str  # top-level folder the archive holds

    @property
    def drive_view(self) -> str:
        return f"https://drive.google.com/file/d/{self.drive_id}/view"

    @property
    def drive_download(self) -> str:
        return f"https://drive.google.com/uc?export=download&id={self.drive_id}"


ARCHIVES: tuple[Archive, ...] = (
    Archive("iPanda50-images.zip", "46727b709139ad3306491f9c11eaefba", "1nkh-g6a8JvWy-XsMaZqrN2AXoPlaXuFg", "883 MB", "iPanda50-images"),
    Archive("iPanda50-split.zip", "b133b5ef63de4b02a7193c377efc4635", "1gVREtFWkNec4xwqOyKkpuIQIyWU_Y_Ob", "137 KB", "iPanda50-split"),
    Archive("iPanda50-eyes-labels.zip", "5bf41bf5cf2f401664ced7ccf55df870", "1jdACN98uOxedZDT-6X3rpbooLAAUEbNY", "2.5 MB", "iPanda50-eyes-labels"),
)
CHUNK = 1 << 20
TIMEOUT = 60
USER_AGENT = "ipanda-occlusion-bench (python urllib)"


class DownloadError(Exception):
    """A network or server failure (turned into a UserError with the manual instructions)."""


def manual_instructions(root: Path) -> str:
    links = "; ".join(f"{a.name} ({a.size_text}, MD5 {a.md5}) from {a.drive_view}" for a in ARCHIVES)
    return (f"download the three iPanda-50 archives by hand ({links}; Dropbox/OneDrive mirrors are listed at "
            f"https://github.com/iPandaDateset/iPanda-50) into {root} and rerun with --download, which checks and "
            "extracts them")


def _open(url: str, headers: dict[str, str], timeout: float = TIMEOUT):
    """One HTTP(S)/file request; tests replace this function."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
    return urllib.request.urlopen(req, timeout=timeout)


def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _confirm_url(page: str, url: str) -> str | None:
    """The real download URL behind Google Drive's virus-scan warning page, or None."""
    form = re.search(r'<form[^>]*id="download-form"[^>]*action="([^"]+)"', page) or re.search(r'<form[^>]*action="([^"]+)"', page)
    if form:
        action = html.unescape(form.group(1))
        fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
        if fields:
            return action + ("&" if "?" in action else "?") + urllib.parse.urlencode(fields)
    token = re.search(r"confirm=([0-9A-Za-z_-]+)", page)
    if token:
        return url + "&confirm=" + token.group(1)
    return None


def fetch(urls: list[str], dest: Path, progress: bool = True) -> None:
    """Download the first working URL into `dest`, resuming from `dest.part`."""
    part = dest.with_name(dest.name + ".part")
    last: Exception | None = None
    for url in urls:
        try:
            _fetch_one(url, part, dest.name, progress)
            os.replace(part, dest)
            return
        except DownloadError as e:
            last = e
    raise DownloadError(str(last) if last else "no URL to download from")


def _fetch_one(url: str, part: Path, label: str, progress: bool) -> None:
    for _hop in range(3):  # the Drive warning page adds one hop
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            resp = _open(url, headers)
        except urllib.error.HTTPError as e:
            if e.code == 416 and have:  # range past the end: the part file is already complete
                return
            raise DownloadError(f"HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise DownloadError(str(getattr(e, "reason", e))) from None
        with resp:
            status = getattr(resp, "status", None) or resp.getcode() or 200
            ctype = (resp.headers.get("Content-Type") or "").lower()
            if "text/html" in ctype:
                page = resp.read(2_000_000).decode("utf-8", "replace")
                nxt = _confirm_url(page, url)
                if nxt is None or nxt == url:
                    raise DownloadError("the server sent a web page instead of the file (Google Drive quota or sign-in)")
                url = nxt
                continue
            resume = status == 206 and have > 0
            total = None
            rng = resp.headers.get("Content-Range")
            if rng and "/" in rng and rng.rsplit("/", 1)[1].isdigit():
                total = int(rng.rsplit("/", 1)[1])
            elif resp.headers.get("Content-Length", "").isdigit():
                total = int(resp.headers["Content-Length"]) + (have if resume else 0)
            mode = "ab" if resume else "wb"
            part.parent.mkdir(parents=True, exist_ok=True)
            with open(part, mode) as f, tqdm(total=total, initial=have if resume else 0, unit="B", unit_scale=True,
                                             desc=label, disable=not progress, file=sys.stderr) as bar:
                try:
                    while block := resp.read(CHUNK):
                        f.write(block)
                        bar.update(len(block))
                except (OSError, urllib.error.URLError) as e:
                    raise DownloadError(f"connection lost ({e}); rerun to resume") from None
            return
    raise DownloadError("too many redirections through confirmation pages")


def _member_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not (info.flag_bits & 0x800) and not name.isascii():
        raw = name.encode("cp437", "replace")
        for enc in ("utf-8", "gbk"):
            try:
                return raw.decode(enc)
            except UnicodeDecodeError:
                continue
    return name


def safe_members(zf: zipfile.ZipFile, target: Path) -> list[tuple[zipfile.ZipInfo, Path]]:
    """(member, destination) for every member, after checking that none can write outside `target`."""
    base = target.resolve()
    out = []
    for info in zf.infolist():
        name = _member_name(info).replace("\\", "/")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UserError(f"refusing to extract {name!r}: archive member is a symbolic link")
        pure = PurePosixPath(name)
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in pure.parts:
            raise UserError(f"refusing to extract {name!r}: archive member would land outside {target}")
        dest = (base / pure).resolve()
        if dest != base and base not in dest.parents:
            raise UserError(f"refusing to extract {name!r}: archive member would land outside {target}")
        out.append((info, dest))
    return out


def safe_extract(archive: Path, target: Path) -> int:
    """Extract `archive` into `target` (see the module docstring); returns the number of files."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as e:
        raise UserError(f"{archive} is not a valid ZIP archive ({e})") from None
    with zf:
        members = safe_members(zf, target)  # check everything before writing anything
        n = 0
        for info, dest in members:
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            with zf.open(info) as src:
                fileio.atomic_write_bytes(dest, src.read(), durable=False)
            n += 1
    return n


def download_ipanda50(root: Path, progress: bool = True, mirror: str | None = None) -> None:
    """Make `root` hold an extracted iPanda-50 (see the module docstring)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    mirror = mirror or os.environ.get("BENCH_IPANDA50_MIRROR")
    for arc in ARCHIVES:
        marker = root / f".{arc.name}.extracted"
        if marker.is_file() and marker.read_text().strip() == arc.md5:
            continue
        zpath = root / arc.name
        if not (zpath.is_file() and md5_file(zpath) == arc.md5):
            urls = [mirror.rstrip("/") + "/" + urllib.parse.quote(arc.name)] if mirror else [arc.drive_download]
            try:
                fetch(urls, zpath, progress)
            except DownloadError as e:
                raise UserError(f"could not download {arc.name} ({e}); {manual_instructions(root)}") from None
            got = md5_file(zpath)
            if got != arc.md5:
                zpath.unlink()
                raise UserError(f"{arc.name} has MD5 {got}, expected {arc.md5} (the download was corrupted or the "
                                f"file changed; it was removed, rerun --download or {manual_instructions(root)})")
        if progress:
            print(f"extracting {arc.name} into {root}", file=sys.stderr)
        safe_extract(zpath, root)
        fileio.atomic_write_text(marker, arc.md5 + "\n")
