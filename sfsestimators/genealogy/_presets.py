"""Named Mainspring presets, where their weights live, and the chain that builds them.

Each preset is reproduced by one command, ``python -m sfsestimators train-genealogy
--preset NAME``; a preset with a ``base`` is fine-tuned from that preset's weights with
bottleneck adapters on the frozen backbone. Weights resolve from the package (the shipped
``small``) or from the cache directory: ``$SFSESTIMATORS_CACHE``, else
``$XDG_CACHE_HOME/sfsestimators``, else ``~/.cache/sfsestimators``, under ``mainspring/``.

The dependency graph (base -> preset)::

    (scratch) -> small (= broad)        the shipped one: 1-7 epoch histories, 2 kb windows
    (scratch) -> narrow                 constant N_e only
    small     -> broad_w500             500 bp windows, adapters on the small backbone
    small     -> broad_rates            mutation and recombination rates 0.25-4x nominal
    small     -> wmissing               missing calls and inaccessible holes, bitmask channels
    small     -> curriculum             the four-phase curriculum and composite loss, all weights
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["PRESETS_TRAINING", "cache_dir", "preset_path", "available", "from_format_1",
           "load_backbone", "train_new_only", "NEW_MODULES"]

#: what a fine-tuning stage adds to a trained network (and trains when it is frozen)
NEW_MODULES = ("adapters.", "mask_in.", "node_head.")

_RATES = dict(mutation_rate=1.29e-8, recombination_rate=1.28e-8)

#: name -> (estimator parameters, training steps, base preset or None, description)
PRESETS_TRAINING = {
    "small": (dict(preset="small", features="triplet", **_RATES), 5400, None,
              "the shipped preset: 1-7 epoch histories, sizes 1e2-1e5, 2 kb windows"),
    "narrow": (dict(preset="small", features="triplet", prior={"max_epochs": 1}, **_RATES),
               3000, None, "constant N_e only (the first curriculum phase)"),
    "broad_w500": (dict(preset="small", features="triplet", window_size=500.0,
                        train_length=1e5, adapter=8, **_RATES), 1000, "small",
                   "500 bp windows: bottleneck adapters on the frozen small backbone"),
    "broad_rates": (dict(preset="small", features="triplet", rate_range=(0.25, 4.0),
                         adapter=8, **_RATES), 1000, "small",
                    "rates 0.25-4x nominal (mu and r drawn independently): adapters on the "
                    "frozen small backbone"),
    "wmissing": (dict(preset="small", features="triplet", missing_mask=True, adapter=8,
                      **_RATES), 1000, "small",
                 "missing calls (up to 30 %) and inaccessible holes, read through two bitmask "
                 "channels: their input map and adapters on the frozen small backbone"),
    "curriculum": (dict(preset="small", features="triplet", curriculum="default", **_RATES),
                   1500, "small",
                   "the four phases of CURRICULUM (constant; 1-2 changes; full prior; sweeps, "
                   "migration, rates) with the composite loss (times, copying topology, node "
                   "times, implied SFS), every weight fine-tuned from small"),
}
_ALIASES = {"broad": "small"}


def cache_dir():
    """Where user-built presets live (created on demand)."""
    root = os.environ.get("SFSESTIMATORS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "sfsestimators")
    return os.path.join(root, "mainspring")


def preset_path(name):
    """The weights file of a preset: shipped with the package, or in the cache directory
    (which may not exist yet)."""
    from ..pretrained import MAINSPRING_WEIGHTS

    name = _ALIASES.get(name, name)
    if name == "small":
        return MAINSPRING_WEIGHTS
    return os.path.join(cache_dir(), f"{name}.pt")


def available():
    """Every named preset -> its weights file, or None where it is not built yet."""
    out = {}
    for name in list(PRESETS_TRAINING) + list(_ALIASES):
        path = preset_path(name)
        out[name] = path if os.path.exists(path) else None
    return out


def resolve(name):
    """The file of an existing preset; a clear error (with the command) otherwise."""
    key = _ALIASES.get(name, name)
    if key not in PRESETS_TRAINING:
        raise ValueError(f"preset is {name!r}; expected one of "
                         f"{sorted(set(PRESETS_TRAINING) | set(_ALIASES))}.")
    path = preset_path(name)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"The Mainspring preset {name!r} is not built ({path} is absent); build it with: "
            f"python -m sfsestimators train-genealogy --preset {key}")
    return path


def from_format_1(ckpt):
    """A file of the hand-written trainer (before skorch): its per-step losses become a
    history of epochs of 50 steps; the weights load unchanged (same module)."""
    if "loss_history" not in ckpt:
        return None
    params = dict(ckpt["params"])
    params.setdefault("features", "pair")  # files written before the option existed
    losses = [float(v) for v in ckpt["loss_history"]]
    history = []
    for e, start in enumerate(range(0, len(losses), 50)):
        batch = losses[start:start + 50]
        history.append({"epoch": e + 1, "batches": [{"train_loss": v} for v in batch],
                        "train_loss": float(np.mean(batch)), "train_batch_count": len(batch)})
    return {"params": params, "state_dict": ckpt["state_dict"], "history": history,
            "n_steps": int(ckpt["n_steps"]), "seed": 0, "optimizer": None}


def train_new_only(module):
    """Freeze every weight of ``module`` but those of :data:`NEW_MODULES`."""
    for name, param in module.named_parameters():
        param.requires_grad_(name.startswith(NEW_MODULES))


def load_backbone(module, init_from, cls, freeze, expected):
    """Load the weights of ``init_from`` (a file, or a preset name) into ``module``: a new
    module the file lacks keeps its initial weights, one ``module`` lacks is left out;
    ``freeze``: then train the new modules only. ``expected`` describes the network in the
    error raised when the file holds another one."""
    from .._persist import load_file

    path = init_from if os.path.exists(os.fspath(init_from)) else resolve(init_from)
    state = load_file(path, cls, legacy=from_format_1)["state_dict"]
    own = module.state_dict()
    state = {k: v for k, v in state.items() if k in own or not k.startswith(NEW_MODULES)}
    missing, unexpected = module.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith(NEW_MODULES) for k in missing):
        raise ValueError(f"init_from={init_from!r} holds weights of another network (missing "
                         f"{missing[:3]}, unexpected {unexpected[:3]}); expected {expected}.")
    if freeze:
        train_new_only(module)
