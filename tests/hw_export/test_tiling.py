import numpy as np
import pytest
from spinsyn.hw_export.tiling import from_tiles, make_layout, parse_tile, to_tiles


@pytest.mark.parametrize("shape,tile", [((300, 200), (128, 128)), ((784, 100), (128, 128)), ((1, 1), (128, 128)),
                                        ((256, 256), (128, 128)), ((5, 7), (2, 3)), ((129, 1), (128, 64)),
                                        ((3, 1000), (4, 4))])
def test_tiles_round_trip_and_padding(shape, tile):
    rng = np.random.default_rng(0)
    m = rng.integers(1, 100, size=shape)
    lay = make_layout(shape, tile)
    t = to_tiles(m, lay, fill=0)
    gr, gc = lay.grid
    assert gr == -(-shape[0] // tile[0]) and gc == -(-shape[1] // tile[1])
    assert t.shape == (gr * gc, *tile)
    np.testing.assert_array_equal(from_tiles(t, lay), m)
    masks = np.stack([lay.mask(i) for i in range(lay.n_tiles)])
    assert masks.sum() == m.size  # every device exactly once; the rest is padding
    assert np.all(t[masks == 0] == 0) and np.all(t[masks == 1] > 0)
    imap = lay.index_map()
    for i in range(lay.n_tiles):
        r0, c0 = lay.origin(i)
        ri, ci = lay.row_index(i), lay.col_index(i)
        assert (ri >= 0).sum() == imap["rows_used"][i] and (ci >= 0).sum() == imap["cols_used"][i]
        used = np.ix_(ri[ri >= 0] - r0, ci[ci >= 0] - c0)
        np.testing.assert_array_equal(t[i][used], m[np.ix_(ri[ri >= 0], ci[ci >= 0])])
        assert imap["layer_row0"][i] == r0 and imap["layer_col0"][i] == c0


def test_tile_numbering_is_row_major():
    lay = make_layout((300, 300), (128, 128))
    assert lay.grid == (3, 3)
    assert lay.origin(1) == (0, 128) and lay.origin(3) == (128, 0) and lay.used(8) == (44, 44)


@pytest.mark.parametrize("bad", ["128", "0x128", "128x", "axb", "128x128x2", "70000x1"])
def test_parse_tile_rejects(bad):
    with pytest.raises(ValueError, match="--tile"):
        parse_tile(bad)


def test_parse_tile():
    assert parse_tile("64X32") == (64, 32)
