"""A leap second with the real chronyd, and the same run with the chrony model, side by side.

`run_real(mode)` runs Debian's chronyd (found by `tk_shim.daemons`) as a client of the model
NTP server `tk_shim.ntp_server.NtpServer` over `tk_shim.netsim`.  The server's namespace is
nominal and has STA_INS set in its own kernel NTP state, so it announces the leap in every
reply (leap indicator 1) until its own kernel has inserted it, exactly as a kernel-
synchronised stratum-1 server does.  The client's namespace starts on UTC a few polls before
midnight; chronyd learns the leap from the replies and handles it with its `leapsecmode`.

`run_smear(...)` puts a second, smearing chronyd between them: a chronyd server
(``smoothtime 400 0.001024 leaponly`` with ``leapsecmode slew``, synchronised to the model
server) serves a chronyd client.

`run_model(mode)` runs `ntp.discipline.ChronyClient` through `tk_core.daemon.NtpDaemon`
against `ntp.discipline.ReferenceServer` with the same start, path and polling interval.

Every run samples the client namespace at fixed true instants (every `step_ms` from
`fine_from_s` before midnight to `fine_to_s` after, every second elsewhere): its REALTIME
minus true UTC (the kernel-style stepped UTC of `ntp.smear.Step`: 23:59:59 twice), the
adjtimex return value (time_state) and status word.  `LeapTrace.metrics()` turns the samples
into the figures of docs/real-daemons.md.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gmpy2 import mpq

from ntp.discipline import ChronyClient, PathModel, ReferenceServer
from ntp.smear import Step
from ntp.timex import ADJ_STATUS, STA_INS, STA_UNSYNC, Timex
from tk_core.clockids import CLOCK_REALTIME
from tk_core.daemon import NtpDaemon, at_true_time
from tk_core.host import Host

from .daemon_config import Smoothtime, chrony_client_conf, chrony_server_conf, chronyd_command
from .daemons import find_daemon
from .netsim import Network
from .ntp_server import serve_ntp
from .server import CAPTURE, Simulation

NSEC = 1_000_000_000
LEAP_2016 = 1_483_228_800  # 2017-01-01T00:00:00Z: the leap second is inserted just before
SERVER, SMEAR, CLIENT = "10.0.0.1", "10.0.0.3", "10.0.0.2"
DEFAULT_PATH = PathModel(delay_ns=250_000, jitter_ns=20_000)
STATE_NAMES = ("TIME_OK", "TIME_INS", "TIME_DEL", "TIME_OOP", "TIME_WAIT", "TIME_ERROR")


@dataclass(frozen=True)
class LeapSample:
    """The client namespace at one true instant."""

    true_unix: mpq
    realtime_ns: int
    offset_ns: int  # REALTIME − true (stepped) UTC
    state: int  # adjtimex return value (TIME_ERROR while STA_UNSYNC is set)
    status: int
    kernel_state: int  # the kernel's leap state machine (ntp.kernel time_state)


@dataclass
class LeapTrace:
    """The samples of one run, plus what the daemon(s) logged."""

    mode: str
    leap_unix: int
    samples: list[LeapSample] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)

    def after(self, seconds: float = 0.0) -> list[LeapSample]:
        return [s for s in self.samples if s.true_unix >= self.leap_unix + mpq(seconds)]

    def states(self) -> list[str]:
        """The kernel's successive leap states (TIME_OK, TIME_INS, TIME_OOP, ...)."""
        seen: list[str] = []
        for s in self.samples:
            name = STATE_NAMES[s.kernel_state]
            if not seen or seen[-1] != name:
                seen.append(name)
        return seen

    def metrics(self) -> dict[str, Any]:
        """Max |offset from UTC| after the leap (ms, and when), the time after midnight from
        which it stays within 1 ms (s), the samples with STA_UNSYNC, REALTIME steps back."""
        after = self.after()
        worst = max(after, key=lambda s: abs(s.offset_ns))
        outside = [s for s in after if abs(s.offset_ns) > 1_000_000]
        settle = float(outside[-1].true_unix - self.leap_unix) if outside else 0.0
        back = [a.realtime_ns - b.realtime_ns for a, b in itertools.pairwise(self.samples)
                if b.realtime_ns < a.realtime_ns]
        return {
            "max_abs_offset_ms": abs(worst.offset_ns) / 1e6,
            "max_abs_offset_at_s": float(worst.true_unix - self.leap_unix),
            "within_1ms_after_s": settle,
            "unsync_samples": sum(1 for s in self.samples if s.status & STA_UNSYNC),
            "samples": len(self.samples),
            "realtime_steps_back_ms": [b / 1e6 for b in back],
            "states": self.states(),
        }


