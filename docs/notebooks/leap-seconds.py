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
# # Notebook: the 2016 leap second, one namespace per policy
#
# This notebook is the hands-on companion of
# [Leap seconds: step vs every smear](../../tutorials/leap-seconds/).  Its source is a plain
# Python file in the repository (`docs/notebooks/leap-seconds.py`, jupytext's percent format):
# open it in Jupyter with jupytext installed, change the parameters in the next cell and run
# it again.  The site runs it from top to bottom while it builds, so the pictures below come
# from the engine as it is today.
#
# One host, one counter, one namespace per leap policy.  `step` is the kernel's own leap
# (`STA_INS`, handled by `second_overflow`); every other namespace is steered through
# adjtimex by `tk_core.policy.follow` so that its REALTIME follows a published smear.

# %%
POLICIES = ["utc-sls", "ntpd-slew", "chrony-slew", "windows"]
HOURS_BEFORE = 1         # the host starts this long before the leap
WINDOW_S = 2             # the zoom: seconds either side of 23:59:60
STEP_MS = 20             # how often the zoom reads the clocks
SAMPLE_S = 60            # how often the long view reads the clocks

# %%
from ntp import ADJ_STATUS, STA_INS, LeapTable, Timex
from tk_core import CLOCK_REALTIME, Clocksource, Host
from tk_core.figures import show, subplots
from tk_core.policy import follow

NSEC = 1_000_000_000
LEAP = LeapTable.load().next_leap(1_480_000_000)      # 2017-01-01T00:00:00Z, +1 s
START = LEAP.unix - HOURS_BEFORE * 3600
host = Host(clocksource=Clocksource(2_000_000_000, 64, name="tsc"), hz=250,
            realtime_ns=START * NSEC, tai_offset=36)
stepping = host.create_namespace("step")
stepping.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
clocks = {"step": stepping}
for policy in POLICIES:
    clocks[policy] = follow(host.create_namespace(policy), policy, leap=LEAP,
                            epoch_unix=START).ns


def utc_label_ns(true_unix_ns: int) -> int:
    """POSIX UTC at a true instant: the inserted second is written as 23:59:59 again."""
    return true_unix_ns if true_unix_ns < LEAP.unix * NSEC else true_unix_ns - NSEC


def offsets_now() -> dict[str, float]:
    """REALTIME − UTC of every namespace, in seconds, at the host's present instant."""
    utc = utc_label_ns(START * NSEC + host.true_ns)
    return {name: (ns.clock_gettime_ns(CLOCK_REALTIME) - utc) / NSEC
            for name, ns in clocks.items()}


# %% [markdown]
# ## The long view: from an hour before the leap to an hour after

# %%
LEAP_TRUE_S = LEAP.unix - START        # true seconds from the start to the start of 23:59:60
long_t, long_off = [], []
for second in range(0, LEAP_TRUE_S + 3600 + 1, SAMPLE_S):
    if second >= LEAP_TRUE_S - WINDOW_S:
        break                          # the zoom below takes over from here
    host.run_until(second * NSEC)
    long_t.append((second - LEAP_TRUE_S) / 3600)
    long_off.append(offsets_now())

# %% [markdown]
# ## The zoom: every few milliseconds around the inserted second

# %%
zoom_ms = list(range(-WINDOW_S * 1000, (WINDOW_S + 1) * 1000 + 1, STEP_MS))
zoom_off = []
for ms in zoom_ms:
    host.run_until(LEAP_TRUE_S * NSEC + ms * 1_000_000)
    zoom_off.append(offsets_now())
for second in range(LEAP_TRUE_S + WINDOW_S + 60, LEAP_TRUE_S + 3600 + 1, SAMPLE_S):
    host.run_until(second * NSEC)
    long_t.append((second - LEAP_TRUE_S) / 3600)
    long_off.append(offsets_now())

assert max(abs(row["step"]) for row in zoom_off) < 1e-6      # the step keeps POSIX UTC
assert all(abs(v) <= 1.0 + 1e-6 for row in long_off + zoom_off for v in row.values())

# %%
fig, ax = subplots(figsize=(9, 4.2))
for name in clocks:
    ax.plot(long_t, [row[name] for row in long_off], label=name, lw=1.5)
ax.axvline(0, color="grey", ls=":", lw=1)
ax.set_xlabel("hours from the leap")
ax.set_ylabel("REALTIME − UTC (s)")
ax.set_title(f"every {SAMPLE_S} s, {HOURS_BEFORE} h before to 1 h after")
ax.legend(ncol=3, fontsize=8)
show(fig)

# %%
fig, ax = subplots(figsize=(9, 4.2))
for name in clocks:
    ax.plot([ms / 1000 for ms in zoom_ms], [row[name] for row in zoom_off], label=name,
            lw=1.5, drawstyle="steps-post" if name == "step" else None)
ax.axvspan(0, 1, color="grey", alpha=0.15, lw=0)
ax.set_xlabel("true seconds from the start of 23:59:60 (shaded)")
ax.set_ylabel("REALTIME − UTC (s)")
ax.set_title(f"±{WINDOW_S} s around the leap, every {STEP_MS} ms")
ax.legend(ncol=3, fontsize=8)
show(fig)

# %% [markdown]
# ## What to try
#
# * Add the day-long smears, `"linear-24h"` and `"cosine"`, to `POLICIES` with
#   `HOURS_BEFORE = 13` (they start at noon; the run then takes about a minute).
# * Add `"fbclock"` or `"chrony-quadratic"`: both start at the leap and take many hours to
#   come back, so the last hour shows only their start.
# * Set `STEP_MS = 1` and `WINDOW_S = 1` to see `windows` (the last two seconds before
#   midnight at half speed) in detail.
