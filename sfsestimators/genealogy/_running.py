"""Running the trained pair network on data: in chunks of pairs, at a chosen precision,
at the data's mutation rate (what :meth:`MainspringARGEstimator.predict`, the N_e(t)
decoder's summaries and the copying head's training share)."""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ._features import features_for_pairs

__all__ = ["PairNetworkMixin"]


def _native_bfloat16():
    """Whether this CPU computes in bfloat16 natively (AVX-512 BF16 or AMX; elsewhere
    bfloat16 is emulated: slower, for nothing)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and (
            torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()))
    except (AttributeError, RuntimeError):  # private helpers: absent in some builds
        return False


class PairNetworkMixin:
    """``_network`` (the pairs through the network), ``_precision`` and ``_rate`` (checks
    of :meth:`predict`'s arguments); the estimator supplies ``net_``, ``features``,
    ``missing_mask`` and ``n_haplotypes``."""

    def _network(self, div, pairs, batch_pairs=None, precision="float32"):
        """Mean and sd of ln TMRCA (n_pairs, n_windows) of the pairs, in chunks of
        ``batch_pairs`` (default: a chunk's activations hold about 16 million numbers), and
        the last block's activations summed over them (width,). ``precision="bfloat16"``:
        the convolutions in bfloat16 (torch autocast). Each pair's triplet channels read
        ``n_haplotypes - 2`` others, as in training (:func:`features_for_pairs`
        ``others``)."""
        n_w = div.local.shape[0]
        if batch_pairs is None:
            batch_pairs = max(1, (1 << 24) // (n_w * self.net_.module_.inp.out_channels))
        module = self.net_.module_.eval()
        mean = np.empty((len(pairs), n_w), dtype=np.float32)
        sd = np.empty((len(pairs), n_w), dtype=np.float32)
        pooled = 0.0
        triplet = self.features == "triplet"
        device = torch.device(self.net_.device)
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16,
                                             enabled=precision == "bfloat16"):
            for start in range(0, len(pairs), batch_pairs):
                chunk = pairs[start:start + batch_pairs]
                feats = features_for_pairs(div, chunk, triplet, mask=self.missing_mask,
                                           others=self.n_haplotypes - 2)
                m, log_s, h = module(torch.as_tensor(feats, device=device), hidden=True)
                mean[start:start + len(chunk)] = m.float().cpu().numpy() + div.shift
                sd[start:start + len(chunk)] = np.exp(log_s.float().cpu().numpy())
                pooled = pooled + h.double().cpu().numpy()
        bad = ~(np.isfinite(mean) & np.isfinite(sd))
        # never hand NaN on: it would be a silent wrong answer
        if bad.any() or not np.all(np.isfinite(pooled)):
            raise ValueError(f"the network's output is not finite for {int(bad.sum())} of "
                             f"{bad.size} pair-windows; the input lies outside what it can "
                             "read (check the genotypes and mutation_rate).")
        return mean, sd, pooled

    def _precision(self, precision):
        """``precision`` of :meth:`predict`, "auto" resolved for the device."""
        if precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"precision is {precision!r}; expected 'auto', 'float32' or "
                             "'bfloat16'.")
        if precision == "auto":
            precision = ("bfloat16" if torch.device(self.net_.device).type == "cpu"
                         and _native_bfloat16() else "float32")
        return precision

    @staticmethod
    def _rate(name, value, default):
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
                np.isfinite(value) and value > 0):
            raise ValueError(f"{name} is {value!r}; expected a positive number (per bp per "
                             "generation).")
        return float(value)
