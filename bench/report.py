"""Targets of the Performance issue, the printed table, results.json and chart.png."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# The issue's targets. Scenario 1's ratio has no MongoDB target: reported, not judged.
S1_RATIO_TARGET = {"sqlite": 0.40, "postgres": 0.30}
S2_P99_FACTOR = 3.0
S3_DEPTH_FACTOR = 2.0
S4_RSS_LIMIT_MB = 200.0


@dataclass(frozen=True)
class Row:
    """One line of the table: a measurement, its reference, the target and the verdict."""

    scenario: str
    backend: str
    app: str
    reference: str
    ratio: str
    target: str
    met: bool | None  # None: informational, no target

    @property
    def verdict(self) -> str:
        """met, NOT MET, or - for an informational row."""
        return {True: "met", False: "NOT MET", None: "-"}[self.met]


def _n(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _load(result: dict[str, Any]) -> str:
    return (
        f"{_n(result['rps'], 0)} rps, p50 {_n(result['p50_ms'], 2)} ms, "
        f"p99 {_n(result['p99_ms'], 2)} ms"
    )


def _s1_rows(name: str, s1: dict[str, Any], bare: dict[str, Any] | None) -> list[Row]:
    rows = []
    threshold = S1_RATIO_TARGET.get(name)
    for key, result in s1.items():
        connections = key.removeprefix("c")
        reference = bare.get(key) if bare else None
        ratio = result["rps"] / reference["rps"] if reference and reference["rps"] else None
        errors = result["errors"]
        met: bool | None
        if threshold is None:
            target, met = "0 errors (no ratio target)", errors == 0
        else:
            target = f">= {threshold:.0%} of bare, 0 errors"
            met = None if ratio is None else ratio >= threshold and errors == 0
        rows.append(
            Row(
                scenario=f"1 GET /users/me, {connections} conn",
                backend=name,
                app=_load(result) + f", {errors} errors",
                reference=("bare " + _load(reference)) if reference else "-",
                ratio=f"{ratio:.1%}" if ratio is not None else "-",
                target=target,
                met=met,
            )
        )
    return rows


def _s2_rows(name: str, s2: dict[str, Any], hashing: dict[str, Any] | None) -> list[Row]:
    probe = s2["probe"]
    idle, during = probe["idle"], probe["during_storm"]
    ratio = during["p99_ms"] / idle["p99_ms"] if idle["p99_ms"] else math.nan
    logins = s2["logins"]
    hash_rate = hashing["hashes_per_s"] if hashing else None
    return [
        Row(
            scenario="2 /users/me p99 during login storm",
            backend=name,
            app=f"p99 {_n(during['p99_ms'], 2)} ms (p50 {_n(during['p50_ms'], 2)}), "
            f"{during['errors']} errors",
            reference=f"idle p99 {_n(idle['p99_ms'], 2)} ms (p50 {_n(idle['p50_ms'], 2)})",
            ratio=f"{ratio:.2f}x",
            target=f"< {S2_P99_FACTOR:g}x idle p99",
            met=ratio < S2_P99_FACTOR and during["errors"] == 0,
        ),
        Row(
            scenario=f"2 logins/s, {logins['connections']} conn",
            backend=name,
            app=f"{_n(logins['rps'], 1)}/s, p50 {_n(logins['p50_ms'], 0)} ms, "
            f"p99 {_n(logins['p99_ms'], 0)} ms, {logins['errors']} errors",
            reference=f"argon2id 1 core {_n(hash_rate, 1)}/s" if hash_rate else "-",
            ratio=f"{logins['rps'] / hash_rate:.2f}x" if hash_rate else "-",
            target="report (next to hash rate)",
            met=None,
        ),
    ]


def _s3_rows(name: str, s3: dict[str, Any]) -> list[Row]:
    depths = [str(d) for d in s3["depths"]]
    rows = []
    for api, label in (("v1_offset", "v1 offset"), ("v2_cursor", "v2 cursor")):
        pages = s3[api]
        medians = [pages[d]["median_ms"] for d in depths]
        ratio = medians[-1] / medians[0] if medians[0] else math.nan
        is_v2 = api == "v2_cursor"
        rows.append(
            Row(
                scenario=f"3 {label} page at {'/'.join(f'{int(d):,}' for d in depths)}",
                backend=name,
                app=" / ".join(f"{m:.2f}" for m in medians) + " ms (median)",
                reference=f"{s3['users']:,} users",
                ratio=f"{ratio:.2f}x deep/first",
                target=f"<= {S3_DEPTH_FACTOR:g}x depth 0" if is_v2 else "report",
                met=(ratio <= S3_DEPTH_FACTOR) if is_v2 else None,
            )
        )
    return rows


def _s4_row(name: str, peak: float, bare: dict[str, Any] | None) -> Row:
    return Row(
        scenario="4 peak RSS during 1 and 2",
        backend=name,
        app=f"{peak:.1f} MB",
        reference=f"bare {bare['peak_rss_mb']:.1f} MB" if bare else "-",
        ratio="-",
        target=f"< {S4_RSS_LIMIT_MB:g} MB",
        met=peak < S4_RSS_LIMIT_MB,
    )


def evaluate(results: dict[str, Any]) -> list[Row]:
    """Every table row, in scenario order, from the raw results."""
    bare = results.get("bare")
    hashing = results.get("hashing")
    rows: list[Row] = []
    if bare:
        rows.extend(
            Row(
                scenario=f"0 bare app, {key.removeprefix('c')} conn",
                backend="-",
                app=_load(value) + f", {value['errors']} errors",
                reference="the ceiling",
                ratio="-",
                target="-",
                met=None,
            )
            for key, value in bare.items()
            if key.startswith("c")
        )
    for name, data in results["backends"].items():
        if "s1" in data:
            rows.extend(_s1_rows(name, data["s1"], data.get("bare_s1") or bare))
        if "s2" in data:
            rows.extend(_s2_rows(name, data["s2"], hashing))
        if "s3" in data:
            rows.extend(_s3_rows(name, data["s3"]))
        if "s4" in data and ("s1" in data or "s2" in data):
            rows.append(_s4_row(name, data["s4"]["peak_rss_mb"], bare))
    rows.sort(key=lambda row: row.scenario[0])
    return rows


def render_table(rows: list[Row]) -> str:
    """A plain-text table (also valid Markdown)."""
    header = ("Scenario", "Backend", "App", "Reference", "Ratio", "Target", "Met")
    body = [(r.scenario, r.backend, r.app, r.reference, r.ratio, r.target, r.verdict) for r in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *body, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(b) for b in body)])


def write_json(results: dict[str, Any], rows: list[Row], path: Path) -> None:
    """results.json: raw measurements, metadata and the evaluated targets."""
    document = {**results, "table": [{**asdict(r), "verdict": r.verdict} for r in rows]}
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")


def write_chart(results: dict[str, Any], path: Path) -> bool:
    """chart.png with one panel per scenario; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False

    backends: dict[str, Any] = results["backends"]
    bare = results.get("bare") or {}
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    meta = results["meta"]
    fig.suptitle(
        f"oop-fastapi-backend benchmark - {meta['machine']['cpu_model']}, "
        f"{meta['machine']['nproc']} cores, load by {meta['load_generator']}, {meta['date']}",
        fontsize=11,
    )
    _panel_throughput(axes[0][0], bare, backends)
    _panel_storm(axes[0][1], backends, results.get("hashing"))
    _panel_listing(axes[1][0], backends)
    _panel_memory(axes[1][1], bare, backends)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _not_run(ax: Any, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _panel_throughput(ax: Any, bare: dict[str, Any], backends: dict[str, Any]) -> None:
    title = "1. GET /api/v1/users/me throughput"
    series = [("bare", bare)] if bare else []
    series += [(name, data["s1"]) for name, data in backends.items() if "s1" in data]
    # Each backend's ratio against the bare-app run made right before it, if any.
    ceilings = {name: data.get("bare_s1") or bare for name, data in backends.items()}
    if not series:
        _not_run(ax, title)
        return
    levels = sorted(
        {k for _, s in series for k in s if k.startswith("c")}, key=lambda k: int(k[1:])
    )
    width = 0.8 / len(series)
    for i, (name, data) in enumerate(series):
        xs = [j + i * width for j in range(len(levels))]
        values = [data[k]["rps"] if k in data else 0 for k in levels]
        bars = ax.bar(xs, values, width, label=name)
        for bar, level in zip(bars, levels, strict=True):
            ceiling = ceilings.get(name) or {}
            if name != "bare" and ceiling.get(level):
                ratio = bar.get_height() / ceiling[level]["rps"]
                ax.annotate(
                    f"{ratio:.0%}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
    ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(levels))])
    ax.set_xticklabels([f"{k[1:]} connections" for k in levels])
    ax.set_ylabel("requests/s")
    ax.set_title(title + " (% of bare)")
    ax.legend()


