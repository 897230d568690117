"""Demographic models: parameters, bounds, sklearn params, and the units end to end."""

import pickle

import demes
import moments
import msprime
import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone

from sfsestimators.models import (
    YRI_CEU,
    Bottlegrowth,
    CustomModel,
    FourPopulationTree,
    Growth,
    IsolationMigration,
    IsolationMigrationPre,
    OutOfAfrica3,
    PiecewiseConstant,
    PiecewiseExponential,
    SplitAsymmetricMigration,
    SplitMigration,
    ThreeEpoch,
    TwoEpoch,
    get_model,
)

ALL_MODELS = [
    PiecewiseConstant(n_epochs=3),
    TwoEpoch(),
    ThreeEpoch(),
    Bottlegrowth(),
    Growth(),
    PiecewiseExponential(n_epochs=3),
    SplitMigration(),
    SplitAsymmetricMigration(),
    IsolationMigration(),
    IsolationMigrationPre(),
    YRI_CEU(),
    OutOfAfrica3(),
    FourPopulationTree(),
]


def _split_asym_mig_moments(params, ns):
    """moments' split with asymmetric migration (m[i, j]: into i from j)."""
    nu1, nu2, T, m12, m21 = params
    fs = moments.Spectrum(moments.LinearSystem_1D.steady_state_1D(ns[0] + ns[1]))
    fs = fs.split(0, ns[0], ns[1])
    fs.integrate([nu1, nu2], T, m=np.array([[0, m12], [m21, 0]]))
    return fs


def _zigzag_moments(params, ns):
    """The 1_ZigZag_11_Sim benchmark's model as its authors wrote it in moments (5
    exponential epochs, then a constant one)."""
    nu = [1.0, *params[:5]]
    t = params[5:]
    fs = moments.Spectrum(moments.LinearSystem_1D.steady_state_1D(ns[0]))
    for i in range(5):
        fs.integrate(lambda s, a=nu[i], b=nu[i + 1], d=t[i]: [a * (b / a) ** (s / d)], t[i])
    fs.integrate([nu[5]], t[5])
    return fs


def _yri_ceu_moments(params, ns):
    """The model as written in moments' own API (Gutenkunst et al. 2009)."""
    nu1F, nu2B, nu2F, m, Tp, T = params
    fs = moments.Spectrum(moments.LinearSystem_1D.steady_state_1D(ns[0] + ns[1]))
    fs.integrate([nu1F], Tp)
    fs = fs.split(0, ns[0], ns[1])
    fs.integrate(lambda t: [nu1F, nu2B * (nu2F / nu2B) ** (t / T)], T,
                 m=np.array([[0, m], [m, 0]]))
    return fs


@pytest.mark.parametrize(
    "model, params, native, ns",
    [
        (TwoEpoch(), (2.0, 0.1), moments.Demographics1D.two_epoch, [20]),
        (ThreeEpoch(), (0.1, 2.0, 0.05, 0.1), moments.Demographics1D.three_epoch, [20]),
        (Bottlegrowth(), (0.1, 2.0, 0.1), moments.Demographics1D.bottlegrowth, [20]),
        (SplitMigration(), (2.0, 0.5, 0.2, 1.0), moments.Demographics2D.split_mig, [8, 8]),
        (IsolationMigration(), (0.3, 2.0, 0.5, 0.2, 1.0, 0.3), moments.Demographics2D.IM,
         [8, 8]),
        (YRI_CEU(), (1.881, 0.071, 1.845, 0.911, 0.355, 0.111), _yri_ceu_moments, [8, 8]),
        (Growth(), (3.0, 0.2), moments.Demographics1D.growth, [20]),
        (PiecewiseExponential(5, final_constant=True),
         (0.1, 1.0, 0.1, 1.0, 0.1, 1.789, 0.447, 0.112, 0.028, 0.007, 0.002),
         _zigzag_moments, [20]),
        (SplitAsymmetricMigration(), (1.5, 0.5, 0.2, 2.0, 0.3), _split_asym_mig_moments,
         [8, 8]),
        (IsolationMigrationPre(), (2.0, 0.3, 0.3, 1.5, 0.5, 0.2, 2.0, 0.3),
         moments.Demographics2D.IM_pre, [8, 8]),
    ],
    ids=["TwoEpoch", "ThreeEpoch", "Bottlegrowth", "SplitMigration", "IM", "YRI_CEU",
         "Growth", "PiecewiseExponential", "SplitAsymmetricMigration", "IM_pre"],
)
def test_parameters_mean_what_moments_means(model, params, native, ns):
    """Each demes-defined family equals the classic moments function of the same name."""
    ours = model.expected_sfs(params, ns, min_compute_size=0)  # same sizes as the native call
    theirs = native(params, ns)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(np.ma.compressed(ours), np.ma.compressed(theirs), rtol=1e-3)


