"""Daemons in a host checkpoint: leap followers (mid-smear) and NTP client/server models.

Each namespace lists the daemons acting on it (`ns.agents`); the checkpoint carries them in
that order with their whole state: a follower's smear, gain estimate, last update and
records; an NTP daemon's client (its sample history and frequency estimates), the server it
polls (leap, smear), the network path and the path's random generator (Mersenne Twister
state, so the delays drawn after a restore are the ones the original would have drawn).
What a daemon has pending is in the queue as `{"kind": "deferred", "agent": i, "action":
name, "args": [...]}` — a packet in flight, the follower's next update, its leap-bit arm —
and its timers are ordinary handles (`_timers`) whose callbacks name the daemon's methods.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
from typing import Any, cast

from gmpy2 import mpq

from ntp.discipline import ChronyClient, NtpClient, NtpdClient, PathModel, ReferenceServer, Sample
from ntp.leap import LeapEvent
from ntp.polling import ChronyPoll, NtpdPoll
from ntp.smear import SHAPES, BoundSmear, Shape

from ..daemon import Deferred, NtpDaemon
from ..host import Host
from ..namespace import TimekeeperNamespace
from ..policy import Follower
from ._format import CheckpointError, _get, _q, _rational
from ._timers import Handle, Refs
from ._validate import S32, S64, U64, choice, fail, int_in, nonempty

#: What a pending action of each daemon type may be, with its number of int arguments.
ACTIONS = {
    "ntp_daemon": {"_at_server": 2, "_at_client": 3},
    "follower": {"_update": 0, "_set_leap_bits": 1},
}
_SHAPE_CLASSES: dict[str, type[Shape]] = {}
for _factory in SHAPES.values():
    _cls = cast("type[Shape]", getattr(_factory, "func", _factory))  # a class or its partial
    _SHAPE_CLASSES[_cls.__name__] = _cls
_MT_WORDS = 624


def agent_kind(agent: Any) -> str:
    if type(agent) is NtpDaemon:
        return "ntp_daemon"
    if type(agent) is Follower:
        return "follower"
    raise CheckpointError(f"cannot checkpoint a daemon of type {type(agent).__name__}")


# -- values -----------------------------------------------------------------------------------


def _opt_q(value: Any) -> str | None:
    return None if value is None else _q(value)


def _smear_state(b: BoundSmear) -> dict[str, Any]:
    shape = b.shape
    if _SHAPE_CLASSES.get(type(shape).__name__) is not type(shape):
        raise CheckpointError(f"cannot checkpoint a smear of the unregistered shape "
                              f"{type(shape).__name__}")
    params = {f.name: (v if isinstance(v, bool) else _q(v))
              for f in dataclasses.fields(shape) for v in [getattr(shape, f.name)]}
    return {"shape": type(shape).__name__, "params": params, "leap": int(b.leap), "sign": b.sign}


def _smear(d: Any, path: str) -> BoundSmear:
    if not isinstance(d, dict):
        raise fail(path, "an object", type(d).__name__)
    cls = _SHAPE_CLASSES.get(choice(d, "shape", path, tuple(_SHAPE_CLASSES)))
    assert cls is not None
    params = _get(d, "params", dict, path)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if set(params) != set(fields):
        raise fail(f"{path}.params", "the parameters " + ", ".join(sorted(fields)), sorted(params))
    values = {k: params[k] if isinstance(params[k], bool) else _rational(params, k,
              f"{path}.params") for k in fields}
    try:
        shape = cls(**values)
        return shape.for_leap(int_in(d, "leap", path, *S64), int_in(d, "sign", path, -1, 1))
    except (TypeError, ValueError) as err:
        raise fail(path, f"a valid smear ({err})", show=False) from None


def _leap_state(leap: Any) -> dict[str, Any] | None:
    if leap is None:
        return None
    if not isinstance(leap, LeapEvent):
        raise CheckpointError(f"cannot checkpoint a server leap of type {type(leap).__name__}")
    return {"unix": leap.unix, "sign": leap.sign, "day": leap.day.isoformat(),
            "tai_minus_utc_before": leap.tai_minus_utc_before,
            "tai_minus_utc_after": leap.tai_minus_utc_after}


def _leap(d: Any, path: str) -> LeapEvent | None:
    if d is None:
        return None
    if not isinstance(d, dict):
        raise fail(path, "an object or null", type(d).__name__)
    sign = int_in(d, "sign", path, -1, 1)
    if sign == 0:
        raise fail(f"{path}.sign", "+1 or -1", sign)
    try:
        day = datetime.date.fromisoformat(_get(d, "day", str, path))
    except ValueError:
        raise fail(f"{path}.day", "a date YYYY-MM-DD", d["day"]) from None
    return LeapEvent(int_in(d, "unix", path, *S64), sign, day,
                     int_in(d, "tai_minus_utc_before", path, *S32),
                     int_in(d, "tai_minus_utc_after", path, *S32))


def _pairs(d: Any, key: str, path: str, first: str) -> list[tuple[Any, mpq]]:
    """A list of [x, y] pairs: x an int ns (first='int') or a rational; y a rational."""
    items = _get(d, key, list, path)
    out: list[tuple[Any, mpq]] = []
    for i, item in enumerate(items):
        where = f"{path}.{key}[{i}]"
        if not isinstance(item, list) or len(item) != 2:
            raise fail(where, "a pair [x, y]", item)
        box = {"x": item[0], "y": item[1]}
        x = int_in(box, "x", where, *S64) if first == "int" else _rational(box, "x", where)
        out.append((x, _rational(box, "y", where)))
    return out


def _q_pairs(pairs: list[tuple[Any, Any]], first: str = "q") -> list[list[Any]]:
    return [[x if first == "int" else _q(x), _q(y)] for x, y in pairs]


def _opt(d: Any, key: str, path: str) -> Any:
    if key not in d:
        raise CheckpointError(f"checkpoint field {path}.{key} is missing")
    return d[key]


# -- followers --------------------------------------------------------------------------------


def _follower_state(f: Follower) -> dict[str, Any]:
    last = None if f._last is None else [_q(f._last[0]), f._last[1], _q(f._last[2])]
    return {
        "policy": f.policy, "smear": _smear_state(f.bound), "epoch_unix": _q(f.epoch_unix),
        "update_interval_s": f.update_interval_s, "apply_leap_too": f.apply_leap_too,
        "tracking": _q_pairs(f.tracking), "warnings": list(f.warnings),
        "freq_set": _q_pairs(f.freq_set), "clamped": f.clamped, "gain": _opt_q(f._gain),
        "last": last, "tai0": f._tai0, "leap_bits": f._leap_bits,
    }


def _follower(ns: TimekeeperNamespace, d: dict[str, Any], path: str) -> Follower:
    f = Follower(ns, _get(d, "policy", str, path), _smear(d.get("smear"), f"{path}.smear"),
                 _rational(d, "epoch_unix", path),
                 int_in(d, "update_interval_s", path, 1, S64[1]),
                 _get(d, "apply_leap_too", bool, path))
    f.tracking = _pairs(d, "tracking", path, "q")
    warnings = _get(d, "warnings", list, path)
    if not all(isinstance(w, str) for w in warnings):
        raise fail(f"{path}.warnings", "a list of strings", warnings)
    f.warnings = list(warnings)
    f.freq_set = _pairs(d, "freq_set", path, "q")
    f.clamped = _get(d, "clamped", bool, path)
    f._gain = None if _opt(d, "gain", path) is None else _rational(d, "gain", path)
    last = _opt(d, "last", path)
    if last is not None:
        if not isinstance(last, list) or len(last) != 3:
            raise fail(f"{path}.last", "[true unix, REALTIME ns, frequency] or null", last)
        box = {"t": last[0], "ns": last[1], "f": last[2]}
        f._last = (_rational(box, "t", f"{path}.last"), int_in(box, "ns", f"{path}.last", *S64),
                   _rational(box, "f", f"{path}.last"))
    f._tai0 = int_in(d, "tai0", path, *S32)
    f._leap_bits = int_in(d, "leap_bits", path, 0, 0xFFFF)
    return f


# -- NTP daemons ------------------------------------------------------------------------------

_COMMON = ("poll_exp", "updates", "leap_pending")
_NTPD = ("slew_leap", "step_threshold_ns", "started")
_CHRONY_INT = ("makestep_ns", "makestep_limit", "corrtimeratio", "max_samples")
_CHRONY_Q = ("maxslewrate", "freq", "base_freq", "applied_ns")


def _client_state(c: NtpClient) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(c, k) for k in _COMMON}
    out["samples"] = [[s.local_ns, _q(s.offset_ns), s.delay_ns] for s in c.samples]
    out["minpoll"], out["maxpoll"] = c.minpoll, c.maxpoll
    out["poller"] = _poller_state(getattr(c, "poller", None))
    if type(c) is NtpdClient:
        return out | {"model": "ntpd"} | {k: getattr(c, k) for k in _NTPD}
    if type(c) is ChronyClient:
        return out | {"model": "chrony", "leapsecmode": c.leapsecmode,
                      "applied_at": c.applied_at, "corrected": _q_pairs(c.corrected, "int"),
                      "leap_slewing": c.leap_slewing, "leap_end_mono": c.leap_end_mono,
                      "dropped_near_leap": c.dropped_near_leap, "rtcsync": c.rtcsync} | {
            k: getattr(c, k) for k in _CHRONY_INT} | {k: _q(getattr(c, k)) for k in _CHRONY_Q}
    raise CheckpointError(f"cannot checkpoint an NTP client of type {type(c).__name__}")


def _client(d: Any, path: str) -> NtpClient:
    if not isinstance(d, dict):
        raise fail(path, "an object", type(d).__name__)
    model = choice(d, "model", path, ("ntpd", "chrony"))
    poll = int_in(d, "poll_exp", path, 0, 17, "a poll exponent in 0..17")
    # documents written before adaptive polling have no range: a fixed interval
    lo = poll if d.get("minpoll") is None else int_in(d, "minpoll", path, 0, poll)
    hi = poll if d.get("maxpoll") is None else int_in(d, "maxpoll", path, poll, 17)
    c: NtpClient
    if model == "ntpd":
        n = NtpdClient(poll, minpoll=lo, maxpoll=hi)
        n.slew_leap = _get(d, "slew_leap", bool, path)
        n.step_threshold_ns = int_in(d, "step_threshold_ns", path, 0, S64[1])
        n.started = _get(d, "started", bool, path)
        c = n
    else:
        ch = ChronyClient(poll, leapsecmode=choice(d, "leapsecmode", path,
                                                   ChronyClient.LEAPSECMODES),
                          minpoll=lo, maxpoll=hi)
        for k in _CHRONY_INT:
            setattr(ch, k, int_in(d, k, path, 0, S64[1]))
        for k in _CHRONY_Q:
            setattr(ch, k, _rational(d, k, path))
        if ch.maxslewrate <= 0:
            raise fail(f"{path}.maxslewrate", "a rate > 0", d["maxslewrate"])
        ch.applied_at = None if _opt(d, "applied_at", path) is None else int_in(
            d, "applied_at", path, *S64)
        ch.corrected = _pairs(d, "corrected", path, "int")
        ch.leap_slewing = _get(d, "leap_slewing", bool, path)
        ch.leap_end_mono = None if d.get("leap_end_mono") is None else int_in(
            d, "leap_end_mono", path, *S64)
        ch.dropped_near_leap = 0 if "dropped_near_leap" not in d else int_in(
            d, "dropped_near_leap", path, *U64)
        ch.rtcsync = True if "rtcsync" not in d else _get(d, "rtcsync", bool, path)
        c = ch
    _restore_poller(getattr(c, "poller", None), d.get("poller"), f"{path}.poller")
    c.updates = int_in(d, "updates", path, *U64)
    c.leap_pending = int_in(d, "leap_pending", path, 0, 2, "a leap indicator 0..2")
    c.samples = [_sample(s, f"{path}.samples[{i}]")
                 for i, s in enumerate(_get(d, "samples", list, path))]
    return c


def _poller_state(p: ChronyPoll | NtpdPoll | None) -> dict[str, Any] | None:
    if isinstance(p, ChronyPoll):
        return {"poll_exp": p.poll_exp, "score": _q(p.score)}
    if isinstance(p, NtpdPoll):
        return {"poll_exp": p.poll_exp, "jitter2": p.jitter2, "counter": p.counter,
                "last_offset": _q(p.last_offset)}
    return None


def _restore_poller(p: ChronyPoll | NtpdPoll | None, d: Any, path: str) -> None:
    """Adaptive-polling state; absent (older documents, fixed polling) keeps the fresh one."""
    if p is None or d is None:
        return
    if not isinstance(d, dict):
        raise fail(path, "an object or null", type(d).__name__)
    p.poll_exp = int_in(d, "poll_exp", path, p.minpoll, p.maxpoll)
    if isinstance(p, ChronyPoll):
        p.score = _rational(d, "score", path)
        if not -1 <= p.score <= 1:
            raise fail(f"{path}.score", "a poll score in -1..1", d["score"])
    else:
        p.jitter2 = int_in(d, "jitter2", path, 0, U64[1])
        p.counter = int_in(d, "counter", path, -30, 30)
        p.last_offset = _rational(d, "last_offset", path)


def _sample(s: Any, path: str) -> Sample:
    if not isinstance(s, list) or len(s) != 3:
        raise fail(path, "[local ns, offset, delay ns]", s)
    box = {"local_ns": s[0], "offset_ns": s[1], "delay_ns": s[2]}
    return Sample(int_in(box, "local_ns", path, *S64), _rational(box, "offset_ns", path),
                  int_in(box, "delay_ns", path, *S64))


def _rng_state(rng: random.Random) -> dict[str, Any]:
    version, words, gauss = rng.getstate()
    return {"version": version, "words": list(words),
            "gauss_next": None if gauss is None else float(gauss).hex()}


def _rng(d: Any, path: str) -> random.Random:
    if not isinstance(d, dict):
        raise fail(path, "an object", type(d).__name__)
    int_in(d, "version", path, 3, 3, "3 (Python's Mersenne Twister state)")
    words = _get(d, "words", list, path)
    if len(words) != _MT_WORDS + 1 or not all(
        isinstance(w, int) and not isinstance(w, bool) and 0 <= w < 1 << 32 for w in words
    ) or not 1 <= words[-1] <= _MT_WORDS or not any(words[:-1]):
        raise fail(f"{path}.words", f"{_MT_WORDS} 32-bit words, not all 0, and a position "
                   f"in 1..{_MT_WORDS}", show=False)
    gauss = _opt(d, "gauss_next", path)
    try:
        gauss_next = None if gauss is None else float.fromhex(_get(d, "gauss_next", str, path))
    except ValueError:
        raise fail(f"{path}.gauss_next", "a hex float or null", gauss) from None
    rng = random.Random()
    rng.setstate((3, tuple(words), gauss_next))
    return rng


def _daemon_state(a: NtpDaemon, refs: Refs) -> dict[str, Any]:
    def ref(t: Any) -> int:
        if id(t._entry) not in refs.index:
            raise CheckpointError(f"cannot checkpoint the NTP daemon of {a.ns.name!r}: one of "
                                  "its timers was deleted")
        return refs.of_entry(t._entry)

    s, p = a.server, a.path
    return {
        "client": _client_state(a.client),
        "server": {"leap": _leap_state(s.leap), "announce_s": s.announce_s,
                   "smear": None if s.smear is None else _smear_state(s.smear)},
        "path": {"delay_ns": p.delay_ns, "jitter_ns": p.jitter_ns,
                 "asymmetry_ns": p.asymmetry_ns, "loss": _q(p.loss)},
        "rng": _rng_state(a.rng), "epoch_unix": _q(a.epoch_unix), "polls": a.polls,
        "lost": a.lost, "poll_timer": ref(a._poll_timer),
        "leap_timer": None if a._leap_timer is None else ref(a._leap_timer),
        "leap_sign": a._leap_sign, "followups": [ref(t) for t in a._followups],
    }


def _daemon(ns: Any, d: dict[str, Any], path: str) -> NtpDaemon:
    a = NtpDaemon.__new__(NtpDaemon)
    a.ns, a.host = ns, ns.host
    a.client = _client(d.get("client"), f"{path}.client")
    server = _get(d, "server", dict, path)
    where = f"{path}.server"
    smear = None if _opt(server, "smear", where) is None else _smear(server["smear"],
                                                                      f"{where}.smear")
    a.server = ReferenceServer(_leap(_opt(server, "leap", where), f"{where}.leap"), smear,
                               int_in(server, "announce_s", where, 0, S64[1]))
    pd = _get(d, "path", dict, path)
    try:
        a.path = PathModel(int_in(pd, "delay_ns", f"{path}.path", 0, S64[1]),
                           int_in(pd, "jitter_ns", f"{path}.path", 0, S64[1]),
                           int_in(pd, "asymmetry_ns", f"{path}.path", *S64),
                           _rational(pd, "loss", f"{path}.path"))
    except ValueError as err:
        raise fail(f"{path}.path", f"a valid path model ({err})", show=False) from None
    a.rng = _rng(d.get("rng"), f"{path}.rng")
    a.epoch_unix = _rational(d, "epoch_unix", path)
    a.polls = int_in(d, "polls", path, *U64)
    a.lost = int_in(d, "lost", path, *U64)
    a._leap_sign = int_in(d, "leap_sign", path, -1, 1)
    a._leap_timer = None
    a._followups = []
    return a


def _wire_daemon(a: NtpDaemon, d: dict[str, Any], path: str, handles: list[Handle]) -> None:
    """Point a rebuilt daemon at its rebuilt timers (posix timers of its namespace)."""
    from ..posix_timers import PosixTimer

    def timer(box: Any, key: str, where: str) -> PosixTimer:
        n = len(handles)
        i = int_in(box, key, where, 0, n - 1, f"a handle index in 0..{n - 1}") if n else \
            int_in(box, key, where, 0, -1, "a handle (the checkpoint has none)")
        h = handles[i]
        if not isinstance(h, PosixTimer) or h.ns is not a.ns:
            raise fail(f"{where}.{key}", f"a POSIX timer of namespace {a.ns.name!r}", i)
        return h

    a._poll_timer = timer(d, "poll_timer", path)
    if _opt(d, "leap_timer", path) is not None:
        a._leap_timer = timer(d, "leap_timer", path)
    follow = _get(d, "followups", list, path)
    box = {str(i): v for i, v in enumerate(follow)}
    a._followups = [timer(box, str(i), f"{path}.followups") for i in range(len(follow))]


# -- the list ---------------------------------------------------------------------------------


def agents_state(refs: Refs) -> list[dict[str, Any]]:
    out = []
    for a in refs.agents:
        kind = agent_kind(a)
        body = _follower_state(a) if kind == "follower" else _daemon_state(a, refs)
        out.append({"type": kind, "namespace": a.ns.name} | body)
    return out


def restore_agents(host: Host, items: Any) -> tuple[list[Any], list[str]]:
    """Rebuild the daemons (their timers are wired by `wire_agents`, after the handles)."""
    path = "state.agents"
    if not isinstance(items, list):
        raise fail(path, "a list", type(items).__name__)
    agents, kinds = [], []
    for i, d in enumerate(items):
        where = f"{path}[{i}]"
        if not isinstance(d, dict):
            raise fail(where, "an object", type(d).__name__)
        kind = choice(d, "type", where, tuple(ACTIONS))
        name = nonempty(d, "namespace", where)
        ns = host.namespaces.get(name)
        if ns is None or (kind == "follower" and not isinstance(ns, TimekeeperNamespace)):
            want = "a timekeeper namespace" if kind == "follower" else "a namespace"
            raise fail(f"{where}.namespace", f"{want} of this checkpoint", name)
        if kind == "follower":
            assert isinstance(ns, TimekeeperNamespace)
            agent: Any = _follower(ns, d, where)
        else:
            agent = _daemon(ns, d, where)
        ns.agents.append(agent)
        agents.append(agent)
        kinds.append(kind)
    return agents, kinds


def wire_agents(items: list[Any], agents: list[Any], handles: list[Handle]) -> None:
    for i, (d, a) in enumerate(zip(items, agents, strict=True)):
        if isinstance(a, NtpDaemon):
            _wire_daemon(a, d, f"state.agents[{i}]", handles)


def deferred_state(entry: Deferred, refs: Refs) -> dict[str, Any] | None:
    """A queue record for a daemon's pending action, or None if it is not one."""
    owner = getattr(entry.call, "__self__", None)
    if owner is None or id(owner) not in refs.agent_index:
        return None
    name = entry.call.__name__
    if name not in ACTIONS[agent_kind(owner)] or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in entry.args
    ):
        return None
    return {"kind": "deferred", "key": entry.key, "agent": refs.agent_index[id(owner)],
            "action": name, "args": list(entry.args)}


def deferred(e: dict[str, Any], path: str, agents: list[Any], kinds: list[str]) -> Deferred:
    """The Deferred entry a queue record stands for (checked)."""
    n = len(agents)
    i = int_in(e, "agent", path, 0, n - 1, f"a daemon index in 0..{n - 1}") if n else \
        int_in(e, "agent", path, 0, -1, "a daemon (the checkpoint has none)")
    allowed = ACTIONS[kinds[i]]
    action = choice(e, "action", path, tuple(allowed))
    args = _get(e, "args", list, path)
    if len(args) != allowed[action]:
        raise fail(f"{path}.args", f"{allowed[action]} integer argument(s)", args)
    box = {str(j): a for j, a in enumerate(args)}
    values = tuple(int_in(box, str(j), f"{path}.args", *S64) for j in range(len(args)))
    return Deferred(getattr(agents[i], action), values)
