"""The verdict rules, on their own."""

from audits.audit import decide
from audits.compare import Difference


def diff(within: bool, what: str = "psnr of model on a/b at sigma 25") -> Difference:
    return Difference("metric", what, 30.0, 30.0001, within)


def test_no_difference_is_identical_even_when_the_environment_differs():
    assert decide([], [], False)[0] == "IDENTICAL"
    verdict, reason = decide([], ["torch: recorded '2.1', now '2.2'"], True)
    assert verdict == "IDENTICAL" and "code differs" in reason and "environment differs" in reason


def test_any_difference_on_the_same_code_and_environment_diverges():
    verdict, reason = decide([diff(True, "first"), diff(False, "second")], [], False)
    assert verdict == "DIVERGED" and "first" in reason


def test_tolerance_applies_only_when_something_differs():
    assert decide([diff(True)], ["cpu_model: recorded 'a', now 'b'"], False)[0] == "EQUIVALENT"
    assert decide([diff(True)], [], True)[0] == "EQUIVALENT"
    verdict, reason = decide([diff(True, "inside"), diff(False, "outside")], [], True)
    assert verdict == "DIVERGED" and "outside" in reason and "inside" not in reason
