/* Timer expiries on a namespace clock, as a plain program sees them.
 *
 * Prints one line per expiry: "KIND k deadline now overrun".  KIND is
 *   sleep  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) to t0 + k*P
 *   posix  a periodic SIGEV_SIGNAL timer_create timer, first expiry t0 + P
 *   step   an absolute CLOCK_REALTIME periodic timer; the clock is stepped forward
 *          STEP_PERIODS periods and a half past its first expiry
 *   tfd    a periodic timerfd read after sleeping past several periods (overrun = ticks - 1)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define P 7000123LL /* period, ns: not a multiple of a tick */
#define N 6
#define STEP_PERIODS 3

static int64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec ts_of(int64_t ns)
{
    struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
    return ts;
}

static volatile sig_atomic_t nfired;
static int64_t at[N];
static int ovr[N];
static clockid_t sig_clock = CLOCK_MONOTONIC;

static void on_timer(int sig, siginfo_t *si, void *ctx)
{
    (void)sig; (void)ctx;
    if (nfired < N) {
        at[nfired] = now_ns(sig_clock);
        ovr[nfired] = si->si_overrun;
    }
    nfired++;
}

static void sleep_until(int64_t deadline)
{
    struct timespec ts = ts_of(deadline);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static timer_t make_timer(clockid_t c)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN;
    timer_t t;
    if (timer_create(c, &sev, &t))
        perror("timer_create");
    return t;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_timer;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN, &sa, NULL);

    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    for (int k = 1; k <= N; k++) {
        sleep_until(t0 + k * P);
        printf("sleep %d %lld %lld 0\n", k, (long long)(t0 + k * P),
               (long long)now_ns(CLOCK_MONOTONIC));
    }

    timer_t t = make_timer(CLOCK_MONOTONIC);
    t0 = now_ns(CLOCK_MONOTONIC);
    struct itimerspec its = {ts_of(P), ts_of(t0 + P)};
    timer_settime(t, TIMER_ABSTIME, &its, NULL);
    while (nfired < N)
        pause();
    timer_delete(t);
    for (int k = 0; k < N; k++)
        printf("posix %d %lld %lld %d\n", k + 1, (long long)(t0 + (k + 1) * P),
               (long long)at[k], ovr[k]);

    nfired = 0;
    sig_clock = CLOCK_REALTIME;
    timer_t rt = make_timer(CLOCK_REALTIME);
    int64_t base = now_ns(CLOCK_REALTIME);
    struct itimerspec abs = {ts_of(P), ts_of(base + P)};
    timer_settime(rt, TIMER_ABSTIME, &abs, NULL);
    struct timespec step = ts_of(base + P + STEP_PERIODS * P + P / 2);
    if (clock_settime(CLOCK_REALTIME, &step))
        perror("clock_settime");
    while (nfired < 1)
        pause();
    timer_delete(rt);
    printf("step 1 %lld %lld %d\n", (long long)(base + P), (long long)at[0], ovr[0]);

    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    t0 = now_ns(CLOCK_MONOTONIC);
    struct itimerspec tfs = {ts_of(P), ts_of(t0 + P)};
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &tfs, NULL);
    int64_t seen = 0;
    for (int k = 1; k <= 4; k++) {
        /* sleep past k periods more (plus a half), then read the expiry count */
        sleep_until(t0 + (seen + k) * P + P / 2);
        uint64_t ticks = 0;
        if (read(fd, &ticks, sizeof ticks) != sizeof ticks)
            perror("read");
        seen += (int64_t)ticks;
        printf("tfd %lld %lld %lld %lld\n", (long long)seen, (long long)(t0 + seen * P),
               (long long)now_ns(CLOCK_MONOTONIC), (long long)ticks - 1);
    }
    close(fd);
    return 0;
}
