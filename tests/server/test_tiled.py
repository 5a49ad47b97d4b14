"""Tiled embeddings of a large image answer prompts in full-image coordinates."""

from __future__ import annotations

import numpy as np


def test_3000px_box_across_tile_border(client, hela_movie):
    # 3000x3000 mosaic of real frames; tiles of 1024 with halo 256 -> 9 tiles.
    frames = hela_movie[:9, :700, :1000].astype(np.uint16)
    mosaic = np.zeros((3000, 3000), np.uint16)
    for i, frame in enumerate(frames):
        y, x = divmod(i, 3)
        mosaic[y * 1000:y * 1000 + 700, x * 1000:x * 1000 + 1000] = frame
    result = client.embed(mosaic, tile_shape=(1024, 1024), halo=(256, 256), model="tiny")
    assert result.n_tiles == 9
    box = (980, 400, 1080, 500)  # spans the border between tile columns 0 and 1 (x = 1024)
    mask = client.segment(mosaic, box=box, tile_shape=(1024, 1024), halo=(256, 256), model="tiny")
    assert mask.shape == mosaic.shape
    # The box centre (x=1030) lies in tile column 1, whose outer block (with halo) is
    # y 0..1280, x 768..2304: decoding that block as its own image must give the same mask,
    # pasted at the block's offset in full-image coordinates, and nothing outside it.
    block = (slice(0, 1280), slice(768, 2304))
    alone = client.segment(np.ascontiguousarray(mosaic[block]), box=(980 - 768, 400, 1080 - 768, 500), model="tiny")
    assert alone.any()
    assert np.array_equal(mask[block], alone)
    outside = mask.copy()
    outside[block] = False
    assert not outside.any()
