"""What a run observes: sample rows, per-namespace metrics, and series for the plots.

Reading a clock never advances a timekeeper (the kernel read path is pure), so sampling does
not perturb the run: a scenario sampled every second and every hour gives the same clocks.
Values stay exact (ints, rationals) until they are written; rows are handed to a sink as
they are made, so a long run never holds its whole table in memory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gmpy2 import mpq

from ntp.timex import TIME_OOP

from ..clockids import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_TAI,
)
from ..host import Host
from ..namespace import Namespace, TimekeeperNamespace
from .exact import ExactTracker
from .timescale import Timescale
from .units import NSEC, format_decimal, format_utc

COLUMNS = (
    "true_ns",
    "true_utc",
    "namespace",
    "model",
    "realtime_ns",
    "monotonic_ns",
    "boottime_ns",
    "tai_ns",
    "raw_ns",
    "offset_utc_ns",
    "offset_reference_ns",
    "freq_ppm",
    "ntp_freq_ppm",
    "mult",
    "ntp_state",
    "ntp_status",
    "utc_label",
    "utc_fold",
    "policy",
    "update",
    "dilation",
    "ntp_model",
    "scenario",
    "seed",
)
#: `true_utc` is POSIX ISO UTC (pandas and `datetime.fromisoformat` read it; during an
#: inserted second it repeats 23:59:59 with `utc_fold` = 1, as Python's `fold` does);
#: `utc_label` is UTC as UTC writes it (23:59:60).  The columns after it repeat the
#: namespace's and the run's parameters, so a table needs no join with scenario.toml.
STATE_NAMES = ("TIME_OK", "TIME_INS", "TIME_DEL", "TIME_OOP", "TIME_WAIT", "TIME_ERROR")
PLOT_LIMIT = 14
Row = list[str]


@dataclass
class Track:
    """One namespace's running metrics (exact) and its plot series (floats, for the edge)."""

    name: str
    record: bool
    plotted: bool
    group: str
    n: int = 0
    sum_sq_utc: mpq = field(default_factory=mpq)
    max_utc: mpq = field(default_factory=mpq)
    sum_sq_ref: mpq = field(default_factory=mpq)
    max_ref: mpq = field(default_factory=mpq)
    max_freq: mpq = field(default_factory=mpq)
    final: dict[str, Any] = field(default_factory=dict)
    last_mono: int | None = None
    last_true: int | None = None
    last_step: int | None = None
    realtime_back: int = 0
    monotonic_back: int = 0
    lateness: list[int] = field(default_factory=list)
    early_fires: int = 0
    overruns: int = 0
    static: list[str] = field(default_factory=list)
    series: dict[str, list[float]] = field(
        default_factory=lambda: {"t": [], "utc": [], "ref": [], "ft": [], "freq": []}
    )


def utc_label(utc_ns: int, fold: int) -> str:
    """ISO UTC; the second pass of an inserted second reads 23:59:60 as UTC itself writes it."""
    text = format_utc(utc_ns)
    return text[:17] + "60" + text[19:] if fold else text


def _ntp_of(ns: Namespace) -> Any:
    return ns.ntp if isinstance(ns, TimekeeperNamespace) else ns.host.root.ntp


@functools.cache
def _status_names(status: int) -> str:
    """'PLL|INS' for a status word (cached: a run sees only a handful of values)."""
    from .types import STA_BITS

    names = [n.removeprefix("STA_") for n, bit in STA_BITS.items() if status & bit]
    return "|".join(names)