def _panel_storm(ax: Any, backends: dict[str, Any], hashing: dict[str, Any] | None) -> None:
    title = "2. /users/me p99 while 8 connections log in"
    runs = [(name, data["s2"]) for name, data in backends.items() if "s2" in data]
    if not runs:
        _not_run(ax, title)
        return
    xs = range(len(runs))
    idle = [s2["probe"]["idle"]["p99_ms"] for _, s2 in runs]
    storm = [s2["probe"]["during_storm"]["p99_ms"] for _, s2 in runs]
    ax.bar([x - 0.2 for x in xs], idle, 0.4, label="idle p99")
    ax.bar([x + 0.2 for x in xs], storm, 0.4, label="during storm p99")
    ax.scatter(
        [x + 0.2 for x in xs],
        [S2_P99_FACTOR * v for v in idle],
        marker="_",
        s=600,
        color="red",
        label=f"target: {S2_P99_FACTOR:g}x idle",
    )
    labels = []
    for name, s2 in runs:
        label = f"{name}\n{s2['logins']['rps']:.1f} logins/s"
        if hashing:
            label += f"\n(argon2id 1 core: {hashing['hashes_per_s']:.1f}/s)"
        labels.append(label)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylim(0, max([*storm, *(S2_P99_FACTOR * v for v in idle)]) * 1.35)
    ax.set_ylabel("ms")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", ncols=3)


