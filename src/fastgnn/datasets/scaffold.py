"""The scaffold split of Hu et al. (the one OGB's molecule datasets use), recomputed from SMILES.

Molecules are grouped by their Bemis-Murcko scaffold (RDKit's ``MurckoScaffoldSmiles`` with
``includeChirality=True``: the ring systems and the linkers between them, as canonical SMILES).  The
groups are sorted by size, largest first (ties: the larger first row index first), and dealt out in that
order: a group goes to train while train stays within ``frac_train`` of the molecules, else to valid
while train and valid stay within ``frac_train + frac_valid``, else to test.  So the test set holds the
rarest scaffolds: molecules unlike those trained on (Hu et al. 2020, "Strategies for Pre-training Graph
Neural Networks", and Hu et al. 2020, "Open Graph Benchmark", Section 5).

:func:`scaffolds` needs RDKit (the ``chem`` extra); :func:`scaffold_split` works on the scaffold strings
alone, so a split is recomputed from cached scaffolds without RDKit.  :func:`compare_splits` counts the
rows two splits place differently (a different RDKit version can move a few molecules).

A molecule that today's RDKit refuses to sanitise (a valence it no longer accepts, such as 6-valent Al)
gets the scaffold of its relaxed parse (:func:`fastgnn.datasets.chem.mol_from_smiles`): RDKit's
``MurckoDecompose`` with the property cache updated leniently, as the older RDKit that OGB used computed
it.  Cost: one RDKit parse and decomposition per molecule, about 0.8 ms (33 s for ogbg-molhiv's 41,127
on the loaded 2-core dev machine); :func:`scaffold_split` is O(n log n).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from fastgnn.datasets.chem import mol_from_smiles, quiet, require

__all__ = ["SPLIT_NAMES", "scaffold", "scaffolds", "scaffold_split", "compare_splits"]

#: the parts of a split, in order
SPLIT_NAMES = ("train", "valid", "test")


def scaffold(mol) -> str:
    """The Bemis-Murcko scaffold of an RDKit molecule as canonical SMILES (chirality kept).

    RDKit's ``MurckoScaffoldSmiles(mol=mol, includeChirality=True)``; for a molecule whose scaffold fails
    RDKit's strict valence check, the same decomposition with the property cache updated leniently."""
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    try:
        with quiet():
            return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=True)
    except (ValueError, RuntimeError):  # AtomValenceException is a ValueError subclass in RDKit's bindings
        core = Chem.MurckoDecompose(mol)
        core.ClearComputedProps()
        core.UpdatePropertyCache(strict=False)
        Chem.GetSymmSSSR(core)
        return Chem.MolToSmiles(core, isomericSmiles=True)


def scaffolds(smiles: Iterable[str], *, progress: bool = False) -> list[str]:
    """Each SMILES's scaffold (:func:`scaffold` of its parse by
    :func:`fastgnn.datasets.chem.mol_from_smiles`); a SMILES RDKit cannot parse at all raises
    ``ValueError`` naming its position.  Needs the ``chem`` extra."""
    require("scaffolds")
    smiles = list(smiles)
    it = smiles
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(smiles, desc="scaffolds", unit="mol", leave=False)
    out = []
    for i, s in enumerate(it):
        mol, _ = mol_from_smiles(s, where=f"SMILES {i}")
        out.append(scaffold(mol))
    return out


def scaffold_split(scaffold_of: Sequence[str], frac_train: float = 0.8,
                   frac_valid: float = 0.1) -> dict[str, np.ndarray]:
    """Hu et al.'s deterministic scaffold split of n molecules given each one's scaffold string.

    Returns ``{"train", "valid", "test"}`` -> int64 row indices, each part sorted ascending.
    """
    if not (0 < frac_train < 1 and 0 <= frac_valid < 1 and frac_train + frac_valid <= 1):
        raise ValueError(f"frac_train={frac_train} and frac_valid={frac_valid} must be fractions summing to at most 1")
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(scaffold_of):
        groups.setdefault(s, []).append(i)
    ordered = sorted(groups.values(), key=lambda rows: (len(rows), rows[0]), reverse=True)
    n = len(scaffold_of)
    train_cut, valid_cut = frac_train * n, (frac_train + frac_valid) * n
    parts: dict[str, list[int]] = {name: [] for name in SPLIT_NAMES}
    for rows in ordered:
        if len(parts["train"]) + len(rows) <= train_cut:
            parts["train"] += rows
        elif len(parts["train"]) + len(parts["valid"]) + len(rows) <= valid_cut:
            parts["valid"] += rows
        else:
            parts["test"] += rows
    return {name: np.sort(np.asarray(rows, dtype=np.int64)) for name, rows in parts.items()}


def compare_splits(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> dict:
    """How two splits of the same rows differ: ``{"rows": n, "differ": k, "fraction": k / n, "moved":
    {(part_a, part_b): count}}``, a row counted once when its part in ``a`` is not its part in ``b``."""
    where = {}
    for name in SPLIT_NAMES:
        for i in np.asarray(a.get(name, []), dtype=np.int64).tolist():
            where[i] = [name, None]
    for name in SPLIT_NAMES:
        for i in np.asarray(b.get(name, []), dtype=np.int64).tolist():
            where.setdefault(i, [None, None])[1] = name
    moved: dict[tuple, int] = {}
    for pa, pb in where.values():
        if pa != pb:
            moved[(pa, pb)] = moved.get((pa, pb), 0) + 1
    differ = sum(moved.values())
    return {"rows": len(where), "differ": differ, "fraction": differ / max(len(where), 1), "moved": moved}
