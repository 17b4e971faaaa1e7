/* A small program the shim tests run on simulated namespaces.
 *
 *   shim_probe timers          clock_nanosleep(TIMER_ABSTIME), a periodic SIGEV_SIGNAL timer,
 *                              an overrun after a REALTIME step, timerfd read counts
 *   shim_probe adjtimex        one adjtimex per stdin line of 21 numbers; prints the results
 *   shim_probe random          getrandom/getentropy bytes and clock readings after sleeps
 *   shim_probe steer           clock_settime(+1000 s) and adjtimex(ADJ_OFFSET|ADJ_FREQUENCY)
 *   shim_probe read            prints REALTIME, MONOTONIC and adjtimex(0)'s freq and status
 *   shim_probe sleeploop N     N one-second sleeps; prints the MONOTONIC span
 *   shim_probe alarm           alarm(2) with a SIGALRM handler, and poll with a timeout
 *   shim_probe udpecho PORT N  answer N UDP datagrams on PORT (recvfrom, sendto)
 *   shim_probe udpping IP PORT N   N pings: sendto, poll, recvmsg with SO_TIMESTAMPNS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

static int64_t now_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec ts_of(int64_t ns)
{
    struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
    return ts;
}

static volatile sig_atomic_t fired, last_overrun, last_timerid;

static void on_timer(int sig, siginfo_t *si, void *ctx)
{
    (void)sig; (void)ctx;
    fired++;
    last_overrun = si->si_overrun;
    last_timerid = si->si_timerid;
}

/* Sleep to an absolute MONOTONIC deadline, riding out EINTR from timer signals. */
static void sleep_until(int64_t deadline)
{
    struct timespec ts = ts_of(deadline);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int timers(void)
{
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    int64_t target = t0 + 1500000123;
    struct timespec ts = ts_of(target);
    int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    int64_t woke = now_ns(CLOCK_MONOTONIC);
    printf("abs-mono r=%d late=%lld\n", r, (long long)(woke - target));

    int64_t rt_target = now_ns(CLOCK_REALTIME) + 250000000;
    ts = ts_of(rt_target);
    r = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL);
    printf("abs-real r=%d late=%lld\n", r, (long long)(now_ns(CLOCK_REALTIME) - rt_target));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_timer;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN, &sa, NULL);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN;
    timer_t t;
    if (timer_create(CLOCK_MONOTONIC, &sev, &t)) {
        perror("timer_create");
        return 1;
    }
    struct itimerspec its = {{0, 10000000}, {0, 10000000}};
    int64_t start = now_ns(CLOCK_MONOTONIC);
    timer_settime(t, 0, &its, NULL);
    sleep_until(start + 1000000000 + 5000000);
    printf("periodic fired=%d overrun=%d getoverrun=%d\n", (int)fired, (int)last_overrun,
           timer_getoverrun(t));
    struct itimerspec cur;
    timer_gettime(t, &cur);
    printf("periodic remaining=%ld interval=%ld\n", cur.it_value.tv_nsec, cur.it_interval.tv_nsec);
    timer_delete(t);

    /* an absolute REALTIME periodic timer, then the clock stepped past 11 of its periods */
    timer_t rt;
    timer_create(CLOCK_REALTIME, &sev, &rt);
    int64_t base = now_ns(CLOCK_REALTIME);
    struct itimerspec abs = {{0, 100000000}, ts_of(base + 1000000000)};
    timer_settime(rt, TIMER_ABSTIME, &abs, NULL);
    fired = 0;
    struct timespec step = ts_of(base + 2050000000);
    if (clock_settime(CLOCK_REALTIME, &step))
        perror("clock_settime");
    sleep_until(now_ns(CLOCK_MONOTONIC) + 1000000);
    printf("stepped fired=%d overrun=%d getoverrun=%d\n", (int)fired, (int)last_overrun,
           timer_getoverrun(rt));
    timer_delete(rt);

    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    int64_t tstart = now_ns(CLOCK_MONOTONIC);
    struct itimerspec tfs = {{0, 100000000}, {0, 100000000}};
    timerfd_settime(fd, 0, &tfs, NULL);
    sleep_until(tstart + 1050000000);
    uint64_t ticks = 0;
    ssize_t n = read(fd, &ticks, sizeof ticks);
    printf("timerfd n=%zd ticks=%llu\n", n, (unsigned long long)ticks);
    n = read(fd, &ticks, sizeof ticks);
    printf("timerfd blocking ticks=%llu at=%lld\n", (unsigned long long)ticks,
           (long long)(now_ns(CLOCK_MONOTONIC) - tstart));
    struct pollfd p = {fd, POLLIN, 0};
    int pr = poll(&p, 1, 1000);
    printf("timerfd poll=%d revents=%d at=%lld\n", pr, p.revents,
           (long long)(now_ns(CLOCK_MONOTONIC) - tstart));
    read(fd, &ticks, sizeof ticks);
    pr = poll(&p, 1, 50);
    printf("timerfd poll-timeout=%d at=%lld\n", pr, (long long)(now_ns(CLOCK_MONOTONIC) - tstart));
    close(fd);
    return 0;
}

