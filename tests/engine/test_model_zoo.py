"""Models by name: the registry, verified downloads from a loopback HTTP server, separate decoder files."""

from __future__ import annotations

import json
import os

import pytest
import torch
import xxhash

from sambridge_server.engine.automatic.ais_decoder import AISDecoder
from sambridge_server.engine.errors import InvalidInput, NotFound
from sambridge_server.engine.model_zoo import (
    SHIPPED_REGISTRY,
    DownloadError,
    ModelZoo,
    RemoteFile,
    download,
    load_registry,
    parse_registry,
)
from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint, save_checkpoint
from tests.loopback_http import closed_port_url, serve_files, sha256, write_registry


@pytest.fixture()
def http():
    state, server = serve_files()
    yield state
    server.shutdown()
    server.server_close()


def _remote(http, name: str, data: bytes, digest: str | None = None) -> RemoteFile:
    http.files[name] = data
    return RemoteFile(http.url(name), {"sha256": digest or sha256(data)}, name)


def test_good_file_is_renamed_after_its_sha256_matches(http, tmp_path):
    data = os.urandom(3 * (1 << 20) + 12345)
    seen: list[tuple[int, int]] = []
    target = download(_remote(http, "m.pt", data), tmp_path / "m.pt", lambda d, t: seen.append((d, t)))
    assert target.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
    assert seen[0] == (0, len(data)) and seen[-1] == (len(data), len(data))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 4  # streamed in chunks


def test_corrupted_file_is_refused_with_expected_and_actual_digest(http, tmp_path):
    data = os.urandom(100_000)
    expected = sha256(b"what the registry promised")
    with pytest.raises(DownloadError) as info:
        download(_remote(http, "m.pt", data, digest=expected), tmp_path / "m.pt")
    message = str(info.value)
    assert expected in message and sha256(data) in message and http.url("m.pt") in message
    assert list(tmp_path.iterdir()) == []  # neither the file nor a .part


def test_xxh128_digest_of_micro_sam_entries_is_checked(http, tmp_path):
    data = os.urandom(50_000)
    http.files["x.pt"] = data
    good = RemoteFile(http.url("x.pt"), {"xxh128": xxhash.xxh128(data).hexdigest()}, "x.pt")
    assert download(good, tmp_path / "x.pt").read_bytes() == data
    bad = RemoteFile(http.url("x.pt"), {"xxh128": "0" * 32}, "y.pt")
    with pytest.raises(DownloadError, match=f"expected xxh128 {'0' * 32}, got {xxhash.xxh128(data).hexdigest()}"):
        download(bad, tmp_path / "y.pt")
    assert not (tmp_path / "y.pt").exists() and not (tmp_path / "y.pt.part").exists()


def test_download_cut_mid_way_leaves_nothing_trusted(http, tmp_path):
    data = os.urandom(2_000_000)
    remote = _remote(http, "m.pt", data)
    http.truncate["m.pt"] = 700_000
    with pytest.raises(DownloadError, match="try again"):
        download(remote, tmp_path / "m.pt")
    assert list(tmp_path.iterdir()) == []


def test_exception_in_progress_callback_aborts_and_cleans_up(http, tmp_path):
    remote = _remote(http, "m.pt", os.urandom(3_000_000))

    def cancel(done: int, total: int) -> None:
        if done > 1_000_000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download(remote, tmp_path / "m.pt", cancel)
    assert list(tmp_path.iterdir()) == []


def test_leftover_part_of_a_killed_download_is_never_trusted(http, tmp_path):
    """A process killed mid-download leaves ``<file>.part``: the next start downloads afresh."""
    data = os.urandom(1_500_000)
    http.files["m.pt"] = data
    registry = write_registry(tmp_path / "registry.json", {
        "m": {"model_type": "vit_tiny", "url": http.url("m.pt"), "sha256": sha256(data)}})
    models = tmp_path / "models"
    models.mkdir()
    (models / "m.pt.part").write_bytes(data[:600_000])  # what the killed process left
    zoo = ModelZoo(load_registry(registry), models)
    assert not zoo.is_downloaded("m")
    files = zoo.fetch("m")
    assert files.checkpoint.read_bytes() == data and files.decoder is None
    assert sorted(p.name for p in models.iterdir()) == ["m.pt"]
    assert http.requests == ["m.pt"]
    zoo.fetch("m")  # present: verified from disk, not downloaded again
    assert http.requests == ["m.pt"]


def test_offline_message_names_the_url_and_where_to_put_the_file(tmp_path):
    url = closed_port_url("vit_b_lm.pt")
    with pytest.raises(DownloadError) as info:
        download(RemoteFile(url, {"sha256": "0" * 64}, "vit_b_lm.pt"), tmp_path / "vit_b_lm.pt")
    message = str(info.value)
    assert url in message and "offline" in message
    assert f"save it as {tmp_path / 'vit_b_lm.pt'}" in message
    assert list(tmp_path.iterdir()) == []


