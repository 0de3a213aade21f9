"""Every command answers --help with an example, and argument mistakes are usage errors (exit 2)."""
import pytest

COMMANDS = ["fit", "encode", "decode", "evaluate", "recommend", "inspect"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_an_example(cli, command):
    run = cli(command, "--help")
    assert run.code == 0
    assert "example:" in run.out
    assert f"embcompress {command}" in run.out


def test_top_level_help_lists_every_command(cli):
    run = cli("--help")
    assert run.code == 0
    for command in COMMANDS:
        assert command in run.out


@pytest.mark.parametrize("argv", [
    [],
    ["fit", "x.parquet", "-o", "c.ecz"],  # --spec missing
    ["recommend", "x.parquet"],  # no target
    ["recommend", "x.parquet", "--budget-bytes", "32", "--min-recall", "0.9"],  # two targets
    ["recommend", "x.parquet", "--min-recall", "1.5"],
    ["encode", "x.parquet", "--codec", "c.ecz", "-o", "o.parquet", "--on-invalid", "drop"],
    ["evaluate", "x.parquet", "--k", "0"],
])
def test_usage_errors_exit_2(cli, argv):
    run = cli(*argv)
    assert run.code == 2
    assert "Traceback" not in run.err
