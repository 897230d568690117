"""Spectra I/O: .fs files, VCFs written by tskit, genotype matrices, tree sequences."""

import moments
import msprime
import numpy as np
import pytest
import tskit

from sfsestimators.io import (
    as_spectrum,
    read_sfs,
    sfs_from_genotypes,
    sfs_from_tree_sequence,
    sfs_from_vcf,
    write_sfs,
)


@pytest.fixture(scope="module")
def two_pop_ts():
    demography = msprime.Demography.isolated_model([1e4, 5e3])
    demography.add_population(name="anc", initial_size=1e4)
    demography.add_population_split(time=2e3, derived=["pop_0", "pop_1"], ancestral="anc")
    ts = msprime.sim_ancestry(
        samples={"pop_0": 6, "pop_1": 4}, demography=demography, sequence_length=2e5,
        recombination_rate=1e-8, random_seed=11,
    )
    return msprime.sim_mutations(ts, rate=2e-8, model=msprime.BinaryMutationModel(),
                                 random_seed=12)


def _write_vcf(ts, path):
    with open(path, "w") as fh:
        # VCF positions start at 1
        ts.write_vcf(fh, position_transform=lambda x: np.asarray(x, dtype=int) + 1)


def _popfile(ts, path):
    with open(path, "w") as fh:
        for ind in ts.individuals():
            pop = ts.population(ts.node(ind.nodes[0]).population).metadata["name"]
            fh.write(f"tsk_{ind.id}\t{pop}\n")


def test_vcf_one_population_matches_tskit(tmp_path, two_pop_ts):
    ts = two_pop_ts
    assert ts.num_sites > 50
    vcf = tmp_path / "sim.vcf"
    _write_vcf(ts, vcf)
    expected = ts.allele_frequency_spectrum(mode="site", polarised=True, span_normalise=False)
    # no INFO/AA in tskit's VCF: folded automatically
    folded = sfs_from_vcf(vcf)
    assert folded.folded
    np.testing.assert_allclose(folded.data, moments.Spectrum(expected).fold().data)
    unfolded = sfs_from_vcf(vcf, ancestral="ref")
    assert not unfolded.folded
    np.testing.assert_allclose(unfolded.data[1:-1], expected[1:-1])
    with pytest.raises(ValueError, match="no INFO/AA field"):
        sfs_from_vcf(vcf, folded=False)


def test_vcf_joint_spectrum_with_popfile_matches_tskit(tmp_path, two_pop_ts):
    ts = two_pop_ts
    vcf, popfile = tmp_path / "sim.vcf", tmp_path / "pops.txt"
    _write_vcf(ts, vcf)
    _popfile(ts, popfile)
    sets = [ts.samples(population=0), ts.samples(population=1)]
    expected = sfs_from_tree_sequence(ts, sets)
    got = sfs_from_vcf(vcf, popfile=popfile, ancestral="ref")
    assert got.shape == (13, 9) and got.pop_ids == ["pop_0", "pop_1"]
    np.testing.assert_allclose(got.data, expected.data)
    np.testing.assert_array_equal(got.mask, expected.mask)
    # reversed population order transposes the spectrum
    swapped = sfs_from_vcf(vcf, popfile=popfile, populations=["pop_1", "pop_0"],
                           ancestral="ref")
    np.testing.assert_allclose(swapped.data, expected.data.T)
    # projection to smaller samples = moments' projection of the full spectrum
    small = sfs_from_vcf(vcf, popfile=popfile, sample_sizes=[8, 4], ancestral="ref")
    np.testing.assert_allclose(small.data, expected.project([8, 4]).data, rtol=1e-10)
    # folded joint spectrum = moments' fold
    np.testing.assert_allclose(sfs_from_vcf(vcf, popfile=popfile).data,
                               expected.fold().data)
    with pytest.raises(ValueError, match="popfile does not"):
        sfs_from_vcf(vcf, popfile=popfile, populations=["nowhere"])