def true_utc_ns(true_unix: mpq, leap_unix: int) -> int:
    """Kernel-style UTC at a true instant (the inserted second reads 23:59:59 again), ns."""
    return int(Step().for_leap(leap_unix, 1).utc(true_unix) * NSEC)


def _sampler(host: Host, ns: Any, epoch: int, trace: LeapTrace, times: list[mpq]) -> None:
    """Queue one sample of `ns` at each true time in `times` (seconds since the start)."""
    def take() -> None:
        true_unix = epoch + host.true_time
        real = ns.clock_gettime_ns(CLOCK_REALTIME)
        tx = Timex()
        state = ns.adjtimex(tx)
        offset = real - true_utc_ns(true_unix, trace.leap_unix)
        trace.samples.append(LeapSample(true_unix, real, offset, state, tx.status,
                                        ns.timer_domain.ntp.time_state))
    for t in times:
        at_true_time(host, t, take)


def sample_times(lead_s: int, span_s: int, fine_from_s: int, fine_to_s: int,
                 step_ms: int) -> list[mpq]:
    """Seconds since the start: every second, and every `step_ms` around the leap, all
    half a step late.  The kernel inserts the leap at the first tick after midnight
    (`second_overflow`), so a reading exactly at midnight still says 00:00:00; sampling
    off the second boundaries keeps that tick's width out of the figures."""
    half = mpq(step_ms, 2000)
    points = {mpq(t) + half for t in range(0, lead_s + span_s)}
    lo, hi = (lead_s - fine_from_s) * 1000, (lead_s + fine_to_s) * 1000
    points |= {mpq(ms, 1000) + half for ms in range(lo, hi, step_ms)}
    return sorted(points)


def _server_namespace(host: Host) -> Any:
    """A nominal namespace whose kernel has the leap armed (STA_INS): it announces it."""
    srv = host.create_namespace("server")
    srv.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    return srv


def _chronyd() -> Path:
    found = find_daemon("chronyd")
    if found is None:
        raise FileNotFoundError("chronyd not found (scripts/fetch-daemons.sh)")
    return found.path


@dataclass(frozen=True)
class RunSpec:
    """When and how: seconds before/after midnight, the poll exponent, the path, sampling."""

    lead_s: int = 20
    span_s: int = 16
    poll: int = 0
    path: PathModel = DEFAULT_PATH
    seed: int = 1
    fine_from_s: int = 2
    fine_to_s: int = 16
    step_ms: int = 100
    client_extra: tuple[str, ...] = ()  # more chrony.conf lines for the client (``rtcsync``)

    def times(self) -> list[mpq]:
        return sample_times(self.lead_s, self.span_s, self.fine_from_s, self.fine_to_s,
                            self.step_ms)

    @property
    def start_unix(self) -> int:
        return LEAP_2016 - self.lead_s


def _workdir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="tk-chrony-leap-"))
    d.chmod(0o777)
    return d


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o644)
    return path


def _client_conf(d: Path, server: str, mode: str, spec: RunSpec) -> Path:
    text = chrony_client_conf(server, d, minpoll=spec.poll, maxpoll=spec.poll,
                              makestep=(1.0, 3), leapsecmode=mode, log=(),
                              extra=spec.client_extra)
    return _write(d / f"client-{mode}.conf", text)


