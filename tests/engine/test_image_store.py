"""ImageStore on disk: crashes mid-write, damaged files and hostile ids are never trusted."""

from __future__ import annotations

import numpy as np
import pytest

from sambridge import wire
from sambridge_server.engine import images as images_module
from sambridge_server.engine.errors import NotFound
from sambridge_server.engine.images import ImageStore


def _stored(tmp_path, array=None, axes="yx"):
    array = np.arange(64 * 48, dtype=np.uint16).reshape(64, 48) if array is None else array
    image_id = wire.image_id(array, axes)
    ImageStore(directory=tmp_path).put(image_id, array, axes)
    return image_id, array, next(tmp_path.glob("*.npy"))


def test_image_survives_restart(tmp_path):
    image_id, array, _ = _stored(tmp_path)
    restored = ImageStore(directory=tmp_path).get(image_id)
    assert np.array_equal(restored.array, array) and restored.axes == "yx"


def test_crash_while_writing_leaves_nothing_trusted(tmp_path, monkeypatch):
    array = np.ones((32, 32), np.uint8)
    image_id = wire.image_id(array, "yx")

    def crash(handle, data, allow_pickle=False):
        handle.write(b"\x93NUMPY half a file")
        raise OSError("disk full")

    monkeypatch.setattr(images_module.np, "save", crash)
    with pytest.raises(OSError):
        ImageStore(directory=tmp_path).put(image_id, array, "yx")
    monkeypatch.undo()
    assert not list(tmp_path.glob("*.npy"))  # only a temp file was written
    store = ImageStore(directory=tmp_path)
    assert image_id not in store
    with pytest.raises(NotFound):
        store.get(image_id)
    store.put(image_id, array, "yx")  # a later upload of the same image works
    assert np.array_equal(ImageStore(directory=tmp_path).get(image_id).array, array)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "axes"])
def test_damaged_files_are_discarded(tmp_path, damage):
    image_id, _, path = _stored(tmp_path)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "flipped":  # still a valid .npy, other pixels: caught by the content id
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.with_suffix(".axes").write_text("zyx")
    store = ImageStore(directory=tmp_path)
    with pytest.raises(NotFound):
        store.get(image_id)
    assert not path.exists()


def test_ids_that_are_not_content_ids_never_touch_the_disk(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    np.save(outside / "secret.npy", np.ones((4, 4)))
    (outside / "secret.axes").write_text("yx")
    store = ImageStore(directory=tmp_path / "images")
    for image_id in ("../outside/secret", "sha1:../../outside/secret", "x" * 5000, "sha1:" + "g" * 40):
        with pytest.raises(NotFound):
            store.delete(image_id)
    assert (outside / "secret.npy").exists() and (outside / "secret.axes").exists()


def test_memory_budget_evicts_least_recently_used_without_disk():
    store = ImageStore(budget_bytes=1000)
    arrays = [np.full((20, 20), i, np.uint8) for i in range(4)]  # 400 bytes each
    ids = [wire.image_id(a, "yx") for a in arrays]
    for image_id, array in zip(ids[:2], arrays[:2]):
        store.put(image_id, array, "yx")
    store.get(ids[0])  # recently used: survives
    store.put(ids[2], arrays[2], "yx")
    assert ids[0] in store and ids[2] in store and ids[1] not in store
    big = np.zeros((40, 40), np.uint8)  # over the whole budget: kept alone
    store.put(wire.image_id(big, "yx"), big, "yx")
    assert wire.image_id(big, "yx") in store and ids[0] not in store


def test_references_are_per_owner_and_survive_a_restart(tmp_path):
    array = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32)
    image_id = wire.image_id(array, "yx")
    store = ImageStore(directory=tmp_path)
    store.put(image_id, array, "yx", owner="alice")
    assert store.add_reference(image_id, "bob")
    restarted = ImageStore(directory=tmp_path)  # references are on disk, not only in memory
    assert restarted.references(image_id) == {"alice", "bob"}
    _, removed = restarted.delete(image_id, "bob")
    assert not removed and np.array_equal(restarted.get(image_id).array, array)
    with pytest.raises(NotFound, match="not referenced by this caller"):
        restarted.delete(image_id, "bob")  # bob's reference is gone; alice's data stays
    with pytest.raises(NotFound):
        restarted.delete(image_id, "mallory")
    _, removed = ImageStore(directory=tmp_path).delete(image_id, "alice")
    assert removed and not list(tmp_path.iterdir())  # image, axes and references all gone
    assert not ImageStore(directory=tmp_path).add_reference(image_id, "alice")


def test_references_without_disk_go_with_the_image():
    store = ImageStore(budget_bytes=1000)
    arrays = [np.full((20, 20), i, np.uint8) for i in range(3)]  # 400 bytes each
    ids = [wire.image_id(a, "yx") for a in arrays]
    for image_id, array in zip(ids, arrays):
        store.put(image_id, array, "yx", owner="alice")
    assert ids[0] not in store and store.references(ids[0]) == set()  # evicted with its references
    store.add_reference(ids[2], "bob")
    assert store.delete(ids[2], "alice")[1] is False and store.delete(ids[2], "bob")[1] is True
    assert ids[2] not in store