class Recorder:
    """Samples every recorded namespace and keeps the metrics summary.json reports."""

    def __init__(self, timescale: Timescale, sink: Callable[[Row], None] | None = None) -> None:
        self.ts = timescale
        self.sink = sink
        self.tracks: dict[str, Track] = {}
        self.dilation: dict[str, mpq] = {}
        self.samples = 0
        self.exact: ExactTracker | None = None
        self.run_labels = ["", ""]  # scenario name and seed, for every row

    def add(
        self,
        ns: Namespace,
        record: bool = True,
        group: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        if self.exact is None:
            self.exact = ExactTracker(self.ts, ns.host)
        self.exact.add(ns)
        plotted = record and sum(t.plotted for t in self.tracks.values()) < PLOT_LIMIT
        track = Track(ns.name, record, plotted, group or ns.name)
        params = params or {}
        track.static = [
            params.get("policy", ""),
            str(getattr(ns, "update", "")),
            str(getattr(ns, "dilation", "")),
            params.get("ntp_model", ""),
            *self.run_labels,
        ]
        self.tracks[ns.name] = track
        self.dilation[ns.name] = mpq(getattr(ns, "dilation", 1))

    # -- observing -------------------------------------------------------------------------

    def sample(self, host: Host, true_ns: int) -> None:
        """One sample: a row per recorded namespace, metrics for all."""
        self.samples += 1
        utc, fold = self.ts.utc_fold(true_ns)
        posix = format_utc(utc)
        tail = [utc_label(utc, fold), str(fold)]
        ref = self.ts.reference_ns(true_ns)
        cycles = host.cycles_now()
        for name, track in self.tracks.items():
            ns = host.namespaces[name]
            row = self._observe(ns, track, cycles, true_ns, (utc, fold), ref)
            if track.record and self.sink is not None:
                row[1] = posix
                self.sink(row + tail + track.static)

    def probe(self, host: Host) -> None:
        """Read every clock around an event, to see steps that samples would miss."""
        cycles = host.cycles_now()
        for name, track in self.tracks.items():
            ns = host.namespaces[name]
            self._steps(
                track,
                ns.read_clock_at(CLOCK_REALTIME, cycles),
                ns.read_clock_at(CLOCK_MONOTONIC, cycles),
            )

    def forget_rates(self) -> None:
        """After a suspend MONOTONIC has stood still: no rate across it."""
        for track in self.tracks.values():
            track.last_mono = None

    def timer_fired(self, name: str, lateness_ns: int, overrun: int) -> None:
        track = self.tracks[name]
        track.lateness.append(lateness_ns)
        track.overruns += overrun
        if lateness_ns < 0:
            track.early_fires += 1

    # -- internals ---------------------------------------------------------------------------

    def _steps(self, track: Track, real: int, mono: int) -> None:
        if track.last_mono is not None and mono < track.last_mono:
            track.monotonic_back += 1
        step = real - mono
        if track.last_step is not None and step < track.last_step:
            track.realtime_back += 1
        track.last_step = step

    def _observe(
        self,
        ns: Namespace,
        track: Track,
        cycles: int,
        true_ns: int,
        utc_fold: tuple[int, int],
        ref: mpq,
    ) -> Row:
        read = ns.read_clock_at
        real, mono = read(CLOCK_REALTIME, cycles), read(CLOCK_MONOTONIC, cycles)
        tai = read(CLOCK_TAI, cycles)
        self._steps(track, real, mono)
        ntp = _ntp_of(ns)
        label = self.ts.label_position
        off_utc = label(real, ntp.time_state == TIME_OOP) - label(*utc_fold)
        off_ref = (tai if self.ts.uses_tai() else real) - ref
        freq = self._freq(track, true_ns, mono)
        track.n += 1
        track.sum_sq_utc += off_utc * off_utc
        track.sum_sq_ref += off_ref * off_ref
        track.max_utc = max(track.max_utc, abs(mpq(off_utc)))
        track.max_ref = max(track.max_ref, abs(off_ref))
        track.final = {
            "offset_utc": off_utc,
            "offset_ref": off_ref,
            "freq": freq,
            "ntp_freq": ntp.freq_ppm,
        }
        if track.plotted:
            self._plot_point(track, true_ns, off_utc, off_ref, freq)
        mult = ns.tk.mult if isinstance(ns, TimekeeperNamespace) else ns.host.root.tk.mult
        return [
            str(true_ns),
            "",
            ns.name,
            ns.model,
            str(real),
            str(mono),
            str(read(CLOCK_BOOTTIME, cycles)),
            str(tai),
            str(read(CLOCK_MONOTONIC_RAW, cycles)),
            str(off_utc),
            format_decimal(off_ref, 3),
            "" if freq is None else format_decimal(freq, 6),
            format_decimal(ntp.freq_ppm, 6),
            str(mult),
            STATE_NAMES[ntp.time_state],
            _status_names(ntp.time_status),
        ]

    def _freq(self, track: Track, true_ns: int, mono: int) -> mpq | None:
        """The clock's rate against SI seconds over the last interval, in ppm (exact)."""
        freq = None
        if (
            track.last_mono is not None
            and track.last_true is not None
            and true_ns > track.last_true
        ):
            d = self.dilation[track.name]
            freq = (mpq(mono - track.last_mono) * d / (true_ns - track.last_true) - 1) * 10**6
            track.max_freq = max(track.max_freq, abs(freq))
        track.last_mono, track.last_true = mono, true_ns
        return freq

    def _plot_point(
        self, track: Track, true_ns: int, off_utc: int, off_ref: mpq, freq: mpq | None
    ) -> None:
        s = track.series
        s["t"].append(true_ns / NSEC)
        s["utc"].append(off_utc / NSEC)
        s["ref"].append(float(off_ref) / NSEC)
        if freq is not None:
            s["ft"].append(true_ns / NSEC)
            s["freq"].append(float(freq))
