"""The README's quickstart runs as written."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quickstart_runs(capsys):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python block"
    namespace = {}
    exec(compile(blocks[0], "README.md quickstart", "exec"), namespace)  # noqa: S102
    assert namespace["search"].best_params_["model__n_epochs"] in (1, 2, 3)
    assert "DemographyFitter" in capsys.readouterr().out
    assert namespace["local_trees"].num_samples == 20
    assert namespace["genealogy"].log_tmrca.shape == (100, 20, 20)
