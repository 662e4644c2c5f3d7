"""Molecules to graphs with OGB's featurisation: RDKit and ``ogb`` behind the ``chem`` extra.

:func:`mol_to_graph` is ``ogb.utils.smiles2graph`` on an already parsed molecule: each atom's 9
categorical features by OGB's own ``atom_to_feature_vector`` (:data:`ATOM_FEATURES`, indices into OGB's
value lists, the last index of a list meaning "misc"), each bond once as ``(begin, end)`` with OGB's 3
bond features by ``bond_to_feature_vector`` (type, stereo, conjugated).  ``smiles2graph`` lists each
bond in both directions, interleaved; :func:`fastgnn.datasets.molhiv` does the same (tested equal).

:func:`mol_from_smiles` parses as ``Chem.MolFromSmiles`` (what ``smiles2graph`` calls), and where
today's RDKit refuses a valence the older RDKit that OGB used accepted (ogbg-molhiv's rows 137, 987,
12882, 18293, 30784, 30785, 35728: Al, B and Ge compounds), parses it without the property check:
``MolFromSmiles(sanitize=False)``, the property cache updated leniently, then every sanitisation step
but ``SANITIZE_PROPERTIES``.  It says which of the two it did; a SMILES neither accepts raises
``ValueError`` naming where it came from and RDKit's reason.

Without RDKit or ``ogb``, :func:`require` raises :class:`MissingChemError` (an ``ImportError``) naming
``pip install "fastgnn[chem]"``.
"""

from __future__ import annotations

import contextlib
import importlib

import numpy as np

__all__ = ["EXTRA_HINT", "ATOM_FEATURES", "ATOM_FEATURE_DIMS", "BOND_FEATURES", "MissingChemError", "require",
           "versions", "quiet", "mol_from_smiles", "mol_to_graph"]

#: what to install for the molecule datasets
EXTRA_HINT = 'pip install "fastgnn[chem]"'
#: OGB's 9 atom features, in its order (``ogb.utils.features.atom_to_feature_vector``)
ATOM_FEATURES = ("atomic_num", "chirality", "degree", "formal_charge", "num_hs", "num_radical_electrons",
                 "hybridization", "is_aromatic", "is_in_ring")
#: the number of values of each (``ogb.utils.features.get_atom_feature_dims()``; tested equal): 174 in all
ATOM_FEATURE_DIMS = (119, 5, 12, 12, 10, 6, 6, 2, 2)
#: OGB's 3 bond features (``bond_to_feature_vector``)
BOND_FEATURES = ("bond_type", "bond_stereo", "is_conjugated")


class MissingChemError(ImportError):
    """RDKit or ``ogb`` is not installed: the message names the ``chem`` extra."""


def require(what: str = "the molecule datasets"):
    """Import RDKit and ``ogb``; :class:`MissingChemError` naming the extra when either is absent."""
    for module in ("rdkit", "ogb"):
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise MissingChemError(f"{what} need RDKit and ogb ({module} is not installed): {EXTRA_HINT}") from e


def versions() -> dict[str, str]:
    """The installed RDKit and ``ogb`` versions (part of the molecule cache's key)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("rdkit", "ogb"):
        try:
            out[package] = version(package)
        except PackageNotFoundError as e:
            raise MissingChemError(f"the molecule datasets need RDKit and ogb ({package} is not installed): "
                                   f"{EXTRA_HINT}") from e
    return out


def mol_from_smiles(smiles: str, *, where: str = "SMILES"):
    """``(mol, relaxed)``: RDKit's molecule of ``smiles``, and whether the property (valence) check had to be
    skipped; ``ValueError`` naming ``where`` when RDKit cannot parse it even so."""
    from rdkit import Chem

    with quiet():  # RDKit prints its refusals on stderr: they come back as the ValueError
        mol = Chem.MolFromSmiles(smiles)
        if mol is not None:
            return mol, False
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is None:
            raise ValueError(f"{where}: RDKit cannot parse {smiles!r} (not valid SMILES)")
        try:
            mol.UpdatePropertyCache(strict=False)
            Chem.SanitizeMol(mol, Chem.SanitizeFlags.SANITIZE_ALL ^ Chem.SanitizeFlags.SANITIZE_PROPERTIES)
        except Exception as e:  # noqa: BLE001 (RDKit raises its own types: kekulisation, aromaticity ...)
            raise ValueError(f"{where}: RDKit cannot sanitise {smiles!r} even without the valence check "
                             f"({type(e).__name__}: {e})") from None
        return mol, True


@contextlib.contextmanager
def quiet():
    """RDKit's log silenced inside (its errors are raised as exceptions and said by the caller)."""
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    try:
        yield
    finally:
        RDLogger.EnableLog("rdApp.*")


def mol_to_graph(mol) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(atoms [N, 9], bonds [B, 2], bond_features [B, 3])`` int64: OGB's ``smiles2graph`` arrays, each
    bond once (``smiles2graph`` writes ``bonds[k]`` then its reverse as columns ``2k`` and ``2k + 1``)."""
    from ogb.utils.features import atom_to_feature_vector, bond_to_feature_vector

    atoms = np.array([atom_to_feature_vector(a) for a in mol.GetAtoms()], dtype=np.int64).reshape(-1, 9)
    bonds = mol.GetBonds()
    ends = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in bonds], dtype=np.int64).reshape(-1, 2)
    features = np.array([bond_to_feature_vector(b) for b in bonds], dtype=np.int64).reshape(-1, 3)
    return atoms, ends, features
