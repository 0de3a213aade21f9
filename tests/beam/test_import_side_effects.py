"""Importing ``beam_transforms`` changes nothing in Beam; the Arrow coder reaches only the
PCollections our transforms type, or every table after the documented opt-in."""
import json
import subprocess
import sys

import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.runners.pipeline_context import PipelineContext

from beam_transforms import ArrowTable, ArrowTableCoder, EncodeEmbeddings

_SNAPSHOT = """
import json, sys
import apache_beam as beam
import pyarrow as pa
def snapshot():
    reg = beam.coders.registry
    return {"coders": sorted(f"{k!r}={v.__name__}" for k, v in reg._coders.items()),
            "custom_types": [repr(t) for t in reg.custom_types],
            "fallback": repr(reg._fallback_coder),
            "table": repr(reg.get_coder(pa.Table)), "batch": repr(reg.get_coder(pa.RecordBatch))}
before = snapshot()
import beam_transforms  # noqa: F401
%s
print(json.dumps({"before": before, "after": snapshot()}))
"""


def _registry_around(code_after_import: str = "") -> dict:
    """Beam's coder registry before and after ``import beam_transforms``, in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", _SNAPSHOT % code_after_import], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_leaves_the_coder_registry_unchanged():
    got = _registry_around()
    assert got["after"] == got["before"]
    assert "ArrowTableCoder" not in got["after"]["table"]


def test_the_opt_in_registers_the_coder_for_every_table():
    got = _registry_around("beam_transforms.use_arrow_coder()")
    assert "ArrowTableCoder" in got["after"]["table"] and "ArrowTableCoder" in got["after"]["batch"]


def _coder_of(pcoll):
    context = PipelineContext()
    return context.coders[context.coder_id_from_element_type(pcoll.element_type)]


@pytest.mark.parametrize("typed_as", [pa.Table, ArrowTable])
def test_our_tables_use_the_arrow_coder_and_the_users_do_not(sq8, demo_table, typed_as):
    """Our output is typed with our hint (a ``pa.Table`` for type checks); the user's own
    ``pa.Table`` PCollection keeps the coder Beam would give it without us."""
    p = beam.Pipeline()
    users = p | beam.Create([demo_table.slice(0, 5)]).with_output_types(typed_as)
    coded = users | EncodeEmbeddings("embedding", sq8)
    assert isinstance(_coder_of(coded), ArrowTableCoder)
    assert issubclass(coded.element_type, pa.Table)
    if typed_as is pa.Table:
        assert not isinstance(_coder_of(users), ArrowTableCoder)
