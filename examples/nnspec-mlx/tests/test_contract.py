"""The adapter keeps nnspec's contract (`nnspec check-adapter nnspec_mlx.adapter:MlxBackend` as a test)."""

from nnspec.kit.contract import check

from nnspec_mlx import MlxBackend


def test_the_adapter_keeps_the_contract():
    problems = check(MlxBackend())
    assert not problems, "\n".join(problems)