def test_padded_epochs_change_nothing():
    """A k-epoch history padded with neutral epochs has the same spectrum."""
    three = PiecewiseConstant(n_epochs=3)
    params = [0.2, 3.0, 0.05, 0.3]
    padded = PiecewiseConstant(n_epochs=5).pad_params(params, 2)
    np.testing.assert_allclose(
        PiecewiseConstant(n_epochs=5).expected_sfs(padded, [16]),
        PiecewiseConstant(n_epochs=2).expected_sfs(params, [16]), rtol=1e-6,
    )
    draws = PiecewiseConstant(n_epochs=3, padded_prior=True).sample_prior(600, random_state=0)
    n_neutral = (draws[:, :3] == 1.0).sum(axis=1)
    assert set(n_neutral) == {0, 1, 2}  # 3, 2 and 1 active epochs
    # neutral epochs are the oldest ones
    assert np.all(np.diff((draws[:, :3] == 1.0).astype(int), axis=1) <= 0)
    with pytest.raises(ValueError, match="n_epochs_from"):
        three.pad_params(params, 4)


def test_small_multipopulation_samples_are_computed_large_and_projected():
    model = IsolationMigration()
    params = (0.3, 2.0, 0.5, 0.2, 1.0, 0.3)
    small = model.expected_sfs(params, [4, 6])
    np.testing.assert_allclose(
        small.data, model.expected_sfs(params, [20, 20]).project([4, 6]).data, rtol=1e-10
    )
    assert small.pop_ids == ["pop0", "pop1"]


def test_piecewise_constant_one_epoch_equals_two_epoch():
    a = PiecewiseConstant(n_epochs=1).expected_sfs([0.5, 0.3], [12])
    b = TwoEpoch().expected_sfs([0.5, 0.3], [12])
    np.testing.assert_allclose(a, b, rtol=1e-12)
    # constant size: the neutral equilibrium 1/i
    flat = PiecewiseConstant(n_epochs=2).expected_sfs([1.0, 1.0, 0.3, 0.2], [12])
    np.testing.assert_allclose(flat[1:-1], 1 / np.arange(1, 12), rtol=1e-6)


def _msprime_mean_sfs(model, params, ns, N_ref, n_reps, seed):
    """Mean branch-mode SFS over replicates, in units of theta = 4 N_ref mu L = 1."""
    demography = model.to_msprime(params, N_ref=N_ref)
    samples = [msprime.SampleSet(n, population=pop, ploidy=1)
               for pop, n in zip(model.pop_ids, ns)]
    reps = msprime.sim_ancestry(
        samples=samples, demography=demography, ploidy=2, sequence_length=1e5,
        recombination_rate=1e-8, num_replicates=n_reps, random_seed=seed,
    )
    values = []
    for ts in reps:
        sets = [ts.samples(population=demography[pop].id) for pop in model.pop_ids]
        afs = ts.allele_frequency_spectrum(sets, mode="branch", polarised=True,
                                           span_normalise=True)
        values.append(afs / (4 * N_ref))
    values = np.array(values)
    return values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(n_reps)