def _panel_listing(ax: Any, backends: dict[str, Any]) -> None:
    title = "3. GET /users page of 20 (median latency)"
    runs = [(name, data["s3"]) for name, data in backends.items() if "s3" in data]
    if not runs:
        _not_run(ax, title)
        return
    for name, s3 in runs:
        depths = s3["depths"]
        for api, style in (("v1_offset", "--o"), ("v2_cursor", "-s")):
            values = [s3[api][str(d)]["median_ms"] for d in depths]
            ax.plot(depths, values, style, label=f"{name} {api.replace('_', ' ')}")
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"depth (rows skipped, of {runs[0][1]['users']:,} users)")
    ax.set_ylabel("ms")
    ax.set_title(title)
    ax.legend(fontsize=8)


def _panel_memory(ax: Any, bare: dict[str, Any], backends: dict[str, Any]) -> None:
    title = "4. Peak RSS of the server process (scenarios 1-2)"
    series = [("bare", bare["peak_rss_mb"])] if bare else []
    series += [
        (name, data["s4"]["peak_rss_mb"])
        for name, data in backends.items()
        if "s4" in data and ("s1" in data or "s2" in data)
    ]
    if not series:
        _not_run(ax, title)
        return
    bars = ax.bar([n for n, _ in series], [v for _, v in series], color="tab:purple")
    for bar in bars:
        ax.annotate(
            f"{bar.get_height():.0f} MB",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.axhline(
        S4_RSS_LIMIT_MB, color="red", linestyle="--", label=f"target < {S4_RSS_LIMIT_MB:g} MB"
    )
    ax.set_ylabel("MB")
    ax.set_title(title)
    ax.legend(fontsize=8)
