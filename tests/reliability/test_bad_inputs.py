"""The bad-input catalogue: every case of ``cases.CASES`` through every entry point.

Row cases share one table (good rows plus one bad row per case), so each entry point
encodes them in a single job; the other cases run one input each. Every run checks that
rows in = rows out + rows in the dead letter, and that a failed CLI command wrote nothing.
"""
import re

import numpy as np
import pyarrow as pa
import pytest

from embcompress.arrow import encode_arrow

from . import inputs
from .cases import CASES, ENTRY_POINTS, NULL, OK, Outcome, dead
from .runners import RUNNERS, Context, Result

ROW_CASES = [c for c in CASES if c.kind == "row"]
OTHER_CASES = [c for c in CASES if c.kind != "row"]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, spark):
    return Context(spark, tmp_path_factory.mktemp("catalogue"))


@pytest.fixture(scope="module")
def codec16():
    return inputs.fit_codec(16)


@pytest.fixture(scope="module")
def row_results(ctx, codec):
    """Per entry point, the Result of encoding the shared table of all row cases (computed on first use)."""
    table = inputs.rows_table(ROW_CASES)
    cache = {}

    def get(entry):
        if entry not in cache:
            cache[entry] = RUNNERS[entry]["encode"](ctx, table, codec, "embedding")
        return cache[entry]
    return table, get


def reference_codes(codec, t: pa.Table) -> list:
    """The core's codes for a table of good rows, from float32 vectors."""
    if t.num_rows == 0:
        return []
    x = np.asarray(t["embedding"].to_pylist(), dtype=np.float32).reshape(t.num_rows, -1)
    return [bytes(c) for c in codec.encode(x)]


def summarize(result: Result, t: pa.Table, codec) -> Outcome:
    """One outcome for a whole-table result: all ok, all null, or all dead for one reason."""
    if result.dead and not result.out:
        reasons = set(result.dead.values())
        return dead(reasons.pop()) if len(reasons) == 1 else Outcome("mixed", str(reasons))
    codes = [result.out[i] for i in sorted(result.out)]
    if codes and all(c is None for c in codes):
        return NULL
    if result.dead or any(c is None for c in codes):
        return Outcome("mixed", f"{len(result.dead)} dead, {sum(c is None for c in codes)} null")
    return OK if codes == reference_codes(codec, t) else Outcome("mismatch", "codes differ from the core's")


def assert_outcome(got: Outcome, want: Outcome):
    if want.kind == "error":
        assert got.kind == "error" and re.search(want.text, got.text, re.DOTALL), f"want {want}, got {got.text[:2000]}"
    else:
        assert got == want, f"want {want}, got {got}"


def observe(fn, *args):
    """Run an entry point; an exception becomes an ``error`` outcome carrying its message."""
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - the message is what the table checks
        return None, Outcome("error", f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("case", ROW_CASES, ids=lambda c: c.name)
def test_row_case(row_results, case, entry):
    table, get = row_results
    result = get(entry)
    result.check_conservation()
    row_id = table["id"][table["case"].to_pylist().index(case.name)].as_py()
    if row_id in result.dead:
        got = dead(result.dead[row_id])
    else:
        got = NULL if result.out[row_id] is None else OK
    assert_outcome(got, case.expect[entry])


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_good_rows_beside_bad_ones_keep_the_core_codes(row_results, codec, entry):
    table, get = row_results
    good = table.filter(pa.compute.equal(table["case"], ""))
    result = get(entry)
    assert [result.out[i] for i in good["id"].to_pylist()] == reference_codes(codec, good)


def _run_other(ctx, case, entry, codec, codec16, tmp_path):
    run = RUNNERS[entry]
    if case.kind == "column":
        t = inputs.column_table(case.value)
        use = codec16 if case.value == "dim16" else codec
        column = "vec" if case.value == "missing" else "embedding"
        result, err = observe(run["encode"], ctx, t, use, column)
        if err:
            return err
        result.check_conservation()
        return summarize(result, t, use)
    if case.kind == "fit":
        _, err = observe(run["fit"], ctx, inputs.column_table("").slice(0, case.value), "PQ2x4")
    elif case.kind == "decode":
        _, err = observe(run["decode"], ctx, inputs.code_table(codec, case.value), codec)
    elif case.kind == "parquet":
        path = inputs.bad_parquet(tmp_path / "bad.parquet", case.value, inputs.column_table(""))
        _, err = observe(run["parquet"], ctx, path, codec)
    else:
        marker = tmp_path / inputs.MARKER
        blob = inputs.bad_artifact(codec.to_bytes(), case.value, marker)
        path = tmp_path / "bad.ecz"
        path.write_bytes(blob)
        _, err = observe(run["artifact"], ctx, str(path), blob)
        assert not marker.exists(), "loading the artifact executed code"
    return err or OK


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("case", OTHER_CASES, ids=lambda c: c.name)
def test_case(ctx, codec, codec16, tmp_path, case, entry):
    assert_outcome(_run_other(ctx, case, entry, codec, codec16, tmp_path), case.expect[entry])


@pytest.mark.parametrize("case", [c for c in ROW_CASES if c.value is not None], ids=lambda c: c.name)
def test_core_raise_mode_names_row_and_reason(codec, case):
    t = inputs.rows_table([case])
    where = f"column 'embedding', row {t.num_rows - 1}: "
    with pytest.raises(ValueError, match=re.escape(where + case.expect["core"].text)):
        encode_arrow(codec, t["embedding"], column="embedding", on_invalid="raise")


def test_catalogue_size():
    assert len(CASES) >= 25 and all(set(c.expect) == set(ENTRY_POINTS) for c in CASES)