@pytest.mark.parametrize(
    "model, ns, seed",
    [
        (PiecewiseConstant(n_epochs=3), [10], 1),
        (TwoEpoch(), [10], 2),
        (Bottlegrowth(), [10], 3),
        (IsolationMigration(), [4, 4], 4),
        (YRI_CEU(), [4, 4], 5),
        (OutOfAfrica3(), [2, 2, 2], 6),
        (FourPopulationTree(bounds={"T1": (0.05, 1), "T2": (0.05, 1), "T3": (0.05, 1)}),
         [2, 2, 2, 2], 7),
    ],
    ids=lambda x: type(x).__name__ if hasattr(x, "pop_ids") else str(x),
)
def test_moments_agrees_with_msprime(model, ns, seed):
    """moments' expected SFS = msprime's mean branch SFS of the same to_demes graph."""
    params = model.sample_prior(1, random_state=seed)[0]
    expected = model.expected_sfs(params, ns)
    mean, se = _msprime_mean_sfs(model, params, ns, N_ref=5e3, n_reps=300, seed=seed)
    keep = ~np.ma.getmaskarray(expected)
    exp = np.asarray(expected)[keep]
    diff = np.abs(mean[keep] - exp)
    # Monte Carlo error (4.5 standard errors) plus 2 % for moments' numerical error
    assert np.all(diff <= 4.5 * se[keep] + 0.02 * exp), (params, mean[keep], exp, se[keep])
    # and the total branch length agrees to a few percent
    assert abs(mean[keep].sum() / exp.sum() - 1) < 0.05


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: type(m).__name__)
def test_prior_bounds_and_graph(model):
    theta = model.sample_prior(50, random_state=0)
    assert theta.shape == (50, model.n_params)
    assert np.all(theta >= model.lower_bound) and np.all(theta <= model.upper_bound)
    np.testing.assert_array_equal(theta, model.sample_prior(50, random_state=0))
    graph = model.to_demes(theta[0], N_ref=1e4)
    assert isinstance(graph, demes.Graph)
    assert [d.name for d in graph.demes if d.end_time == 0] == sorted(
        model.pop_ids, key=[d.name for d in graph.demes].index
    )
    np.testing.assert_allclose(model.inverse_transform(model.transform(theta)), theta)
    assert pickle.loads(pickle.dumps(model)).get_params() == model.get_params()


def test_out_of_bounds_and_bad_shapes_are_clear_errors():
    model = PiecewiseConstant(n_epochs=2)
    with pytest.raises(ValueError, match=r"Parameter 'nu2' of PiecewiseConstant is 1000.*\["):
        model.expected_sfs([1.0, 1000.0, 0.1, 0.1], [10])
    with pytest.raises(ValueError, match="'T1'.*finite"):
        model.check_params([1.0, 1.0, np.nan, 0.1])
    with pytest.raises(ValueError, match="expects 4 parameters"):
        model.check_params([1.0, 1.0, 0.1])
    with pytest.raises(ValueError, match="1 population"):
        model.expected_sfs([1.0, 1.0, 0.1, 0.1], [10, 10])
    with pytest.raises(ValueError, match="n_epochs is 0"):
        _ = PiecewiseConstant(n_epochs=0).param_names
    with pytest.raises(ValueError, match="unknown parameter"):
        _ = TwoEpoch(bounds={"nuX": (1, 2)}).bounds_
    assert TwoEpoch(bounds={"nu": (0.5, 2)}).lower_bound[0] == 0.5
    with pytest.raises(ValueError, match="expected one of"):
        get_model("nonsense")


def test_models_are_sklearn_parameters():
    class Holder(BaseEstimator):
        def __init__(self, model=None):
            self.model = model

    holder = Holder(model=PiecewiseConstant(n_epochs=2))
    assert holder.get_params()["model__n_epochs"] == 2
    holder.set_params(model__n_epochs=4)
    assert holder.model.n_params == 8
    copy = clone(holder)
    assert copy.model is not holder.model and copy.model.n_epochs == 4


