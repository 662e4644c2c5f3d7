"""fastgnn.gram: one implementation of the Gram checks and transforms, in memory and by bands of a memmap."""

import warnings

import numpy as np
import pytest

from fastgnn import gram


def _gram(n=37, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    a = rng.random((n, 4)) + shift
    return a @ a.T + np.diag(rng.random(n))


def _reference(k):
    """The transforms written out plainly: symmetrise, divide by the minimum, cosine by the diagonal."""
    k = 0.5 * (k + k.T)
    raw = k / k.min()
    d = np.sqrt(np.diag(raw))
    return raw, raw / np.outer(d, d)


@pytest.mark.parametrize("band_rows", [1, 5, 37])
def test_memmap_by_bands_is_bitwise_the_in_memory_transform(tmp_path, band_rows):
    k = _gram() * (1 + 1e-13 * np.triu(np.ones((37, 37)), 1))  # a rounding off symmetric
    np.save(tmp_path / "k.npy", k)
    disk = np.load(tmp_path / "k.npy", mmap_mode="r")
    mem = gram.transform(k)
    out = gram.transform(disk, band_bytes=8 * 37 * band_rows)
    assert all(isinstance(v, np.memmap) for v in out.values())
    for nm in gram.NORMALIZATIONS:
        assert np.array_equal(mem[nm], out[nm]), nm
    raw, cos = _reference(k)
    np.testing.assert_allclose(mem["raw"], raw, rtol=1e-14)
    np.testing.assert_allclose(mem["cosine"], cos, rtol=1e-14)
    assert np.array_equal(mem["raw"], gram.scale_gram(gram.check_gram(k)))
    assert np.array_equal(mem["cosine"], gram.cosine_normalize(mem["raw"]))


def test_cosine_of_rows_against_columns():
    k = _gram(10)
    rows, cols = np.arange(4), np.arange(4, 10)
    d = np.diag(k)
    part = gram.cosine(k[np.ix_(rows, cols)], d[rows], d[cols])
    np.testing.assert_allclose(part, gram.cosine_normalize(k)[np.ix_(rows, cols)], rtol=1e-15)
    with pytest.raises(ValueError, match="graph 2 of the columns"):
        gram.cosine(k[:3, :3], d[:3], np.array([1.0, 1.0, 0.0]),
                    describe=lambda i, side, v: f"graph {i} of the {side} has self-kernel {v}")


def test_scale_falls_back_to_the_mean_diagonal():
    k = _gram(8, shift=-0.7)
    assert k.min() <= 0
    np.testing.assert_array_equal(gram.scale_gram(k), k / np.mean(np.diag(k)))


@pytest.mark.parametrize("bad, message", [
    (np.ones((3, 4)), "square"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), r"finite, but gram\[0, 1\]"),
    (np.array([[1.0, 2.0], [0.0, 1.0]]), "symmetric"),
    (np.array([["a", "b"], ["c", "d"]]), "real numeric"),
])
def test_bad_grams_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        gram.transform(bad)


def test_cosine_needs_a_positive_diagonal_and_names_the_entry():
    k = _gram(5)
    k[3, 3] = -1.0
    with pytest.raises(ValueError, match=r"gram\[3, 3\]"):
        gram.cosine_normalize(k)


def test_normalizations_are_checked():
    assert gram.check_normalizations("cosine") == ("cosine",)
    with pytest.raises(ValueError, match="normalizations"):
        gram.check_normalizations(("raw", "raw"))
    with pytest.raises(ValueError, match="normalizations"):
        gram.check_normalizations(("l2",))


def test_raw_gram_of_widely_spread_self_kernels_warns_and_names_them():
    """A raw Gram whose self-kernels span more than RAW_SPREAD_WARNING (REDDIT-BINARY's: 3e11) makes the
    SVM's C path crawl: a warning names the two graphs and the way out; the cosine one alone does not warn."""
    k = _gram(6)
    scale = np.ones(6)
    scale[4] = 1e5  # self-kernel ratio 1e10 between graph 4 and the smallest
    spread = k * np.outer(scale, scale)
    lo = int(np.argmin(np.diag(spread)))
    with pytest.warns(UserWarning, match=rf"span .*K\[{lo}, {lo}\].*K\[4, 4\].*normalizations=\('cosine',\)"):
        gram.transform(spread)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gram.transform(spread, ("cosine",))
        gram.transform(k)  # a spread below the threshold: silent