def _simulate(spec: RunSpec, mode: str,
              attach: Callable[[Simulation, Host, Network, Path], dict[str, Any]]) -> LeapTrace:
    """One host, the model NTP server, the programs `attach` starts, sampling, the run."""
    host = Host(realtime_ns=spec.start_unix * NSEC)
    net = Network(host, seed=spec.seed, default_path=spec.path)
    server = serve_ntp(net, SERVER, _server_namespace(host))
    trace = LeapTrace(mode, LEAP_2016)
    d = _workdir()
    try:
        with Simulation(host, network=net) as sim:
            progs = attach(sim, host, net, d)
            _sampler(host, host.namespaces["client"], spec.start_unix, trace, spec.times())
            sim.run(until_ns=(spec.lead_s + spec.span_s) * NSEC)
        trace.logs = {name: p.stderr.decode(errors="replace") for name, p in progs.items()}
    finally:
        shutil.rmtree(d, ignore_errors=True)
        server.close()
    return trace


def run_real(mode: str, spec: RunSpec | None = None) -> LeapTrace:
    """The real chronyd (client, `leapsecmode mode`) behind the leap-announcing model server."""
    spec = spec or RunSpec()
    binary = _chronyd()

    def attach(sim: Simulation, host: Host, _net: Network, d: Path) -> dict[str, Any]:
        conf = _client_conf(d, SERVER, mode, spec)
        cli = host.create_namespace("client")
        return {"client": sim.attach(cli, chronyd_command(binary, conf), address=CLIENT,
                                     cwd=d, stdout=CAPTURE, stderr=CAPTURE)}

    return _simulate(spec, mode, attach)


def run_smear(spec: RunSpec | None = None, smoothtime: Smoothtime | None = None) -> LeapTrace:
    """A smearing chronyd server (smoothtime, leapsecmode slew) and a chronyd client."""
    spec = spec or RunSpec(lead_s=60, span_s=1800, poll=2, fine_to_s=0)
    binary = _chronyd()
    smooth = smoothtime or Smoothtime()

    def attach(sim: Simulation, host: Host, _net: Network, d: Path) -> dict[str, Any]:
        source = chrony_client_conf(SERVER, d, minpoll=spec.poll, maxpoll=spec.poll,
                                    leapsecmode="slew", log=())
        extra = [line for line in source.splitlines()[1:]
                 if line.split()[0] in ("server", "makestep")]
        smear_text = chrony_server_conf(d, leapsecmode="slew", leapsectz=None,
                                        smoothtime=smooth, extra=extra)
        smear_text = smear_text.replace("local stratum 1\n", "")
        smear_conf = _write(d / "smear.conf", smear_text.replace(
            f"driftfile {d / 'chronyd.drift'}", f"driftfile {d / 'smear.drift'}").replace(
            f"pidfile {d / 'chronyd.pid'}", f"pidfile {d / 'smear.pid'}"))
        client_conf = _client_conf(d, SMEAR, "slew", spec)
        mid, cli = host.create_namespace("smear"), host.create_namespace("client")
        kw: dict[str, Any] = {"cwd": d, "stdout": CAPTURE, "stderr": CAPTURE}
        return {"smear": sim.attach(mid, chronyd_command(binary, smear_conf), address=SMEAR,
                                    **kw),
                "client": sim.attach(cli, chronyd_command(binary, client_conf),
                                     address=CLIENT, **kw)}

    return _simulate(spec, "smear", attach)


def run_model(mode: str, spec: RunSpec | None = None) -> LeapTrace:
    """`ChronyClient(leapsecmode=mode)` on the same start, path and polling interval
    (`rtcsync` as the real client's configuration lines say)."""
    spec = spec or RunSpec()
    host = Host(realtime_ns=spec.start_unix * NSEC)
    cli = host.create_namespace("client")
    client = ChronyClient(poll_exp=spec.poll, leapsecmode=mode,
                          rtcsync="rtcsync" in spec.client_extra)
    daemon = NtpDaemon(cli, client, ReferenceServer(leap=_Leap(LEAP_2016, 1)), spec.path,
                       seed=spec.seed, epoch_unix=spec.start_unix)
    trace = LeapTrace(mode, LEAP_2016)
    _sampler(host, cli, spec.start_unix, trace, spec.times())
    daemon.start()
    host.run_until((spec.lead_s + spec.span_s) * NSEC)
    return trace


@dataclass(frozen=True)
class _Leap:
    unix: int
    sign: int


__all__ = ["LEAP_2016", "LeapSample", "LeapTrace", "RunSpec", "run_model", "run_real",
           "run_smear", "sample_times", "true_utc_ns"]