def test_file_put_by_hand_is_verified(http, tmp_path):
    data = os.urandom(10_000)
    zoo = ModelZoo(parse_registry({"m": {"model_type": "vit_b", "url": http.url("m.pt"), "sha256": sha256(data)}}),
                   tmp_path)
    (tmp_path / "m.pt").write_bytes(b"not the model")
    with pytest.raises(DownloadError, match=f"expected sha256 {sha256(data)}, got {sha256(b'not the model')}"):
        zoo.fetch("m")
    assert http.requests == []


def test_unknown_name_and_bad_registries(tmp_path):
    zoo = ModelZoo(load_registry(), tmp_path)
    with pytest.raises(NotFound, match="unknown model 'vit_q'; available models: .*vit_b_lm"):
        zoo.fetch("vit_q")
    with pytest.raises(InvalidInput, match="entry 'm' needs sha256 or xxh128"):
        parse_registry({"m": {"model_type": "vit_b", "url": "http://127.0.0.1/m"}})
    with pytest.raises(InvalidInput, match="needs decoder_sha256 or decoder_xxh128"):
        parse_registry({"m": {"model_type": "vit_b", "url": "u", "sha256": "a", "decoder_url": "d"}})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="cannot read model registry"):
        load_registry(tmp_path / "bad.json")


def test_shipped_registry_covers_meta_sam_and_every_micro_sam_model():
    """Every name of micro_sam 1.8.14's ``util.models()`` with its URL, digest and decoder file."""
    util = pytest.importorskip("micro_sam.util")
    theirs = util.models()
    raw = json.loads(SHIPPED_REGISTRY.read_text())
    ours = load_registry()
    names = [name for name in theirs.registry if not name.endswith("_decoder")]
    assert {"vit_b", "vit_l", "vit_h", "vit_b_lm", "vit_l_lm", "vit_t_lm", "vit_b_em_organelles",
            "vit_l_em_organelles", "vit_t_em_organelles"} <= set(names)
    assert sorted(name for name in ours if not name.startswith("sam2.1_")) == sorted(names)
    for name in names:
        entry, item = ours[name], raw[name]
        assert {"url", "sha256", "model_type"} <= set(item)
        assert entry.model_type == name[:5]
        assert entry.checkpoint.url == theirs.urls[name]
        assert f"xxh128:{entry.checkpoint.digests['xxh128']}" == theirs.registry[name]
        decoder = f"{name}_decoder"
        assert (entry.decoder is not None) == (decoder in theirs.registry)
        if entry.decoder is not None:
            assert {"decoder_url", "decoder_sha256"} <= set(item)
            assert entry.decoder.url == theirs.urls[decoder]
            assert f"xxh128:{entry.decoder.digests['xxh128']}" == theirs.registry[decoder]


def test_shipped_registry_has_meta_sam2_1_checkpoints_with_pinned_sha256():
    """The four SAM2.1 checkpoints of Meta's 092824 release, by model type, each with a SHA-256."""
    from sambridge_server.engine.sam2_models.architectures import MODEL_TYPES

    ours = load_registry()
    sizes = {"sam2.1_hiera_t": "tiny", "sam2.1_hiera_s": "small", "sam2.1_hiera_b+": "base_plus",
             "sam2.1_hiera_l": "large"}
    assert sorted(name for name in ours if name.startswith("sam2.1_")) == sorted(sizes)
    for name, size in sizes.items():
        entry = ours[name]
        assert entry.model_type == name and name in MODEL_TYPES and entry.decoder is None
        assert entry.checkpoint.url == f"https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_{size}.pt"
        digest = entry.checkpoint.digests["sha256"]
        assert len(digest) == 64 and int(digest, 16) >= 0
    assert ours["sam2.1_hiera_t"].checkpoint.digests["sha256"].startswith("7402e0d8")  # facebook/sam2.1-hiera-tiny


def test_separate_decoder_file_gives_the_model_its_ais_decoder(tmp_path):
    """micro_sam's layout: the model file without decoder plus ``<model>_decoder`` (a plain state dict)."""
    sam = build_sam(PRESETS["vit_tiny"], seed=3)
    checkpoint = save_checkpoint(sam, tmp_path / "m.pt", fmt="micro_sam", sam_prefix=True)
    torch.manual_seed(3)
    decoder_state = AISDecoder().state_dict()
    torch.save(decoder_state, tmp_path / "m_decoder.pt")
    assert load_checkpoint(checkpoint).decoder_state is None
    model = load_checkpoint(checkpoint, "vit_tiny", "m", decoder_path=tmp_path / "m_decoder.pt")
    assert model.decoder_state is not None and model.decoder_state.keys() == decoder_state.keys()
    assert all(torch.equal(model.decoder_state[k], v) for k, v in decoder_state.items())
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(InvalidInput, match="junk.pt"):
        load_checkpoint(checkpoint, decoder_path=tmp_path / "junk.pt")
    with pytest.raises(NotFound, match="decoder file"):
        load_checkpoint(checkpoint, decoder_path=tmp_path / "missing.pt")
