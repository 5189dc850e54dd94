"""Real Civitai clients against a live test server: pycivitai, civitdl, curl and wget.

The API imitates Civitai's so that existing tools work by changing the host. These tests
prove it with the tools themselves, unmodified except for the host each one hard-codes
(patched to the live server) and the folders they keep their cache and config in. The
files they fetch really exist under MEDIA_ROOT and the database holds their true hashes, so
every assertion is on bytes, hashes, names and status codes the tools actually saw.
"""

from __future__ import annotations

import hashlib
import json
import threading
from urllib.parse import urlparse

import pytest
import requests
from django.test import Client

from community.api_keys import api_key_revoke
from community.models import ApiKey
from models_hub.choices import Status
from models_hub.formats.hashing import HASH_LABELS
from tests.conftest import needs_curl, needs_wget
from tests.factories import UserFactory

# Committed rows, so the live server thread sees them; serialized_rollback puts back the rows
# the migrations made (licences, base models) that the flush after each test removes.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Neither Python client sets a timeout: a server that stops answering must fail the test,
# not hang the run.
CLIENT_TIMEOUT = 30


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _TimeoutSession(requests.Session):
    """What pycivitai is given through its own configure_http_backend(): a session with a
    default timeout that ignores proxy settings, optionally sending an API key as Civitai's
    own tools do."""

    def __init__(self, key: str | None = None) -> None:
        super().__init__()
        self.trust_env = False
        if key:
            self.headers["Authorization"] = f"Bearer {key}"

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", CLIENT_TIMEOUT)
        return super().request(*args, **kwargs)


@pytest.fixture
def velvetsmith(db):
    return UserFactory(username="velvetsmith")


@pytest.fixture
def pycivitai_at(hub, monkeypatch, tmp_path):
    """pycivitai pointed at the live server, with its own download folder.

    Requests are built from resource.ENDPOINT (a copy of http.ENDPOINT made at import), so
    that is the constant to patch. Its storage folder and manager are cached per process:
    cleared before and after so no other test's downloads are reused. Yields use(key=None),
    which makes every request of pycivitai carry that key.
    """
    import pycivitai.client.resource
    import pycivitai.dispatch
    import pycivitai.manager.dispatch
    from pycivitai.client import configure_http_backend

    # In offline mode (set from the environment at import) it would never call the server,
    # and every lookup would fail as "not found" for the wrong reason.
    assert not pycivitai.manager.dispatch.OFFLINE_MODE, "unset CIVITAI_OFFLINE for these tests"
    monkeypatch.setattr(pycivitai.client.resource, "ENDPOINT", hub)
    monkeypatch.setenv("CIVITAI_HOME", str(tmp_path / "civitai-home"))

    def clear_caches() -> None:
        pycivitai.dispatch._get_storage_dir.cache_clear()
        pycivitai.dispatch._get_global_manager.cache_clear()

    def use(key: str | None = None) -> None:
        configure_http_backend(lambda: _TimeoutSession(key))

    clear_caches()
    use()
    yield use
    configure_http_backend(requests.Session)
    clear_caches()


