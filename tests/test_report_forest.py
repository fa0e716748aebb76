"""The project's one forest plot, extended for the report: panels and row labels taken
from columns (every row plotted whatever its estimate type), deterministic output."""

import pandas as pd
import pytest

from outcomes.survival.plots import forest


def test_forest_panels_by_column(tmp_path):
    tab = pd.DataFrame({
        "analysis": ["a", "b", "c"], "outcome": ["x", "y", "z"],
        "contrast": ["t vs c"] * 3,
        "estimate_type": ["hazard_ratio", "adjusted_mean_difference", "mean_difference"],
        "estimate": [0.8, 1.5, -2.0], "ci_low": [0.6, 0.5, -4.0], "ci_high": [1.1, 2.5, 0.1],
        "p_value": [0.2, 0.004, 0.06], "panel": ["ratios", "scores", "scores"],
        "label": ["HR", "WEMWBS", "days"]})
    # adjusted_mean_difference is not one of the default panels' types
    path = forest(tab, tmp_path / "f.svg", panel="panel", label="label",
                  xlabels={"ratios": "Ratio", "scores": "Score"})
    again = forest(tab, tmp_path / "g.svg", panel="panel", label="label",
                   xlabels={"ratios": "Ratio", "scores": "Score"})
    assert path.read_bytes() == again.read_bytes()
    with pytest.raises(ValueError):
        forest(tab.assign(contrast="t"), tmp_path / "h.svg", panel="panel")


def test_forest_leaves_out_not_estimable_rows_and_lists_them(tmp_path):
    tab = pd.DataFrame({
        "analysis": ["a", "b"], "outcome": ["x", "y"], "contrast": ["t vs c"] * 2,
        "estimate_type": ["hazard_ratio", "hazard_ratio"],
        "estimate": [0.8, float("nan")], "ci_low": [0.6, float("nan")],
        "ci_high": [1.1, float("nan")], "p_value": [0.2, float("nan")],
        "status": ["estimated", "not estimable"], "reason": ["", "no events in either arm"],
        "label": ["HR x", "HR y"]})
    text = forest(tab, tmp_path / "f.svg", label="label").read_text()
    # svg.fonttype "path" draws glyphs, so the labels are not text: compare with the plot
    # of the estimable row alone, which must differ only by the note under it
    alone = forest(tab.iloc[:1], tmp_path / "g.svg", label="label").read_text()
    assert text != alone
    none = forest(tab.iloc[1:], tmp_path / "h.svg", label="label").read_text()
    assert none != alone and none.startswith("<?xml")
    from outcomes.survival.plots import split_not_estimable

    kept, excluded = split_not_estimable(tab, "label")
    assert kept["label"].tolist() == ["HR x"]
    assert excluded == [("HR y", "no events in either arm")]


def test_forest_draws_an_estimate_outside_its_interval(tmp_path):
    # a percentile bootstrap CI need not contain its estimate (small samples): drawn, no error
    tab = pd.DataFrame({
        "analysis": ["a", "b"], "outcome": ["x", "y"], "contrast": ["t vs c"] * 2,
        "estimate_type": ["mean_difference"] * 2, "estimate": [0.5, -1.0],
        "ci_low": [0.6, -2.0], "ci_high": [1.2, 0.5], "p_value": [0.01, 0.3],
        "label": ["outside", "inside"]})
    path = forest(tab, tmp_path / "f.svg", label="label")
    assert path.read_text().startswith("<?xml")
