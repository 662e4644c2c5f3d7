"""fastgnn.datasets.benchmarks: the one table of the benchmarks, and every list derived from it
(datasets.DATASETS, KNOWN_NAMES and the aliases, reproduce's ALL_DATASETS and PAPER) holding
the values they held when each was written out by hand."""

from __future__ import annotations

import importlib

import pytest

from fastgnn import datasets
from fastgnn.datasets import (
    ALL_BENCHMARKS,
    BENCHMARK_NAMES,
    BENCHMARKS,
    DATASETS,
    KNOWN_NAMES,
    MORE_BENCHMARK_NAMES,
    canonical_name,
)
from fastgnn.reproduce import ALL_DATASETS, PAPER
from fastgnn.reproduce.accuracy import PAPER as ACCURACY_PAPER
from fastgnn.reproduce.settings import ALL_DATASETS as SETTINGS_ALL_DATASETS


def test_the_lists_are_the_table_in_the_papers_order():
    order = ("MUTAG", "PTC", "NCI1", "PROTEINS", "COLLAB", "IMDBBINARY", "IMDBMULTI")  # GNTK paper, Table 1
    more = ("REDDIT-BINARY", "DD", "ENZYMES")  # beyond the GNTK paper: known names, not in its reproduction
    assert BENCHMARK_NAMES == ALL_DATASETS == SETTINGS_ALL_DATASETS == order
    assert MORE_BENCHMARK_NAMES == more
    assert KNOWN_NAMES == [*order, *more, "ogbg-molhiv", "synthetic"]
    assert list(DATASETS) == [*order, *more]


def test_tu_names_features_and_paper_accuracies():
    assert DATASETS == {
        "MUTAG": ("MUTAG", "tags"),
        "PTC": ("PTC_MR", "tags"),
        "NCI1": ("NCI1", "tags"),
        "PROTEINS": ("PROTEINS", "tags"),
        "COLLAB": ("COLLAB", "degree"),
        "IMDBBINARY": ("IMDB-BINARY", "degree"),
        "IMDBMULTI": ("IMDB-MULTI", "degree"),
        # GIN paper (Xu et al. 2019, Section 7): REDDIT's node features all the same; DD, ENZYMES node labels
        "REDDIT-BINARY": ("REDDIT-BINARY", "constant"),
        "DD": ("DD", "tags"),
        "ENZYMES": ("ENZYMES", "tags"),
    }
    assert PAPER is ACCURACY_PAPER
    assert PAPER == {
        "MUTAG": (90.0, 8.5),
        "PTC": (67.9, 6.9),
        "NCI1": (84.2, 1.5),
        "PROTEINS": (75.6, 4.2),
        "COLLAB": (83.6, 1.0),
        "IMDBBINARY": (76.9, 3.6),
        "IMDBMULTI": (52.8, 4.6),
    }


@pytest.mark.parametrize("row", ALL_BENCHMARKS, ids=lambda b: b.name)
def test_every_spelling_of_a_row_is_its_name(row):
    for spelling in (row.name, row.name.lower(), row.tu_name, *row.aliases, *(a.lower() for a in row.aliases)):
        assert canonical_name(spelling) == row.name
    assert row.features in ("tags", "degree", "constant")
    assert (row.gntk_accuracy is None) == (row not in BENCHMARKS)


def test_unknown_name_message_lists_the_aliases_in_the_tables_order():
    with pytest.raises(ValueError, match=r"\(aliases: PTC_MR, IMDB-BINARY, IMDB_BINARY, IMDB-MULTI, IMDB_MULTI, "
                                         r"REDDITBINARY, REDDIT_BINARY\)"):
        canonical_name("NOPE")


def test_search_dirs_lives_beside_the_cache_and_the_package_reexports_it():
    download_module = importlib.import_module("fastgnn.datasets.download")  # the package's .download is a function
    assert datasets.search_dirs is download_module.search_dirs
