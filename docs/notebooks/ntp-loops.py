# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Notebook: step responses of the kernel's PLL and FLL
#
# The hands-on companion of [NTP in the kernel](../../tutorials/ntp/).  Its source is a plain
# Python file in the repository (`docs/notebooks/ntp-loops.py`, jupytext's percent format):
# open it in Jupyter with jupytext installed, change the parameters and run it again.  The
# site runs it from top to bottom while it builds.
#
# Two experiments, each in namespaces of one host:
#
# 1. **A phase step.**  One `ADJ_OFFSET` with `STA_PLL`; `second_overflow` slews
#    `time_offset >> (SHIFT_PLL + constant)` a second, so what is left decays geometrically.
# 2. **A frequency step.**  The host's oscillator is off by `ERROR_PPM`; a daemon measures the
#    offset every `POLL_S` seconds and hands it to the kernel, with and without `STA_FLL`.

# %%
PHASE_STEP_NS = 20_000_000      # experiment 1: a 20 ms phase error
CONSTANTS = (0, 1, 2, 3, 4)
PHASE_RUN_S = 300
ERROR_PPM = 15                  # experiment 2: the oscillator runs 15 ppm fast
POLL_S = 256                    # poll interval; the time constant matched to it below
FREQ_RUN_S = 3 * 3600

# %%
from ntp import ADJ_NANO, ADJ_OFFSET, ADJ_STATUS, ADJ_TIMECONST, STA_FLL, STA_PLL, Timex
from tk_core import CLOCK_REALTIME, Clocksource, Host
from tk_core.figures import show, subplots

NSEC = 1_000_000_000
EPOCH = 1_700_000_000
HZ = 250
SHIFT_PLL = 2


def read_back(ns) -> Timex:
    tx = Timex()
    ns.adjtimex(tx)
    return tx


# %% [markdown]
# ## 1. A phase step

# %%
host = Host(hz=HZ, realtime_ns=EPOCH * NSEC)
loops = {tc: host.create_namespace(f"tc{tc}") for tc in CONSTANTS}
for tc, ns in loops.items():
    ns.adjtimex(Timex(modes=ADJ_STATUS | ADJ_NANO | ADJ_TIMECONST | ADJ_OFFSET,
                      status=STA_PLL, constant=tc, offset=PHASE_STEP_NS))
pending = {tc: [PHASE_STEP_NS] for tc in CONSTANTS}
host.run_for(NSEC // 2)                 # read half-way between the clock's second boundaries
for _ in range(PHASE_RUN_S):
    host.run_for(NSEC)
    for tc, ns in loops.items():
        pending[tc].append(read_back(ns).offset)

# the kernel's recurrence in plain integers; the readback after k + 1/2 seconds must be it
for tc in CONSTANTS:
    time_offset = (PHASE_STEP_NS << 32) // HZ
    predicted = [PHASE_STEP_NS]
    for _ in range(PHASE_RUN_S):
        time_offset -= time_offset >> (SHIFT_PLL + tc)
        predicted.append((time_offset * HZ) >> 32)
    assert pending[tc][1:] == predicted[1:], tc

# %%
fig, ax = subplots(figsize=(8, 4))
for tc in CONSTANTS:
    seconds = [0] + [k + 0.5 for k in range(PHASE_RUN_S)]
    ax.semilogy(seconds, [max(v, 1) / 1e6 for v in pending[tc]],
                label=f"constant {tc}: τ ≈ {4 << tc} s")
ax.set_xlabel("seconds after ADJ_OFFSET")
ax.set_ylabel("offset still pending (ms, log)")
ax.set_title(f"PLL: a {PHASE_STEP_NS / 1e6:.0f} ms phase step at each time constant")
ax.legend()
show(fig)

# %% [markdown]
# Each line is straight on the log scale: the same fraction, 1/2^(2 + constant), goes every
# second.  The fast loops stop once `time_offset >> (2 + constant)` is zero.
#
# ## 2. A frequency step

# %%
TC = max(0, POLL_S.bit_length() - 1 - 4)        # poll = 2^(constant + 4) s, as ntpd pairs them
tsc = Clocksource(3_000_000_000, 64, error_ppm=ERROR_PPM, name="tsc")
host = Host(clocksource=tsc, hz=HZ, realtime_ns=EPOCH * NSEC)
DAEMONS = {"PLL": STA_PLL, "PLL + FLL": STA_PLL | STA_FLL}
daemons = {name: host.create_namespace(name.replace(" + ", "-")) for name in DAEMONS}
for name, status in DAEMONS.items():
    daemons[name].adjtimex(Timex(modes=ADJ_STATUS | ADJ_NANO | ADJ_TIMECONST,
                                 status=status, constant=TC))
trace = {name: [] for name in DAEMONS}       # (minutes, offset ms, freq ppm)
for second in range(1, FREQ_RUN_S + 1):
    host.run_for(NSEC)
    if second % POLL_S and second % 60:
        continue
    utc_ns = EPOCH * NSEC + host.true_ns
    for name, ns in daemons.items():
        offset = utc_ns - ns.clock_gettime_ns(CLOCK_REALTIME)
        if second % POLL_S == 0:
            ns.adjtimex(Timex(modes=ADJ_OFFSET, offset=offset))
        if second % 60 == 0:
            trace[name].append((second / 60, -offset / 1e6, read_back(ns).freq / 65536))

final = {name: rows[-1][2] for name, rows in trace.items()}
assert all(abs(f + ERROR_PPM) < 0.5 for f in final.values()), final   # both locked
print(f"time constant {TC} for a {POLL_S} s poll; final frequency: "
      + ", ".join(f"{name} {f:+.3f} ppm" for name, f in final.items()))

# %%
fig, (ax_f, ax_o) = subplots(2, 1, figsize=(8, 6), sharex=True)
for name, rows in trace.items():
    ax_f.plot([r[0] for r in rows], [r[2] for r in rows], label=name)
    ax_o.plot([r[0] for r in rows], [r[1] for r in rows], label=name)
ax_f.axhline(-ERROR_PPM, color="grey", ls=":", lw=1)
ax_f.set_ylabel("time_freq read back (ppm)")
ax_f.legend()
ax_o.axhline(0, color="grey", lw=0.5)
ax_o.set_ylabel("REALTIME − UTC (ms)")
ax_o.set_xlabel("minutes")
fig.suptitle(f"a {ERROR_PPM} ppm oscillator error, polled every {POLL_S} s")
show(fig)

# %% [markdown]
# ## What to try
#
# * `POLL_S = 1024` (time constant 6): the PLL alone becomes very slow, the FLL term much
#   more useful.  Below 256 s (`MINSEC`) the kernel ignores `STA_FLL` altogether.
# * A negative `ERROR_PPM`, or one beyond ±500 ppm: the kernel clamps `time_freq` to
#   ±500 ppm (`MAXFREQ_SCALED`), and the clock can then never catch up.