def test_vcf_with_ancestral_allele_and_missing_calls(tmp_path):
    lines = [
        "##fileformat=VCFv4.2",
        '##INFO=<ID=AA,Number=1,Type=String,Description="Ancestral allele">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb\tc",
        "1\t10\t.\tA\tG\t.\tPASS\tAA=A\tGT\t0|1\t0|0\t0|0",   # derived G: 1 of 6
        "1\t20\t.\tA\tG\t.\tPASS\tAA=g\tGT\t0|1\t1|1\t1|1",   # ancestral G: derived A, 1
        "1\t30\t.\tC\tT\t.\tPASS\tAA=C\tGT\t1|1\t.|.\t0|0",   # 2 of 4 called
        "1\t40\t.\tC\tT,G\t.\tPASS\tAA=C\tGT\t0|1\t0|2\t0|0",  # multi-allelic: left out
        "1\t50\t.\tC\tT\t.\tPASS\tAA=N\tGT\t0|1\t0|0\t0|0",   # unknown ancestor: left out
    ]
    path = tmp_path / "small.vcf"
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"Used 3 of 5 VCF sites; left out 2"):
        sfs = sfs_from_vcf(path, sample_sizes=[4])
    assert not sfs.folded
    # sites 1 and 2: derived 1 of 6 -> projected to 4; site 3: 2 of 4 called, exact
    one_of_six = np.array([1 / 3, 2 / 3, 0, 0, 0])  # C(5,4)/C(6,4), C(5,3)/C(6,4)
    expected = 2 * one_of_six + np.array([0, 0, 1, 0, 0])
    np.testing.assert_allclose(sfs.data, expected)
    with pytest.warns(UserWarning, match="fewer called haplotypes"):
        full = sfs_from_vcf(path)  # all 6 haplotypes: the site with missing calls is left out
    assert np.isclose(full.data[1], 2)


def test_genotypes_projection_and_errors():
    rng = np.random.default_rng(1)
    g = (rng.random((200, 12)) < rng.random((200, 1))).astype(int)
    full = sfs_from_genotypes(g)
    np.testing.assert_allclose(sfs_from_genotypes(g, sample_sizes=[7]).data,
                               full.project([7]).data, rtol=1e-10)
    joint = sfs_from_genotypes(g, [range(5), range(5, 12)], pop_ids=["a", "b"])
    assert joint.shape == (6, 8) and joint.pop_ids == ["a", "b"]
    np.testing.assert_allclose(joint.marginalize([1]).data[1:-1],
                               sfs_from_genotypes(g[:, :5]).data[1:-1])
    assert sfs_from_genotypes(g, folded=True).folded
    with pytest.raises(ValueError, match="contains the value 2"):
        sfs_from_genotypes(np.full((3, 4), 2))
    with pytest.raises(ValueError, match="sites x haplotypes"):
        sfs_from_genotypes(np.zeros(5))
    with pytest.raises(ValueError, match="haplotype index 20"):
        sfs_from_genotypes(g, [[0, 20]])
    with pytest.raises(ValueError, match=r"sample_sizes\[0\] is 13"):
        sfs_from_genotypes(g, sample_sizes=[13])


def test_tree_sequence_site_and_branch(two_pop_ts):
    ts = two_pop_ts
    site = sfs_from_tree_sequence(ts)
    assert site.shape == (ts.num_samples + 1,) and site.mask[0] and site.mask[-1]
    assert np.isclose(site.S(), ts.num_sites, rtol=0.05)
    branch = sfs_from_tree_sequence(ts, mode="branch", span_normalise=True)
    # total branch length x mutation rate ~ number of segregating sites
    assert 0.5 < branch.S() * 2e-8 * ts.sequence_length / ts.num_sites < 2.0
    assert sfs_from_tree_sequence(ts, folded=True).folded
    with pytest.raises(ValueError, match="mode is 'node'"):
        sfs_from_tree_sequence(ts, mode="node")
    assert isinstance(ts, tskit.TreeSequence)


@pytest.mark.parametrize("folded", [False, True])
@pytest.mark.parametrize("shape", [(11,), (5, 7)])
def test_fs_round_trip(tmp_path, shape, folded):
    rng = np.random.default_rng(3)
    sfs = moments.Spectrum(rng.poisson(20, shape).astype(float),
                           pop_ids=[f"p{i}" for i in range(len(shape))])
    if folded:
        sfs = sfs.fold()
    path = tmp_path / "x.fs"
    write_sfs(sfs, path)
    back = read_sfs(path)
    np.testing.assert_array_equal(back.data, sfs.data)
    np.testing.assert_array_equal(back.mask, sfs.mask)
    assert back.folded == folded and back.pop_ids == sfs.pop_ids
    write_sfs(np.arange(6.0), tmp_path / "y.fs")  # arrays are wrapped
    assert read_sfs(tmp_path / "y.fs").mask[0]


def test_as_spectrum_rejects_bad_counts(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        as_spectrum([0, 1, np.nan, 2, 0])
    with pytest.raises(ValueError, match="negative counts"):
        as_spectrum([0, 1, -3, 2, 0], name="observed_sfs")
    with pytest.raises(ValueError, match="integer counts"):
        as_spectrum([0, 1.5, 3, 2, 0], allow_float=False)
    with pytest.raises(FileNotFoundError, match="No spectrum file"):
        as_spectrum(tmp_path / "missing.fs")
    masked_nan = moments.Spectrum(np.array([np.nan, 1, 2, 3, 0.0]))  # NaN only in a corner
    assert as_spectrum(masked_nan) is masked_nan