static int adjtimex_lines(void)
{
    long long v[21];
    while (1) {
        for (int i = 0; i < 21; i++)
            if (scanf("%lld", &v[i]) != 1)
                return 0;
        struct timex tx;
        memset(&tx, 0, sizeof tx);
        tx.modes = (unsigned)v[0]; tx.offset = v[1]; tx.freq = v[2]; tx.maxerror = v[3];
        tx.esterror = v[4]; tx.status = (int)v[5]; tx.constant = v[6]; tx.precision = v[7];
        tx.tolerance = v[8]; tx.time.tv_sec = v[9]; tx.time.tv_usec = v[10]; tx.tick = v[11];
        tx.ppsfreq = v[12]; tx.jitter = v[13]; tx.shift = (int)v[14]; tx.stabil = v[15];
        tx.jitcnt = v[16]; tx.calcnt = v[17]; tx.errcnt = v[18]; tx.stbcnt = v[19];
        tx.tai = (int)v[20];
        errno = 0;
        int r = adjtimex(&tx);
        printf("%d %d %u %ld %ld %ld %ld %d %ld %ld %ld %ld %ld %ld %ld %ld %d %ld %ld %ld %ld %ld %d\n",
               r, r < 0 ? errno : 0, tx.modes, tx.offset, tx.freq, tx.maxerror, tx.esterror,
               tx.status, tx.constant, tx.precision, tx.tolerance, (long)tx.time.tv_sec,
               (long)tx.time.tv_usec, tx.tick, tx.ppsfreq, tx.jitter, tx.shift, tx.stabil,
               tx.jitcnt, tx.calcnt, tx.errcnt, tx.stbcnt, tx.tai);
        fflush(stdout);
    }
}

static int random_bytes(void)
{
    unsigned char buf[40];
    getrandom(buf, sizeof buf, 0);
    for (size_t i = 0; i < sizeof buf; i++)
        printf("%02x", buf[i]);
    getentropy(buf, 16);
    for (size_t i = 0; i < 16; i++)
        printf("%02x", buf[i]);
    printf("\n");
    for (int i = 0; i < 3; i++) {
        usleep(333333);
        printf("%lld %lld\n", (long long)now_ns(CLOCK_REALTIME), (long long)now_ns(CLOCK_MONOTONIC));
    }
    return 0;
}

static int steer(void)
{
    struct timespec ts = ts_of(now_ns(CLOCK_REALTIME) + 1000000000000LL);
    int r1 = clock_settime(CLOCK_REALTIME, &ts);
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_OFFSET | ADJ_FREQUENCY;
    tx.offset = 250000;
    tx.freq = 100 << 16;
    int r2 = adjtimex(&tx);
    printf("settime=%d adjtimex=%d errno=%d\n", r1, r2, r2 < 0 ? errno : 0);
    return 0;
}

static int read_state(void)
{
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    int r = adjtimex(&tx);
    printf("%lld %lld %d %ld %d\n", (long long)now_ns(CLOCK_REALTIME),
           (long long)now_ns(CLOCK_MONOTONIC), r, tx.freq, tx.status);
    return 0;
}

static int sleeploop(int n)
{
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < n; i++)
        sleep(1);
    printf("slept %lld\n", (long long)(now_ns(CLOCK_MONOTONIC) - t0));
    return 0;
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

static int alarm_test(void)
{
    signal(SIGALRM, on_alarm);
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    alarm(2);
    unsigned left = alarm(3);
    int r = pause();
    printf("alarm left=%u pause=%d errno=%d alarms=%d at=%lld\n", left, r, errno, (int)alarms,
           (long long)(now_ns(CLOCK_MONOTONIC) - t0));
    int64_t t1 = now_ns(CLOCK_MONOTONIC);
    int pr = poll(NULL, 0, 1500);
    printf("poll=%d after=%lld\n", pr, (long long)(now_ns(CLOCK_MONOTONIC) - t1));
    return 0;
}

static int udpecho(int port, int n)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me = {0};
    me.sin_family = AF_INET;
    me.sin_port = htons((uint16_t)port);
    if (bind(s, (struct sockaddr *)&me, sizeof me)) {
        perror("bind");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char buf[512];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t len = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (len < 0) {
            perror("recvfrom");
            return 1;
        }
        sendto(s, buf, (size_t)len, 0, (struct sockaddr *)&from, fl);
    }
    close(s);
    return 0;
}

static int udpping(const char *ip, int port, int n)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int on = 1;
    setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    struct sockaddr_in to = {0};
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &to.sin_addr);
    connect(s, (struct sockaddr *)&to, sizeof to);
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &ml);
    char mine[32];
    inet_ntop(AF_INET, &me.sin_addr, mine, sizeof mine);
    printf("local %s\n", mine);
    for (int i = 0; i < n; i++) {
        int64_t sent = now_ns(CLOCK_REALTIME);
        char msg[16];
        snprintf(msg, sizeof msg, "ping %d", i);
        send(s, msg, strlen(msg), 0);
        struct pollfd p = {s, POLLIN, 0};
        int pr = poll(&p, 1, 1000);
        char buf[64] = {0};
        char ctl[256];
        struct iovec iov = {buf, sizeof buf - 1};
        struct msghdr mh = {0};
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl;
        mh.msg_controllen = sizeof ctl;
        ssize_t len = recvmsg(s, &mh, 0);
        int64_t stamp = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof ts);
                stamp = ts.tv_sec * 1000000000LL + ts.tv_nsec;
            }
        printf("poll=%d len=%zd %s rtt=%lld\n", pr, len, buf, (long long)(stamp - sent));
        usleep(100000);
    }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "timers"))
        return timers();
    if (!strcmp(mode, "adjtimex"))
        return adjtimex_lines();
    if (!strcmp(mode, "random"))
        return random_bytes();
    if (!strcmp(mode, "steer"))
        return steer();
    if (!strcmp(mode, "read"))
        return read_state();
    if (!strcmp(mode, "sleeploop"))
        return sleeploop(argc > 2 ? atoi(argv[2]) : 10);
    if (!strcmp(mode, "alarm"))
        return alarm_test();
    if (!strcmp(mode, "udpecho") && argc > 3)
        return udpecho(atoi(argv[2]), atoi(argv[3]));
    if (!strcmp(mode, "udpping") && argc > 4)
        return udpping(argv[2], atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: shim_probe MODE\n");
    return 2;
}
