"""Cluster labels of the partially nested design (outcomes.clustering)."""

import numpy as np
import pandas as pd

from outcomes.clustering import cluster_codes, cluster_ids
from outcomes.plan import AnalysisPlan


def _adsl():
    return pd.DataFrame({
        "USUBJID": ["P1", "P2", "P3", "P4", "P5"],
        "ARM": ["peer_support", "peer_support", "peer_support", "usual_care", "usual_care"],
        "PEERWID": ["PW-A-01", "PW-A-01", "", "", "PW-A-01"],
    })


def test_treated_with_a_worker_share_a_cluster_everyone_else_is_alone():
    ids = cluster_ids(_adsl(), "peer_support")
    assert ids.tolist() == ["PW:PW-A-01", "PW:PW-A-01", "ID:P3", "ID:P4", "ID:P5"]


def test_codes_are_dense_and_equal_within_a_cluster():
    codes, g = cluster_codes(cluster_ids(_adsl(), "peer_support"))
    assert g == 4
    assert codes[0] == codes[1] and len(set(codes.tolist())) == 4
    assert np.array_equal(np.sort(np.unique(codes)), np.arange(4))


def test_no_peerwid_column_means_no_clusters():
    ids = cluster_ids(_adsl().drop(columns="PEERWID"), "peer_support")
    assert ids.str.startswith("ID:").all()


def test_plan_key_defaults_to_the_partially_nested_design():
    assert AnalysisPlan.from_config({}).clustering == "peer_worker"
    assert AnalysisPlan.from_config({"clustering": "none"}).clustering == "none"
