"""Anomaly detection benchmark: quality on a labelled history, and the cost of evaluating 1,000 sources.

Quality: 14 days x 6 regions x 2 metrics (cpu_load, wait_time) of simulator history
(pollers.simulator.anomalies), after 4 weeks of clean history the seasonal baseline reads. Into the
14 days go, per region and metric, one spike (2 h, +100 %), one level shift (12 h, +50 %) and one slow
drift (36 h, growing to +75 %), at seeded random hours. Every hour is labelled; precision and recall
count hours. Printed beside the floor: a static threshold per metric (value > T), T chosen on the same
data as the one with the best F1 -- an upper bound on what any one fixed threshold can do here.

Cost: the latest hour of 1,000 sources scored against 4 weeks of hourly history (one
``latest_seasonal_scores`` call) against the floor, a loop of 1,000 trivial threshold comparisons;
medians of BENCH_ANOMALY_REPEATS runs (default 200). Environment: BENCH_ANOMALY_SEED (default 22).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metrics.anomaly import (
    DEFAULT_SENSITIVITY,
    DEFAULT_WEEKS,
    HOURS_PER_WEEK,
    latest_seasonal_scores,
    peer_scores,
    seasonal_scores,
)
from metrics.defaults import REGIONS
from pollers.simulator.anomalies import HOUR, METRICS, Injection, histories

SEED = int(os.environ.get("BENCH_ANOMALY_SEED", "22"))
REPEATS = int(os.environ.get("BENCH_ANOMALY_REPEATS", "200"))
START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday
WARM_UP = DEFAULT_WEEKS * HOURS_PER_WEEK
EVALUATED = 14 * 24
PLAN = (("spike", 2, 1.0), ("level_shift", 12, 0.5), ("drift", 36, 0.75))
SOURCES = 1000


def injections(rng: np.random.Generator) -> list[Injection]:
    """The PLAN for every region and metric, at random non-overlapping hours of the evaluated 14 days."""
    found = []
    for metric in METRICS:
        for region in REGIONS:
            taken = np.zeros(EVALUATED, dtype=bool)
            for kind, hours, magnitude in PLAN:
                while True:
                    at = int(rng.integers(0, EVALUATED - hours))
                    # A day's gap around each: two anomalies back to back would read as one.
                    if not taken[max(0, at - 24) : at + hours + 24].any():
                        break
                taken[at : at + hours] = True
                found.append(Injection(region, metric, kind, START + (WARM_UP + at) * HOUR, hours, magnitude))
    return found


def precision_recall(flagged: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    tp = int((flagged & labels).sum())
    precision = tp / flagged.sum() if flagged.any() else 1.0
    recall = tp / labels.sum() if labels.any() else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), f1


def best_static_threshold(values: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """The T maximising F1 of ``value > T`` over all candidate cut points of ``values``."""
    flat, truth = values.ravel(), labels.ravel()
    order = np.argsort(-flat)
    tp = np.cumsum(truth[order])
    flagged = np.arange(1, flat.size + 1)
    f1 = 2 * tp / (flagged + truth.sum())
    best = int(np.argmax(f1))
    # Flag the best+1 largest values: T sits just below the smallest of them.
    threshold = float(np.nextafter(flat[order[best]], -np.inf))
    return threshold, values > threshold


def quality() -> bool:
    rng = np.random.default_rng(SEED)
    plan = injections(rng)
    data = histories(list(REGIONS), START, WARM_UP + EVALUATED, plan, seed=SEED)
    rows = []
    totals: dict[str, list[np.ndarray]] = {"seasonal": [], "peer": [], "combined": [], "static": [], "labels": []}
    for metric in METRICS:
        history = data[metric]
        evaluated = slice(WARM_UP, None)
        labels = history.labels[:, evaluated]
        seasonal = seasonal_scores(history.values).flagged[:, evaluated]
        peer = peer_scores(history.values[:, evaluated]).flagged
        threshold, static = best_static_threshold(history.values[:, evaluated], labels)
        for name, flagged in (("seasonal", seasonal), ("peer", peer), ("seasonal or peer", seasonal | peer)):
            rows.append((metric, name, *precision_recall(flagged, labels), ""))
        rows.append((metric, "static threshold (best F1)", *precision_recall(static, labels), f"T = {threshold:.1f}"))
        totals["seasonal"].append(seasonal)
        totals["peer"].append(peer)
        totals["combined"].append(seasonal | peer)
        totals["static"].append(static)
        totals["labels"].append(labels)
    labels = np.concatenate(totals["labels"])
    print(
        f"{len(REGIONS)} regions x {EVALUATED // 24} days x {len(METRICS)} metrics, {int(labels.sum())} of "
        f"{labels.size} hours anomalous; sensitivity {DEFAULT_SENSITIVITY}, {DEFAULT_WEEKS} weeks of baseline"
    )
    print(f"{'metric':<10} {'detector':<28} {'precision':>9} {'recall':>7} {'F1':>6}")
    for metric, name, precision, recall, f1, note in rows:
        print(f"{metric:<10} {name:<28} {precision:>9.3f} {recall:>7.3f} {f1:>6.3f} {note}")
    results = {}
    for name, label in (("seasonal", "seasonal"), ("combined", "seasonal or peer"), ("static", "static threshold")):
        results[name] = precision_recall(np.concatenate(totals[name]), labels)
        precision, recall, f1 = results[name]
        print(f"{'all':<10} {label:<28} {precision:>9.3f} {recall:>7.3f} {f1:>6.3f}")
    precision, recall, _ = results["seasonal"]
    met = precision >= 0.9 and recall >= 0.8
    print(f"target precision >= 0.9 and recall >= 0.8 (seasonal, default sensitivity): {'met' if met else 'MISSED'}")
    return met


def median_seconds(call: object, repeats: int) -> float:
    assert callable(call)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def cost() -> None:
    rng = np.random.default_rng(SEED)
    matrix = 50 * (1 + 0.03 * rng.standard_normal((SOURCES, WARM_UP + 1)))
    latest = [float(v) for v in matrix[:, -1]]
    thresholds = [60.0] * SOURCES

    def anomaly() -> None:
        latest_seasonal_scores(matrix)

    def static() -> None:
        [value > threshold for value, threshold in zip(latest, thresholds, strict=True)]

    anomaly_s = median_seconds(anomaly, REPEATS)
    static_s = median_seconds(static, REPEATS)
    print(
        f"latest hour of {SOURCES} sources: seasonal scores {anomaly_s * 1e3:.3f} ms, "
        f"threshold loop (floor) {static_s * 1e3:.3f} ms, ratio {anomaly_s / static_s:.1f}x"
    )


def main() -> int:
    met = quality()
    cost()
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