def _growth_graph(p, N_ref):
    b = demes.Builder(time_units="generations")
    b.add_deme("pop0", epochs=[dict(start_size=N_ref, end_time=2 * N_ref * p["T"]),
                               dict(start_size=N_ref, end_size=N_ref * p["nu"])])
    return b.resolve()


def _growth_moments(params, ns):
    nu, T = params
    fs = moments.Demographics1D.snm(ns)
    fs.integrate(lambda t: [np.exp(np.log(nu) * t / T)], T)
    return fs


def test_custom_models_from_demes_or_moments():
    by_graph = CustomModel(["nu", "T"], [1e-2, 1e-3], [100, 5], graph_function=_growth_graph)
    by_moments = CustomModel(["nu", "T"], [1e-2, 1e-3], [100, 5],
                             moments_function=_growth_moments)
    a = by_graph.expected_sfs([3.0, 0.2], [10])
    b = by_moments.expected_sfs([3.0, 0.2], [10])
    np.testing.assert_allclose(a, b, rtol=1e-3)
    assert clone(by_graph).get_params()["param_names"] == ["nu", "T"]
    # ``scales`` is the constructor argument (None: sklearn's get_params/clone see what was
    # passed); the effective scales come from the parameter table: log where the lower bound
    # is positive, linear where it is 0, unless given explicitly
    assert by_graph.scales is None and clone(by_graph).get_params()["scales"] is None
    assert list(by_graph.log_scaled) == [True, True]
    with_zero = CustomModel(["nu", "T"], [1e-2, 0.0], [100, 5], graph_function=_growth_graph)
    assert list(with_zero.log_scaled) == [True, False]
    np.testing.assert_allclose(with_zero.transform([4.0, 0.5]), [np.log(4.0), 0.5])
    explicit = CustomModel(["nu", "T"], [1e-2, 1e-3], [100, 5], scales=["linear", "log"],
                           graph_function=_growth_graph)
    assert explicit.scales == ["linear", "log"]
    assert clone(explicit).get_params()["scales"] == ["linear", "log"]
    assert list(explicit.log_scaled) == [False, True]
    np.testing.assert_allclose(explicit.inverse_transform(explicit.transform([4.0, 0.5])),
                               [4.0, 0.5])
    np.testing.assert_allclose(explicit.transform([4.0, 0.5]), [4.0, np.log(0.5)])
    with pytest.raises(ValueError, match="scales contains 'exp'"):
        _ = CustomModel(["nu"], [1e-2], [100], scales=["exp"],
                        graph_function=_growth_graph).log_scaled
    with pytest.raises(NotImplementedError, match="graph_function"):
        by_moments.to_demes([3.0, 0.2])
    with pytest.raises(ValueError, match="'T'.*outside"):
        by_moments.expected_sfs([3.0, 10.0], [10])


def test_time_step_factor_trades_accuracy_for_speed():
    """dt_fac reaches moments' integration inside moments.Demes, and only where asked."""
    model, params = YRI_CEU(), (1.881, 0.071, 1.845, 0.911, 0.355, 0.111)
    default = model.expected_sfs(params, [8, 8])
    np.testing.assert_array_equal(model.expected_sfs(params, [8, 8], dt_fac=0.02), default)
    coarse = model.expected_sfs(params, [8, 8], dt_fac=0.2)
    rel = np.abs(np.ma.compressed(coarse) / np.ma.compressed(default) - 1).max()
    assert 1e-6 < rel < 0.02
    np.testing.assert_array_equal(model.expected_sfs(params, [8, 8]), default)  # no leak
    with pytest.raises(ValueError, match="dt_fac is 0.0; expected a time-step factor"):
        model.expected_sfs(params, [8, 8], dt_fac=0)