@pytest.fixture
def civitdl_at(hub, monkeypatch, tmp_path):
    """civitdl pointed at the live server: run(source, key=None) -> the folder it filled.

    Its metadata URLs are hard-coded (https://civitai.com) in two name-mangled methods, the
    only code replaced; the download and image URLs come from the server's own answers.
    It runs in a thread with a deadline, since it sets no timeout of its own.
    """
    import civitdl.batch._metadata as civitdl_metadata
    from civitdl.batch._model import Model as Civitdl
    from helpers.options import BatchOptions
    from helpers.sourcemanager import SourceManager

    fetcher = civitdl_metadata._MetadataFetcher
    monkeypatch.setattr(
        fetcher,
        "_MetadataFetcher__get_model_metadata",
        lambda self, mid: self._MetadataFetcher__get_metadata(f"{hub}/api/v1/models/{mid}"),
    )
    monkeypatch.setattr(
        fetcher,
        "_MetadataFetcher__get_version_metadata",
        lambda self, vid: self._MetadataFetcher__get_metadata(f"{hub}/api/v1/model-versions/{vid}"),
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    # Its requests.Session reads proxy settings from the environment: only 127.0.0.1 here.
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("no_proxy", "*")
    root = tmp_path / "civitdl"

    def run(source: str, *, key: str | None = None):
        options = BatchOptions(
            sorter="basic",
            max_images=3,
            nsfw_mode="2",
            api_key=key,
            with_prompt=True,
            without_model=False,
            limit_rate=None,
            retry_count=0,
            pause_time=0.0,
            cache_mode="0",
            strict_mode="1",
            model_overwrite=False,
            with_color=False,
            verbose=False,
        )
        [parsed] = SourceManager().parse_src([source])
        outcome: dict[str, BaseException] = {}

        def download() -> None:
            try:
                Civitdl(str(root), options).download(parsed)
            except BaseException as exc:  # handed to the test's thread below
                outcome["error"] = exc

        worker = threading.Thread(target=download, daemon=True)
        worker.start()
        worker.join(CLIENT_TIMEOUT)
        if worker.is_alive():
            pytest.fail(f"civitdl did not finish {source} within {CLIENT_TIMEOUT} s")
        if "error" in outcome:
            raise outcome["error"]
        return root

    run.root = root
    return run


# --- pycivitai ------------------------------------------------------------------------------


def test_pycivitai_can_fetch_a_model_by_its_id(pycivitai_at, publish, velvetsmith):
    from pycivitai.client import ModelNotFound, find_model_by_id

    shown = publish(owner=velvetsmith, name="Velvet Dreams", tags=("pastel", "dreamy"))
    draft = publish(owner=velvetsmith, name="Velvet Draft", status=Status.DRAFT, seed=2)

    data = find_model_by_id(shown.model.pk)
    assert data["id"] == shown.model.pk and data["name"] == "Velvet Dreams"
    assert data["creator"]["username"] == "velvetsmith"
    assert sorted(data["tags"]) == ["dreamy", "pastel"]
    [version] = data["modelVersions"]
    assert version["id"] == shown.version.pk and version["name"] == "v1.0"
    [file] = version["files"]
    assert file["primary"] is True and file["name"] == "weights.safetensors"
    assert file["hashes"]["SHA256"] == sha256(shown.data).upper()
    assert file["sizeKB"] * 1024 == len(shown.data)
    # Anonymous callers do not see drafts: the same 404 as an id that never existed.
    with pytest.raises(ModelNotFound):
        find_model_by_id(draft.model.pk)
    with pytest.raises(ModelNotFound):
        find_model_by_id(draft.model.pk + 1000)


def test_pycivitai_can_search_by_name_and_pick_one_creator_s_model(
    pycivitai_at, publish, velvetsmith
):
    from pycivitai import civitai_search_online
    from pycivitai.client import ModelFoundDuplicated, ModelNotFound, find_model

    copycat = UserFactory(username="copycat")
    original = publish(owner=velvetsmith, name="Velvet Dreams", seed=1)
    copy = publish(owner=copycat, name="Velvet Dreams", seed=2)
    larger = publish(owner=velvetsmith, name="Velvet Dreams XL", seed=3)
    hidden = publish(owner=UserFactory(username="drafter"), name="Velvet Dreams",
                     status=Status.DRAFT, seed=4)  # fmt: skip
    publish(owner=velvetsmith, name="Pastel Storm", seed=5)  # published, but another name

    found = civitai_search_online("Velvet Dreams")
    assert {(m.model_id, m.creator) for m in found} == {
        (original.model.pk, "velvetsmith"),
        (copy.model.pk, "copycat"),
        (larger.model.pk, "velvetsmith"),
    }
    by_creator = civitai_search_online("Velvet Dreams", creator="copycat")
    assert [m.model_id for m in by_creator] == [copy.model.pk]

    # find_model matches the whole name strictly: two creators share it, so it must ask.
    with pytest.raises(ModelFoundDuplicated):
        find_model("Velvet Dreams")
    assert find_model("Velvet Dreams", creator="velvetsmith")["id"] == original.model.pk
    assert find_model("velvet dreams", creator="copycat")["id"] == copy.model.pk
    assert find_model("Velvet Dreams XL")["id"] == larger.model.pk
    with pytest.raises(ModelNotFound):
        find_model("Velvet Dreams", creator="drafter")
    assert hidden.model.pk not in {m.model_id for m in found}


def test_pycivitai_can_find_a_version_by_any_of_its_file_hashes(
    pycivitai_at, hub, publish, velvetsmith
):
    from pycivitai import civitai_find_online
    from pycivitai.client import find_version_id_by_hash

    published = publish(owner=velvetsmith, name="Velvet Dreams", file_name="velvet_v1.safetensors")
    publish(owner=velvetsmith, name="Other Model", seed=2)  # a neighbour that must not match
    stored = published.file.hashes
    # All six of Civitai's hashes exist for a safetensors file over 1 MiB.
    assert set(stored) == set(HASH_LABELS)
    assert stored["SHA256"] == sha256(published.data).upper()
    expected = (published.model.pk, published.version.pk, "velvet_v1.safetensors")
    for label, value in stored.items():
        assert find_version_id_by_hash(value) == expected, label
    assert find_version_id_by_hash("0" * 64) is None

    resource = civitai_find_online(sha256(published.data))
    assert resource.model_id == published.model.pk
    assert resource.version_id == published.version.pk
    assert resource.filename == "velvet_v1.safetensors" and resource.is_primary
    assert resource.size == len(published.data)
    assert resource.sha256 == sha256(published.data).upper()
    assert resource.url == f"{hub}/api/download/models/{published.version.pk}"


def test_pycivitai_can_download_a_file_whose_size_and_hash_it_checks(
    pycivitai_at, publish, velvetsmith, api_key
):
    from pycivitai import civitai_download

    copycat = UserFactory(username="copycat")
    original = publish(owner=velvetsmith, name="Velvet Dreams", seed=1,
                       file_name="velvet_v1.safetensors")  # fmt: skip
    copy = publish(owner=copycat, name="Velvet Dreams", seed=2, file_name="copy.safetensors")
    assert original.data != copy.data

    # With a key that may download, sent on every request as Civitai's own tools send it.
    pycivitai_at(api_key(velvetsmith))
    path = civitai_download(original.model.pk)
    # pycivitai compared the bytes it got with sizeKB * 1024 before keeping the file.
    with open(path, "rb") as saved:
        content = saved.read()
    assert content == original.data
    assert sha256(content) == original.file.sha256
    assert path.endswith("/velvet_v1.safetensors")
    assert original.reload_counts() == (1, 1, 1)

    # Asked again, it finds the file it kept (same size, same SHA256): no second download.
    assert civitai_download(original.model.pk) == path
    assert original.reload_counts() == (1, 1, 1)

    # By name, version name and creator, anonymously: the creator decides which file.
    pycivitai_at(None)
    other = civitai_download("Velvet Dreams", version="v1.0", creator="copycat")
    with open(other, "rb") as saved:
        assert saved.read() == copy.data
    assert other.endswith("/copy.safetensors")


# --- civitdl -------------------------------------------------------------------------------


def _files_under(root) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_civitdl_can_download_a_model_by_id_with_its_images_and_metadata_using_a_key(
    civitdl_at, publish, velvetsmith, api_key
):
    published = publish(owner=velvetsmith, name="Velvet Dreams", file_name="velvet_v1.safetensors")
    mid, vid = published.model.pk, published.version.pk

    root = civitdl_at(str(mid), key=api_key(velvetsmith))

    files = _files_under(root)
    folder = "Velvet Dreams"
    assert files[f"{folder}/velvet_v1-mid_{mid}-vid_{vid}.safetensors"] == published.data
    # The csv holds the primary file's hashes (civitdl finds that file by its downloadUrl).
    csv = files[f"{folder}/velvet_v1-mid_{mid}-vid_{vid}.csv"].decode()
    rows = dict(line.split(", ") for line in csv.splitlines()[1:])
    assert rows["SHA256"] == sha256(published.data).upper()
    assert rows["AutoV2"] == sha256(published.data)[:10].upper()
    metadata = f"{folder}/extra_data-vid_{vid}/model_dict-mid_{mid}-vid_{vid}.json"
    model_dict = json.loads(files[metadata])
    assert model_dict["id"] == mid and model_dict["modelVersions"][0]["id"] == vid
    # The image was fetched from its `url` and saved under that URL's base name, byte for byte.
    image_name = published.image.image.name.rsplit("/", 1)[-1]
    image_path = f"{folder}/extra_data-vid_{vid}/{image_name}"
    assert files[image_path] == published.image_data
    assert files[image_path].startswith(b"\x89PNG\r\n\x1a\n")
    # And its generation parameters, which civitdl saves beside it (with_prompt).
    prompt = json.loads(files[image_path.replace(".png", ".json")])
    assert prompt["id"] == published.image.pk
    # The live test server answers /media/ with Django's own test handler; the site's media
    # view (which checks visibility) must serve the same bytes at the address civitdl used.
    served = Client().get(urlparse(prompt["url"]).path)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == published.image_data
    assert published.reload_counts() == (1, 1, 1)


def test_civitdl_can_download_a_version_by_its_download_url_without_a_key(
    civitdl_at, publish, velvetsmith
):
    published = publish(owner=velvetsmith, name="Velvet: Dreams?", file_name="v1.safetensors")
    publish(owner=velvetsmith, name="Another", seed=2)
    mid, vid = published.model.pk, published.version.pk

    # Without a key civitdl sends "Authorization: Bearer None": the server must take that
    # as no key at all, and public versions need none.
    root = civitdl_at(f"https://civitai.com/api/download/models/{vid}")

    files = _files_under(root)
    # civitdl's own rule for folder names: ':' becomes ',', '?' becomes '.'.
    folder = "Velvet, Dreams."
    assert files[f"{folder}/v1-mid_{mid}-vid_{vid}.safetensors"] == published.data
    assert f"SHA256, {sha256(published.data).upper()}" in (
        files[f"{folder}/v1-mid_{mid}-vid_{vid}.csv"].decode()
    )
    assert not any("Another" in name for name in files)


@pytest.mark.parametrize("which", ["revoked", "unknown"])
def test_civitdl_with_a_revoked_or_unknown_key_fails_and_saves_no_model(
    civitdl_at, publish, velvetsmith, api_key, which
):
    from helpers.core.utils import InputException

    published = publish(owner=velvetsmith, name="Velvet Dreams")
    key = api_key(velvetsmith)
    if which == "revoked":
        assert api_key_revoke(user=velvetsmith, key_id=ApiKey.objects.get().pk)
    else:
        key = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")

    # civitdl fetches the public metadata without a key; the download then answers 401,
    # which civitdl reports as a key problem before writing anything.
    with pytest.raises(InputException, match="valid API Key"):
        civitdl_at(str(published.model.pk), key=key)
    assert not [p for p in civitdl_at.root.rglob("*") if p.suffix == ".safetensors"]
    assert published.reload_counts() == (0, 0, 0)


# --- curl and wget ---------------------------------------------------------------------------


@pytest.fixture
def cwd(tmp_path):
    """An empty working folder, as a person's download folder: the tools name files in it."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


def _listing(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@needs_curl
def test_curl_saves_the_file_under_the_server_s_name_with_a_token(
    hub, publish, velvetsmith, api_key, tool, cwd
):
    published = publish(owner=velvetsmith, name="Velvet Dreams", file_name="velvet_v1.safetensors")
    url = f"{hub}/api/download/models/{published.version.pk}?token={api_key(velvetsmith)}"

    result = tool("curl", "-sS", "-f", "-L", "-J", "-O", url, cwd=cwd)

    assert result.returncode == 0, result.stderr
    assert _listing(cwd) == ["velvet_v1.safetensors"]
    assert (cwd / "velvet_v1.safetensors").read_bytes() == published.data


@needs_curl
def test_curl_can_resume_a_partial_download(hub, publish, velvetsmith, api_key, tool, cwd):
    published = publish(owner=velvetsmith, name="Velvet Dreams", file_name="velvet_v1.safetensors")
    url = f"{hub}/api/download/models/{published.version.pk}?token={api_key(velvetsmith)}"
    target = cwd / "velvet_v1.safetensors"
    target.write_bytes(published.data[:500_001])  # as an interrupted transfer leaves it

    result = tool("curl", "-sS", "-f", "-L", "-C", "-", "-o", target.name,
                  "-w", "%{http_code}", url, cwd=cwd)  # fmt: skip

    assert result.returncode == 0, result.stderr
    # 206: the server sent only the rest; a 200 would have made curl give up (exit 33).
    assert result.stdout == "206"
    assert target.read_bytes() == published.data


@needs_curl
def test_curl_saves_a_non_ascii_file_name_under_its_ascii_fallback(
    hub, publish, velvetsmith, tool, cwd
):
    published = publish(
        owner=velvetsmith, name="Velvet Dreams", file_name="ベルベット v1.safetensors"
    )
    url = f"{hub}/api/download/models/{published.version.pk}"

    result = tool("curl", "-sS", "-f", "-L", "-J", "-O", url, cwd=cwd)

    assert result.returncode == 0, result.stderr
    # curl -J reads only `filename=` (not RFC 6266's `filename*=`): it saves the server's
    # ASCII fallback, the non-ASCII part of the name left out.
    assert _listing(cwd) == ["v1.safetensors"]
    assert (cwd / "v1.safetensors").read_bytes() == published.data


@needs_wget
def test_wget_saves_a_non_ascii_file_name_under_its_real_name(hub, publish, velvetsmith, tool, cwd):
    published = publish(
        owner=velvetsmith, name="Velvet Dreams", file_name="ベルベット v1.safetensors"
    )
    url = f"{hub}/api/download/models/{published.version.pk}"

    result = tool("wget", "-q", "--content-disposition", url, cwd=cwd)

    assert result.returncode == 0, result.stderr
    # wget decodes RFC 6266's `filename*=UTF-8''...`, which comes first, and keeps the name.
    assert _listing(cwd) == ["ベルベット v1.safetensors"]
    assert (cwd / "ベルベット v1.safetensors").read_bytes() == published.data


@needs_wget
def test_wget_saves_the_file_under_the_server_s_name(hub, publish, velvetsmith, api_key, tool, cwd):
    published = publish(owner=velvetsmith, name="Velvet Dreams", file_name="velvet_v1.safetensors")
    url = f"{hub}/api/download/models/{published.version.pk}?token={api_key(velvetsmith)}"

    result = tool("wget", "-q", "--content-disposition", url, cwd=cwd)

    assert result.returncode == 0, result.stderr
    assert _listing(cwd) == ["velvet_v1.safetensors"]
    assert (cwd / "velvet_v1.safetensors").read_bytes() == published.data


@needs_wget
def test_wget_can_resume_a_partial_download(hub, publish, velvetsmith, api_key, tool, cwd):
    published = publish(owner=velvetsmith, name="Velvet Dreams", file_name="velvet_v1.safetensors")
    url = f"{hub}/api/download/models/{published.version.pk}?token={api_key(velvetsmith)}"
    target = cwd / "velvet_v1.safetensors"
    target.write_bytes(published.data[:700_003])

    # -S prints the server's answers: wget first asks HEAD for the name, then the rest.
    result = tool("wget", "-nv", "-S", "-c", "--content-disposition", url, cwd=cwd)

    assert result.returncode == 0, result.stderr
    assert "206 Partial Content" in result.stderr
    assert f"Content-Range: bytes 700003-{len(published.data) - 1}/{len(published.data)}" in (
        result.stderr
    )
    assert _listing(cwd) == ["velvet_v1.safetensors"]
    assert target.read_bytes() == published.data


@needs_wget
def test_wget_with_a_bad_key_fails_and_leaves_no_file(
    hub, publish, velvetsmith, api_key, tool, cwd
):
    published = publish(owner=velvetsmith, name="Velvet Dreams", file_name="velvet_v1.safetensors")
    key = api_key(velvetsmith)
    api_key_revoke(user=velvetsmith, key_id=ApiKey.objects.get().pk)
    url = f"{hub}/api/download/models/{published.version.pk}?token={key}"

    result = tool("wget", "-nv", "-S", "--content-disposition", url, cwd=cwd)

    assert result.returncode != 0
    # A JSON error, as Civitai answers, never a login page saved as the model.
    assert "401 Unauthorized" in result.stderr
    assert "Content-Type: application/json" in result.stderr
    assert _listing(cwd) == []
    assert published.reload_counts() == (0, 0, 0)


# --- The download counter --------------------------------------------------------------------


@needs_curl
@needs_wget
def test_a_download_resumed_or_probed_is_counted_once(hub, publish, velvetsmith, tool, cwd):
    published = publish(owner=velvetsmith, name="Velvet Dreams", file_name="velvet_v1.safetensors")
    size = len(published.data)
    assert size > 1024 * 1024  # past the first MiB, which a response must carry to count
    url = f"{hub}/api/download/models/{published.version.pk}"

    def curl(*args: str) -> str:
        result = tool("curl", "-sS", "-f", "-w", "%{http_code}", *args, url, cwd=cwd)
        assert result.returncode == 0, result.stderr
        return result.stdout

    # A whole download from byte 0 counts on the file, its version and its model.
    assert curl("-o", "whole.safetensors") == "200"
    assert (cwd / "whole.safetensors").read_bytes() == published.data
    assert published.reload_counts() == (1, 1, 1)

    # A probe of the first bytes (as download managers send) is not a download.
    assert curl("-r", "0-99", "-o", "probe.bin") == "206"
    assert (cwd / "probe.bin").read_bytes() == published.data[:100]
    # The rest of an interrupted transfer is the same download continuing.
    (cwd / "resumed.safetensors").write_bytes(published.data[: size // 3])
    assert curl("-C", "-", "-o", "resumed.safetensors") == "206"
    assert (cwd / "resumed.safetensors").read_bytes() == published.data
    # wget -c asks HEAD first (for the name), then the rest: neither is a new download.
    (cwd / "velvet_v1.safetensors").write_bytes(published.data[: size // 2])
    result = tool("wget", "-nv", "-S", "-c", "--content-disposition", url, cwd=cwd)
    assert result.returncode == 0 and "206 Partial Content" in result.stderr, result.stderr
    assert (cwd / "velvet_v1.safetensors").read_bytes() == published.data
    assert published.reload_counts() == (1, 1, 1)

    # A second whole download is a second download: the counter did not simply stop.
    assert curl("-o", "again.safetensors") == "200"
    assert published.reload_counts() == (2, 2, 2)
