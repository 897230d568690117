"""Bad and unusual inputs: how each class of input is answered, one table, one run.

Run: python benchmarks/robustness.py

The cases are the table of tests/bad_inputs.py (the test suite asserts each one). Every case
is run and its actual outcome classified: a clear error (the expected exception, its message
naming the parameter or file, the value and what was expected), a warning with its counts,
handled (a valid but unusual input, answered correctly), an obscure error (some other
exception), or silent (an answer returned without a word where an error or a warning was
due). Target: silent 0, obscure 0.
"""

import os
import re
import sys
import warnings
from collections import Counter, defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from bad_inputs import CASES  # noqa: E402


def outcome(case):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            case.call()
        except Exception as exc:  # classified, not hidden
            if (case.kind == "error" and isinstance(exc, case.exc)
                    and re.search(re.escape(case.match), str(exc))):
                return "clear error"
            return "obscure error"
    if case.kind == "warn" and any(
            issubclass(w.category, case.exc) and re.search(re.escape(case.match),
                                                           str(w.message)) for w in caught):
        return "warned"
    if case.kind == "handled":
        return "handled"
    return "silent"


def main():
    columns = ["clear error", "warned", "handled", "obscure error", "silent"]
    table = defaultdict(Counter)
    bad = []
    for case in CASES:
        result = outcome(case)
        table[case.group][result] += 1
        if result in ("obscure error", "silent"):
            bad.append(f"  {case.group}: {case.name} -> {result}")
    header = f"{'input class':<12} {'cases':>6} " + " ".join(f"{c:>13}" for c in columns)
    print(header)
    print("-" * len(header))
    total = Counter()
    for group, counts in table.items():
        total.update(counts)
        print(f"{group:<12} {sum(counts.values()):>6} "
              + " ".join(f"{counts[c]:>13}" for c in columns))
    print("-" * len(header))
    print(f"{'all':<12} {sum(total.values()):>6} "
          + " ".join(f"{total[c]:>13}" for c in columns))
    print("target: silent 0, obscure error 0")
    if bad:
        print("\n".join(["not as expected:"] + bad))


if __name__ == "__main__":
    main()
