"""`embcompress evaluate`: the table, and a report whose Markdown embeds both plots."""
import matplotlib.image as mpimg
import pytest

from embcompress import _report as report

SPECS = "SQ8;SQ4;PCA16,SQ8;BIN;PQ8x4"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, table64):
    from embcompress.cli import main

    folder = tmp_path_factory.mktemp("report") / "report"
    code = main(["evaluate", str(table64), "--specs", SPECS, "--queries", "200", "--k", "10", "--report", str(folder)])
    return code, folder


def test_evaluate_prints_every_metric_per_spec(cli, table64):
    run = cli("evaluate", table64, "--specs", "SQ8;BIN", "--queries", 100)
    assert run.code == 0, run
    for header in ("bytes/vec", "ratio", "recall@1", "recall@10", "recall@100", "recall@10 rescored", "MSE", "fit s",
                   "encode rows/s", "artifact B"):
        assert header in run.out
    table_lines = [line for line in run.out.splitlines() if line.startswith(("SQ8 ", "BIN "))]
    assert len(table_lines) == 2
    assert "Pareto front" in run.out


def test_report_markdown_embeds_both_plots(evaluated):
    code, folder = evaluated
    assert code == 0
    md = (folder / report.REPORT_MD).read_text()
    assert f"]({report.PARETO_PNG})" in md and f"]({report.SPEED_PNG})" in md
    for spec in SPECS.split(";"):
        assert f"| {spec} |" in md
    assert "Pareto front" in md


@pytest.mark.parametrize("name", [report.PARETO_PNG, report.SPEED_PNG])
def test_report_plots_are_real_images(evaluated, name):
    _, folder = evaluated
    image = mpimg.imread(folder / name)
    height, width = image.shape[:2]
    assert width >= 600 and height >= 400
    assert image.std() > 0  # not a blank canvas


def test_pareto_plot_marks_front_and_labels(tmp_path):
    rows = [{"spec": s, "bytes": b, "recall@10": r, "recall_rescored": min(1.0, r + 0.1), "encode_rows_per_s": 1e5}
            for s, b, r in [("A", 8, 0.5), ("B", 16, 0.4), ("C", 32, 0.8)]]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    saved = {}
    original = plt.Figure.savefig

    def keep(fig, path, *args, **kwargs):
        saved["fig"] = fig
        return original(fig, path, *args, **kwargs)

    plt.Figure.savefig = keep
    try:
        report.plot_pareto(rows, tmp_path / "p.png", k=10)
    finally:
        plt.Figure.savefig = original
    ax = saved["fig"].axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("Pareto front" in label for label in labels)
    front_line = [line for line in ax.get_lines() if line.get_label().startswith("Pareto front")][0]
    assert list(front_line.get_xdata()) == [8, 32]  # B (16 B, worse than A) is dominated
