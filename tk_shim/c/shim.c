/* timekeepers preload library: forwards a program's time calls to one simulated namespace.
 *
 * A thin forwarder: every intercepted call becomes one fixed-size request on a Unix socket
 * and the Python server (tk_shim.server) answers with the engine's result.  No clock logic
 * lives here; the wire format is documented in tk_shim/protocol.py (keep both in step).
 *
 * Fail closed: the constructor connects and handshakes before main; on any failure the
 * process exits with status 127 without running a line of the program.  A lost connection
 * later also ends the process (a program never silently falls back to the real clocks).
 *
 * Written for timekeepers (MIT licence); not derived from any other preload simulator.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <linux/net_tstamp.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define TK_ABI 1
#define NARGS 31

enum {
    OP_HELLO = 1, OP_CLOCK_GETTIME, OP_CLOCK_GETRES, OP_CLOCK_SETTIME, OP_ADJTIMEX,
    OP_ADJTIME, OP_NANOSLEEP, OP_TIMER_CREATE, OP_TIMER_SETTIME, OP_TIMER_GETTIME,
    OP_TIMER_GETOVERRUN, OP_TIMER_DELETE, OP_TIMERFD_CREATE, OP_TIMERFD_SETTIME,
    OP_TIMERFD_GETTIME, OP_TIMERFD_READ, OP_FD_CLOSE, OP_WAIT, OP_SETITIMER, OP_GETITIMER,
    OP_ALARM, OP_TIME, OP_FORKED, OP_CHILD_WAIT, OP_CHILD_WOKE, OP_SOCKET, OP_BIND, OP_CONNECT, OP_GETSOCKNAME,
    OP_GETPEERNAME, OP_SENDTO, OP_RECVFROM, OP_SETSOCKOPT
};
enum { KIND_REPLY = 1, KIND_SIGNAL = 2 };
enum { NOTE_SIGNAL = 0, NOTE_THREAD = 1 };

struct tk_req { uint32_t op; uint32_t flags; int64_t a[NARGS]; };
struct tk_rsp { uint32_t kind; int32_t err; int64_t ret; int64_t a[NARGS - 1]; };

_Static_assert(sizeof(struct tk_req) == 256, "request is 256 bytes");
_Static_assert(sizeof(struct tk_rsp) == 256, "response is 256 bytes");

/* Exported so the launcher can check, with dlopen, that this very file loads. */
__attribute__((visibility("default"))) const int tk_shim_abi = TK_ABI;

static int sock = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rng_state;

#define MAX_FDS 1024
static int16_t tfd_id[MAX_FDS];      /* placeholder eventfd -> server timerfd id + 1 */
static int16_t sock_id[MAX_FDS];     /* placeholder eventfd -> server socket id + 1 */
static uint8_t sock_ts[MAX_FDS];     /* SO_TIMESTAMP 1, SO_TIMESTAMPNS 2, SO_TIMESTAMPING 4 */
static uint8_t tfd_signalled[MAX_FDS];
static int16_t orig_fd[MAX_FDS];     /* a dup's original placeholder (the server's name) + 1 */
#define MAX_TIMERS 256
struct thread_note { void (*fn)(union sigval); union sigval value; };
static struct thread_note thread_notes[MAX_TIMERS];

#define REAL(name) real_##name
#define DECL_REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
DECL_REAL(ssize_t, read, int, void *, size_t);
DECL_REAL(int, close, int);
DECL_REAL(int, poll, struct pollfd *, nfds_t, int);
DECL_REAL(int, select, int, fd_set *, fd_set *, fd_set *, struct timeval *);
DECL_REAL(int, epoll_wait, int, struct epoll_event *, int, int);
DECL_REAL(int, clock_gettime, clockid_t, struct timespec *);
DECL_REAL(int, clock_getres, clockid_t, struct timespec *);
DECL_REAL(ssize_t, write, int, const void *, size_t);

static void *resolve(void **slot, const char *name)
{
    if (!*slot)
        *slot = dlsym(RTLD_NEXT, name);
    return *slot;
}
#define RESOLVE(name) ((__typeof__(real_##name))resolve((void **)&real_##name, #name))

static void die(const char *why)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "timekeepers shim: %s (errno %d); the program is stopped\n",
                     why, errno);
    if (n > 0) {
        ssize_t w = write(2, buf, (size_t)n);
        (void)w;
    }
    _exit(127);
}

static void io_all(int write_mode, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = write_mode ? send(sock, p, len, MSG_NOSIGNAL) : recv(sock, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("lost the simulation's socket");
        p += n;
        len -= (size_t)n;
    }
}

/* ---- notifications: signals raised in-process after the reply ---------------------- */

#define MAX_NOTES 64
static struct tk_rsp notes[MAX_NOTES];
static int nnotes;

static void deliver_notes(void)
{
    int n = nnotes;
    nnotes = 0;
    for (int i = 0; i < n; i++) {
        struct tk_rsp *m = &notes[i];
        if (m->a[0] == NOTE_THREAD) {
            int64_t id = m->a[2];
            if (id >= 0 && id < MAX_TIMERS && thread_notes[id].fn)
                thread_notes[id].fn(thread_notes[id].value);
            continue;
        }
        siginfo_t si;
        memset(&si, 0, sizeof si);
        si.si_signo = (int)m->a[1];
        si.si_code = (int)m->a[5];
        if (si.si_code == SI_TIMER) {
            si.si_timerid = (int)m->a[2];
            si.si_overrun = (int)m->a[3];
            si.si_value.sival_ptr = (void *)(intptr_t)m->a[4];
        } else {
            si.si_pid = getpid();
            si.si_uid = (uid_t)syscall(SYS_getuid);
        }
        if (syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), si.si_signo, &si))
            raise(si.si_signo);
    }
}

/* One round trip; signal notes that precede the reply are queued and delivered after it.
 * `out_data`/`out_len` follow the request (its flags word says how many bytes); a reply's
 * a[23] bytes of payload follow it and land in `in_data` (at most a[23] <= `in_cap`). */
static int64_t call_io(uint32_t op, const int64_t *args, int nargs, struct tk_rsp *out,
                       const void *out_data, size_t out_len, void *in_data, size_t in_cap)
{
    struct tk_req rq;
    struct tk_rsp rs;
    memset(&rq, 0, sizeof rq);
    rq.op = op;
    rq.flags = (uint32_t)out_len;
    for (int i = 0; i < nargs; i++)
        rq.a[i] = args[i];
    int saved = errno;
    pthread_mutex_lock(&lock);
    if (sock < 0)
        die("no connection to the simulation");
    io_all(1, &rq, sizeof rq);
    if (out_len)
        io_all(1, (void *)out_data, out_len);
    for (;;) {
        io_all(0, &rs, sizeof rs);
        if (rs.kind == KIND_REPLY)
            break;
        if (rs.kind != KIND_SIGNAL)
            die("bad message from the simulation");
        if (nnotes < MAX_NOTES)
            notes[nnotes++] = rs;
    }
    if (rs.a[23] > 0) {
        if ((size_t)rs.a[23] > in_cap || !in_data)
            die("payload larger than the buffer");
        io_all(0, in_data, (size_t)rs.a[23]);
    }
    pthread_mutex_unlock(&lock);
    if (out)
        *out = rs;
    deliver_notes();
    errno = rs.err ? rs.err : saved;
    return rs.err ? -1 : rs.ret;
}

static int64_t call(uint32_t op, const int64_t *args, int nargs, struct tk_rsp *out)
{
    return call_io(op, args, nargs, out, NULL, 0, NULL, 0);
}

/* Would this signal interrupt a blocking call (a handler, not blocked)? */
static int interrupts(int signo, int *restart)
{
    struct sigaction sa;
    sigset_t mask;
    if (sigaction(signo, NULL, &sa) || pthread_sigmask(SIG_BLOCK, NULL, &mask))
        return 1;
    if (sigismember(&mask, signo) || sa.sa_handler == SIG_IGN)
        return 0;
    if (sa.sa_handler == SIG_DFL)
        return 0; /* a fatal default already ended the process; the rest are ignored */
    if (restart)
        *restart = (sa.sa_flags & SA_RESTART) != 0;
    return 1;
}

/* A blocking reply interrupted by notes: did any of them interrupt the call (EINTR)? */
static int last_interrupted(const struct tk_rsp *rs, int *restart)
{
    if (restart)
        *restart = 1;
    int hit = 0;
    for (int i = 0; i < rs->a[29] && i < 8; i++) {
        int r = 1;
        int signo = (int)((rs->a[28] >> (8 * i)) & 0xff);
        if (interrupts(signo, &r)) {
            hit = 1;
            if (restart && !r)
                *restart = 0;
        }
    }
    return hit;
}

/* ---- connection --------------------------------------------------------------------- */

static void connect_and_hello(void)
{
    const char *path = getenv("TK_SHIM_SOCKET");
    const char *token = getenv("TK_SHIM_TOKEN");
    if (!path || !token || strlen(token) != 32)
        die("TK_SHIM_SOCKET / TK_SHIM_TOKEN missing");
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun.sun_path)
        die("socket path too long");
    strcpy(sun.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sun, sizeof sun))
        die("cannot connect to the simulation");
    sock = s;
    struct tk_req rq;
    memset(&rq, 0, sizeof rq);
    rq.op = OP_HELLO;
    rq.a[0] = TK_ABI;
    rq.a[1] = getpid();
    memcpy(&rq.a[2], token, 32);
    io_all(1, &rq, sizeof rq);
    /* The reply carries the program's stdin/stdout/stderr: a program started without this
     * library has /dev/null for all three. */
    struct tk_rsp rs;
    char cbuf[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {&rs, sizeof rs};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
    if (n != (ssize_t)sizeof rs || rs.kind != KIND_REPLY || rs.err)
        die("the simulation refused the handshake");
    if (rs.a[1] == 3) {
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(3 * sizeof(int)))
            die("the handshake carried no standard streams");
        int fds[3];
        memcpy(fds, CMSG_DATA(c), sizeof fds);
        for (int i = 0; i < 3; i++) {
            if (dup2(fds[i], i) < 0)
                die("cannot install the standard streams");
            syscall(SYS_close, fds[i]);
        }
    }
    rng_state = (uint64_t)rs.a[0];
}

__attribute__((constructor)) static void tk_shim_init(void)
{
    real_read = dlsym(RTLD_NEXT, "read");
    real_close = dlsym(RTLD_NEXT, "close");
    real_poll = dlsym(RTLD_NEXT, "poll");
    real_select = dlsym(RTLD_NEXT, "select");
    real_epoll_wait = dlsym(RTLD_NEXT, "epoll_wait");
    real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    real_clock_getres = dlsym(RTLD_NEXT, "clock_getres");
    if (getenv("TK_SHIM_PROBE"))
        return; /* the launcher's dlopen check: load only */
    connect_and_hello();
}

/* getuid/geteuid: with TK_REPORT_ROOT=1 the program is told it runs as uid 0 (ntpd
 * refuses to start otherwise).  Only the answer changes: the process keeps its real
 * unprivileged user and has no capability over the host. */
static int report_root(void)
{
    const char *v = getenv("TK_REPORT_ROOT");
    return v && v[0] == '1' && v[1] == 0;
}
uid_t getuid(void) { return report_root() ? 0 : (uid_t)syscall(SYS_getuid); }
uid_t geteuid(void) { return report_root() ? 0 : (uid_t)syscall(SYS_geteuid); }

/* fork(2): the child gets a connection of its own (a process of the same namespace, with
 * the same credentials); the parent returns only once the server has seen the child, so no
 * simulated time can pass in between.  Timer descriptors stay with the parent. */
pid_t fork(void)
{
    static pid_t (*real_fork)(void);
    if (!real_fork)
        real_fork = dlsym(RTLD_NEXT, "fork");
    pthread_mutex_lock(&lock);
    pid_t pid = real_fork();
    if (pid == 0) {
        pthread_mutex_init(&lock, NULL);
        syscall(SYS_close, sock);
        sock = -1;
        memset(tfd_id, 0, sizeof tfd_id);
        memset(thread_notes, 0, sizeof thread_notes);
        connect_and_hello();
        return 0;
    }
    pthread_mutex_unlock(&lock);
    if (pid > 0) {
        int64_t a[1] = {pid};
        call(OP_FORKED, a, 1, NULL);
    }
    return pid;
}

/* Waiting for a child (wait family): the process counts as blocked while the real call
 * waits, so the children can sleep; WNOHANG calls are not waits and pass straight through. */
#define CHILD_WAIT(nohang, expr)                          \
    do {                                                  \
        if (nohang)                                       \
            return (expr);                                \
        call(OP_CHILD_WAIT, NULL, 0, NULL);               \
        __typeof__(expr) r_ = (expr);                     \
        int e_ = errno;                                   \
        call(OP_CHILD_WOKE, NULL, 0, NULL);               \
        errno = e_;                                       \
        return r_;                                        \
    } while (0)

pid_t waitpid(pid_t pid, int *status, int options)
{
    CHILD_WAIT(options & WNOHANG, (pid_t)syscall(SYS_wait4, pid, status, options, NULL));
}

pid_t wait(int *status) { return waitpid(-1, status, 0); }

pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
    CHILD_WAIT(options & WNOHANG, (pid_t)syscall(SYS_wait4, pid, status, options, ru));
}

pid_t wait3(int *status, int options, struct rusage *ru) { return wait4(-1, status, options, ru); }

int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
    CHILD_WAIT(options & WNOHANG, (int)syscall(SYS_waitid, idtype, id, info, options, NULL));
}

/* vfork(2) as fork: the child must get its own connection before the parent goes on, and a
 * vfork child may not call into this library safely; programs that vfork then exec behave
 * the same either way. */
pid_t vfork(void) { return fork(); }

/* ---- clocks ------------------------------------------------------------------------- */

/* CPU-time clocks (PROCESS/THREAD_CPUTIME_ID and the negative per-pid/fd ids) measure real
 * CPU use, which the simulation does not model: they go to the kernel. */
static int cpu_clock(clockid_t id)
{
    return id == CLOCK_PROCESS_CPUTIME_ID || id == CLOCK_THREAD_CPUTIME_ID || id < 0;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (cpu_clock(id))
        return REAL(clock_gettime)(id, ts);
    struct tk_rsp rs;
    int64_t a[1] = {id};
    if (call(OP_CLOCK_GETTIME, a, 1, &rs) < 0)
        return -1;
    ts->tv_sec = rs.a[0];
    ts->tv_nsec = rs.a[1];
    return 0;
}

int __clock_gettime(clockid_t id, struct timespec *ts) { return clock_gettime(id, ts); }

int clock_getres(clockid_t id, struct timespec *ts)
{
    if (cpu_clock(id))
        return REAL(clock_getres)(id, ts);
    struct tk_rsp rs;
    int64_t a[1] = {id};
    if (call(OP_CLOCK_GETRES, a, 1, &rs) < 0)
        return -1;
    if (ts) {
        ts->tv_sec = rs.a[0];
        ts->tv_nsec = rs.a[1];
    }
    return 0;
}

int timespec_get(struct timespec *ts, int base)
{
    if (base != TIME_UTC)
        return 0;
    return clock_gettime(CLOCK_REALTIME, ts) ? 0 : base;
}

int timespec_getres(struct timespec *ts, int base)
{
    if (base != TIME_UTC)
        return 0;
    return clock_getres(CLOCK_REALTIME, ts) ? 0 : base;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    if (tz)
        memset(tz, 0, 2 * sizeof(int));
    if (!tv)
        return 0;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts))
        return -1;
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *t)
{
    struct tk_rsp rs;
    if (call(OP_TIME, NULL, 0, &rs) < 0)
        return (time_t)-1;
    if (t)
        *t = (time_t)rs.ret;
    return (time_t)rs.ret;
}

int clock_settime(clockid_t id, const struct timespec *ts)
{
    if (!ts) {
        errno = EFAULT;
        return -1;
    }
    int64_t a[3] = {id, ts->tv_sec, ts->tv_nsec};
    return (int)call(OP_CLOCK_SETTIME, a, 3, NULL);
}

int settimeofday(const struct timeval *tv, const struct timezone *tz)
{
    (void)tz; /* the kernel's timezone (sys_tz) is not modelled */
    if (!tv)
        return 0;
    int64_t a[4] = {CLOCK_REALTIME, tv->tv_sec, tv->tv_usec, 1};
    return (int)call(OP_CLOCK_SETTIME, a, 4, NULL);
}

/* struct timex field by field: a[0] = clock id (-1: adjtimex), a[1..22] the fields. */
static void timex_out(int64_t *a, const struct timex *tx)
{
    a[1] = tx->modes; a[2] = tx->offset; a[3] = tx->freq; a[4] = tx->maxerror;
    a[5] = tx->esterror; a[6] = tx->status; a[7] = tx->constant; a[8] = tx->precision;
    a[9] = tx->tolerance; a[10] = tx->time.tv_sec; a[11] = tx->time.tv_usec; a[12] = tx->tick;
    a[13] = tx->ppsfreq; a[14] = tx->jitter; a[15] = tx->shift; a[16] = tx->stabil;
    a[17] = tx->jitcnt; a[18] = tx->calcnt; a[19] = tx->errcnt; a[20] = tx->stbcnt;
    a[21] = tx->tai;
}

static void timex_in(struct timex *tx, const int64_t *a)
{
    tx->modes = (unsigned)a[0]; tx->offset = a[1]; tx->freq = a[2]; tx->maxerror = a[3];
    tx->esterror = a[4]; tx->status = (int)a[5]; tx->constant = a[6]; tx->precision = a[7];
    tx->tolerance = a[8]; tx->time.tv_sec = a[9]; tx->time.tv_usec = a[10]; tx->tick = a[11];
    tx->ppsfreq = a[12]; tx->jitter = a[13]; tx->shift = (int)a[14]; tx->stabil = a[15];
    tx->jitcnt = a[16]; tx->calcnt = a[17]; tx->errcnt = a[18]; tx->stbcnt = a[19];
    tx->tai = (int)a[20];
}

int clock_adjtime(clockid_t id, struct timex *tx)
{
    if (!tx) {
        errno = EFAULT;
        return -1;
    }
    int64_t a[22];
    struct tk_rsp rs;
    a[0] = id;
    timex_out(a, tx);
    int64_t r = call(OP_ADJTIMEX, a, 22, &rs);
    if (r >= 0)
        timex_in(tx, rs.a);
    return (int)r;
}

int adjtimex(struct timex *tx) { return clock_adjtime(-1, tx); }
int ntp_adjtime(struct timex *tx) { return clock_adjtime(-1, tx); }
int __adjtimex(struct timex *tx) { return clock_adjtime(-1, tx); }

int adjtime(const struct timeval *delta, struct timeval *olddelta)
{
    int64_t a[3] = {delta != NULL, delta ? delta->tv_sec : 0, delta ? delta->tv_usec : 0};
    struct tk_rsp rs;
    if (call(OP_ADJTIME, a, 3, &rs) < 0)
        return -1;
    if (olddelta) {
        olddelta->tv_sec = rs.a[0];
        olddelta->tv_usec = rs.a[1];
    }
    return 0;
}

/* ---- sleeping ----------------------------------------------------------------------- */

/* clock_nanosleep returns the error number; rmtp is written for relative sleeps. */
static int do_sleep(clockid_t id, int flags, const struct timespec *req, struct timespec *rem)
{
    int64_t a[4] = {id, flags, req->tv_sec, req->tv_nsec};
    for (;;) {
        struct tk_rsp rs;
        int saved = errno;
        int64_t r = call(OP_NANOSLEEP, a, 4, &rs);
        int err = r < 0 ? errno : 0;
        errno = saved;
        if (err != EINTR)
            return err;
        if (last_interrupted(&rs, NULL)) {
            if (rem && !(flags & TIMER_ABSTIME)) {
                rem->tv_sec = rs.a[0];
                rem->tv_nsec = rs.a[1];
            }
            return EINTR;
        }
        if (!(flags & TIMER_ABSTIME)) { /* no simulated time passed: resume what is left */
            a[2] = rs.a[0];
            a[3] = rs.a[1];
        }
    }
}

int clock_nanosleep(clockid_t id, int flags, const struct timespec *req, struct timespec *rem)
{
    if (id == CLOCK_THREAD_CPUTIME_ID)
        return EINVAL;
    return do_sleep(id, flags, req, rem);
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    int err = do_sleep(CLOCK_MONOTONIC, 0, req, rem);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int usleep(useconds_t usec)
{
    struct timespec ts = {usec / 1000000, (long)(usec % 1000000) * 1000};
    return nanosleep(&ts, NULL);
}

unsigned int sleep(unsigned int seconds)
{
    struct timespec ts = {seconds, 0}, rem = {0, 0};
    if (nanosleep(&ts, &rem) == 0)
        return 0;
    return (unsigned)rem.tv_sec + (rem.tv_nsec >= 500000000);
}

/* ---- timerfd placeholders ----------------------------------------------------------- */

static int tfd_of(int fd) { return fd >= 0 && fd < MAX_FDS ? tfd_id[fd] - 1 : -1; }

/* Make each placeholder's readiness match the server's report (a[2..]: ready ids). */
static void sync_ready(const struct tk_rsp *rs)
{
    uint8_t ready[MAX_FDS];
    memset(ready, 0, sizeof ready);
    int n = (int)rs->a[2];
    for (int i = 0; i < n && i < 19; i++) {
        int fd = (int)rs->a[3 + i];
        if (fd >= 0 && fd < MAX_FDS)
            ready[fd] = 1;
    }
    for (int fd = 0; fd < MAX_FDS; fd++) {
        int is_ready = ready[orig_fd[fd] ? orig_fd[fd] - 1 : fd];
        if ((!tfd_id[fd] && !sock_id[fd]) || is_ready == tfd_signalled[fd])
            continue;
        uint64_t one = 1;
        if (is_ready) {
            ssize_t w = RESOLVE(write)(fd, &one, sizeof one);
            (void)w;
        } else {
            ssize_t r = REAL(read)(fd, &one, sizeof one);
            (void)r;
        }
        tfd_signalled[fd] = (uint8_t)is_ready;
    }
}

int timerfd_create(int clockid, int flags)
{
    if (flags & ~(TFD_NONBLOCK | TFD_CLOEXEC)) {
        errno = EINVAL;
        return -1;
    }
    int fd = eventfd(0, flags & (EFD_NONBLOCK | EFD_CLOEXEC));
    if (fd < 0)
        return -1;
    if (fd >= MAX_FDS) {
        REAL(close)(fd);
        errno = EMFILE;
        return -1;
    }
    int64_t a[3] = {clockid, flags, fd};
    int64_t id = call(OP_TIMERFD_CREATE, a, 3, NULL);
    if (id < 0) {
        int saved = errno;
        REAL(close)(fd);
        errno = saved;
        return -1;
    }
    tfd_id[fd] = (int16_t)(id + 1);
    tfd_signalled[fd] = 0;
    return fd;
}

static void its_out(int64_t *a, const struct itimerspec *v)
{
    a[0] = v->it_value.tv_sec; a[1] = v->it_value.tv_nsec;
    a[2] = v->it_interval.tv_sec; a[3] = v->it_interval.tv_nsec;
}

static void its_in(struct itimerspec *v, const int64_t *a)
{
    v->it_value.tv_sec = a[0]; v->it_value.tv_nsec = a[1];
    v->it_interval.tv_sec = a[2]; v->it_interval.tv_nsec = a[3];
}

/* timer_settime and timerfd_settime: the handle, flags and new value out, the old one back. */
static int settime_call(int op, int64_t id, int flags, const struct itimerspec *nv,
                        struct itimerspec *ov)
{
    int64_t a[6] = {id, flags};
    its_out(a + 2, nv);
    struct tk_rsp rs;
    if (call(op, a, 6, &rs) < 0)
        return -1;
    if (ov)
        its_in(ov, rs.a);
    return 0;
}

/* timer_gettime and timerfd_gettime: the handle out, the current value back. */
static int gettime_call(int op, int64_t id, struct itimerspec *cv)
{
    int64_t a[1] = {id};
    struct tk_rsp rs;
    if (call(op, a, 1, &rs) < 0)
        return -1;
    its_in(cv, rs.a);
    return 0;
}

/* A timerfd's id, or -1 with the kernel's errno: EBADF for no fd, EINVAL for another kind. */
static int tfd_or_errno(int fd)
{
    int id = tfd_of(fd);
    if (id < 0)
        errno = fcntl(fd, F_GETFD) < 0 ? EBADF : EINVAL;
    return id;
}

int timerfd_settime(int fd, int flags, const struct itimerspec *nv, struct itimerspec *ov)
{
    int id = tfd_or_errno(fd);
    return id < 0 ? -1 : settime_call(OP_TIMERFD_SETTIME, id, flags, nv, ov);
}

int timerfd_gettime(int fd, struct itimerspec *cv)
{
    int id = tfd_or_errno(fd);
    return id < 0 ? -1 : gettime_call(OP_TIMERFD_GETTIME, id, cv);
}

static ssize_t timerfd_read(int fd, int id, void *buf, size_t len)
{
    if (len < sizeof(uint64_t)) {
        errno = EINVAL;
        return -1;
    }
    int nonblock = (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
    int64_t a[2] = {id, nonblock};
    for (;;) {
        struct tk_rsp rs;
        int64_t r = call(OP_TIMERFD_READ, a, 2, &rs);
        int err = errno;
        sync_ready(&rs);
        if (r >= 0) {
            uint64_t ticks = (uint64_t)r;
            memcpy(buf, &ticks, sizeof ticks);
            return sizeof ticks;
        }
        int restart = 1;
        if (err == EINTR && (!last_interrupted(&rs, &restart) || restart))
            continue;
        errno = err;
        return -1;
    }
}

static int sock_of(int fd) { return fd >= 0 && fd < MAX_FDS ? sock_id[fd] - 1 : -1; }
ssize_t recv(int fd, void *buf, size_t len, int flags);

ssize_t read(int fd, void *buf, size_t len)
{
    int id = tfd_of(fd);
    if (id >= 0)
        return timerfd_read(fd, id, buf, len);
    if (sock_of(fd) >= 0)
        return recv(fd, buf, len, 0);
    return REAL(read)(fd, buf, len);
}

ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
    (void)buflen;
    return read(fd, buf, len);
}

/* Another descriptor than `fd` naming the same server object in `table`. */
static int shared_fd(int fd, const int16_t *table)
{
    for (int i = 0; i < MAX_FDS; i++)
        if (i != fd && table[i] == table[fd])
            return 1;
    return 0;
}

/* dup/fcntl(F_DUPFD): the copy names the same simulated socket or timerfd. */
static int dup_tracked(int from, int to)
{
    if (to >= 0 && to < MAX_FDS && from >= 0 && from < MAX_FDS) {
        sock_id[to] = sock_id[from];
        sock_ts[to] = sock_ts[from];
        tfd_id[to] = tfd_id[from];
        tfd_signalled[to] = tfd_signalled[from];
        orig_fd[to] = orig_fd[from] ? orig_fd[from] : (int16_t)(from + 1);
    }
    return to;
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    long r = syscall(SYS_fcntl, fd, cmd, arg);
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        dup_tracked(fd, (int)r);
    return (int)r;
}

int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return fcntl(fd, cmd, arg);
}

int dup(int fd) { return dup_tracked(fd, (int)syscall(SYS_dup, fd)); }

int close(int fd)
{
    int id = tfd_of(fd);
    if (id >= 0 && shared_fd(fd, tfd_id)) {
        tfd_id[fd] = 0;
        id = -1;
    }
    if (sock_of(fd) >= 0 && shared_fd(fd, sock_id))
        sock_id[fd] = 0;
    if (fd >= 0 && fd < MAX_FDS)
        orig_fd[fd] = 0;
    if (id >= 0) {
        int64_t a[1] = {id};
        call(OP_FD_CLOSE, a, 1, NULL);
        tfd_id[fd] = 0;
        tfd_signalled[fd] = 0;
    }
    if (sock_of(fd) >= 0) {
        int64_t a[1] = {sock_of(fd)};
        call(OP_FD_CLOSE, a, 1, NULL);
        sock_id[fd] = 0;
        sock_ts[fd] = 0;
        tfd_signalled[fd] = 0;
    }
    if (fd == sock) { /* the program may close every fd: keep ours */
        errno = EBADF;
        return -1;
    }
    return REAL(close)(fd);
}

/* ---- waiting: poll/select/epoll ----------------------------------------------------- */

/* A wait with a timeout (ms; < 0: none) for which `ready()` checks the real descriptors
 * without blocking.  Between checks the process blocks on the simulated clock until the
 * deadline, a timerfd of this process becomes ready, or a signal interrupts it. */
typedef int (*ready_fn)(void *ctx);

static int sim_wait(int64_t timeout_ns, ready_fn ready, void *ctx, const sigset_t *mask)
{
    sigset_t old;
    if (mask)
        pthread_sigmask(SIG_SETMASK, mask, &old);
    int64_t a[2] = {timeout_ns, 1};
    int result;
    for (;;) {
        struct tk_rsp rs;
        int64_t r = call(OP_WAIT, a, 2, &rs);
        int err = errno;
        sync_ready(&rs);
        a[1] = 0; /* later rounds continue the same deadline */
        int n = ready(ctx);
        if (n != 0) {
            result = n;
            break;
        }
        if (r < 0 && err == EINTR && last_interrupted(&rs, NULL)) {
            errno = EINTR;
            result = -1;
            break;
        }
        if (r == 0) { /* the deadline passed */
            result = 0;
            break;
        }
    }
    if (mask) {
        int saved = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        errno = saved;
    }
    return result;
}

struct poll_ctx { struct pollfd *fds; nfds_t n; };
static int poll_ready(void *c)
{
    struct poll_ctx *p = c;
    return REAL(poll)(p->fds, p->n, 0);
}

static int64_t ms_ns(int ms) { return ms < 0 ? -1 : (int64_t)ms * 1000000; }

static int64_t ts_ns(const struct timespec *ts)
{
    if (!ts)
        return -1;
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
        return -2;
    return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    struct poll_ctx c = {fds, n};
    return sim_wait(ms_ns(timeout), poll_ready, &c, NULL);
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t len)
{
    (void)len;
    return poll(fds, n, timeout);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask)
{
    int64_t t = ts_ns(tmo);
    if (t == -2) {
        errno = EINVAL;
        return -1;
    }
    struct poll_ctx c = {fds, n};
    return sim_wait(t, poll_ready, &c, mask);
}

struct select_ctx { int n; fd_set *sets[3]; fd_set saved[3]; };
static int select_ready(void *c)
{
    struct select_ctx *s = c;
    for (int i = 0; i < 3; i++)
        if (s->sets[i])
            *s->sets[i] = s->saved[i];
    struct timeval zero = {0, 0};
    return REAL(select)(s->n, s->sets[0], s->sets[1], s->sets[2], &zero);
}

static int do_select(int n, fd_set *r, fd_set *w, fd_set *e, int64_t t, const sigset_t *mask)
{
    struct select_ctx c;
    memset(&c, 0, sizeof c);
    c.n = n;
    c.sets[0] = r;
    c.sets[1] = w;
    c.sets[2] = e;
    for (int i = 0; i < 3; i++)
        if (c.sets[i])
            c.saved[i] = *c.sets[i];
    return sim_wait(t, select_ready, &c, mask);
}

int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    int64_t t = -1;
    if (tv) {
        if (tv->tv_sec < 0 || tv->tv_usec < 0) {
            errno = EINVAL;
            return -1;
        }
        t = tv->tv_sec * 1000000000LL + tv->tv_usec * 1000LL;
    }
    int res = do_select(n, r, w, e, t, NULL);
    if (tv) { /* Linux writes back the time left; the shim reports none left or untouched */
        if (res == 0)
            tv->tv_sec = tv->tv_usec = 0;
    }
    return res;
}

int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
            const sigset_t *mask)
{
    int64_t t = ts_ns(ts);
    if (t == -2) {
        errno = EINVAL;
        return -1;
    }
    return do_select(n, r, w, e, t, mask);
}

struct epoll_ctx { int epfd; struct epoll_event *ev; int max; };
static int epoll_ready(void *c)
{
    struct epoll_ctx *p = c;
    return REAL(epoll_wait)(p->epfd, p->ev, p->max, 0);
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    struct epoll_ctx c = {epfd, ev, max};
    return sim_wait(ms_ns(timeout), epoll_ready, &c, NULL);
}

int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
    struct epoll_ctx c = {epfd, ev, max};
    return sim_wait(ms_ns(timeout), epoll_ready, &c, mask);
}

static int never_ready(void *ctx)
{
    (void)ctx;
    return 0;
}

/* pause/sigsuspend: block on the simulated clock until a signal with a handler arrives. */
int pause(void) { return sim_wait(-1, never_ready, NULL, NULL); }

int sigsuspend(const sigset_t *mask) { return sim_wait(-1, never_ready, NULL, mask); }

/* ---- POSIX timers and itimers ------------------------------------------------------- */

int timer_create(clockid_t id, struct sigevent *sev, timer_t *out)
{
    int notify = sev ? sev->sigev_notify : SIGEV_SIGNAL;
    int signo = sev ? sev->sigev_signo : SIGALRM;
    int64_t a[5] = {id, notify, signo, sev ? (int64_t)(intptr_t)sev->sigev_value.sival_ptr : 0,
                    sev == NULL};
    int64_t t = call(OP_TIMER_CREATE, a, 5, NULL);
    if (t < 0)
        return -1;
    if (notify == SIGEV_THREAD && t < MAX_TIMERS) {
        thread_notes[t].fn = sev->sigev_notify_function;
        thread_notes[t].value = sev->sigev_value;
    }
    *out = (timer_t)(intptr_t)t;
    return 0;
}

int timer_settime(timer_t t, int flags, const struct itimerspec *nv, struct itimerspec *ov)
{
    return settime_call(OP_TIMER_SETTIME, (int64_t)(intptr_t)t, flags, nv, ov);
}

int timer_gettime(timer_t t, struct itimerspec *cv)
{
    return gettime_call(OP_TIMER_GETTIME, (int64_t)(intptr_t)t, cv);
}

int timer_getoverrun(timer_t t)
{
    int64_t a[1] = {(int64_t)(intptr_t)t};
    return (int)call(OP_TIMER_GETOVERRUN, a, 1, NULL);
}

int timer_delete(timer_t t)
{
    int64_t a[1] = {(int64_t)(intptr_t)t};
    return (int)call(OP_TIMER_DELETE, a, 1, NULL);
}

int setitimer(__itimer_which_t which, const struct itimerval *nv, struct itimerval *ov)
{
    int64_t a[5] = {which, nv ? nv->it_value.tv_sec : 0, nv ? nv->it_value.tv_usec : 0,
                    nv ? nv->it_interval.tv_sec : 0, nv ? nv->it_interval.tv_usec : 0};
    struct tk_rsp rs;
    if (call(OP_SETITIMER, a, 5, &rs) < 0)
        return -1;
    if (ov) {
        ov->it_value.tv_sec = rs.a[0]; ov->it_value.tv_usec = rs.a[1];
        ov->it_interval.tv_sec = rs.a[2]; ov->it_interval.tv_usec = rs.a[3];
    }
    return 0;
}

int getitimer(__itimer_which_t which, struct itimerval *cv)
{
    int64_t a[1] = {which};
    struct tk_rsp rs;
    if (call(OP_GETITIMER, a, 1, &rs) < 0)
        return -1;
    cv->it_value.tv_sec = rs.a[0]; cv->it_value.tv_usec = rs.a[1];
    cv->it_interval.tv_sec = rs.a[2]; cv->it_interval.tv_usec = rs.a[3];
    return 0;
}

unsigned int alarm(unsigned int seconds)
{
    int64_t a[1] = {seconds};
    return (unsigned)call(OP_ALARM, a, 1, NULL);
}

/* ---- randomness: a seeded stream (splitmix64), so runs repeat byte for byte --------- */

static uint64_t next_random(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&lock);
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = next_random();
        memcpy(p + i, &v, len - i < 8 ? len - i : 8);
    }
    pthread_mutex_unlock(&lock);
    return (ssize_t)len;
}

int getentropy(void *buf, size_t len)
{
    if (len > 256) {
        errno = EIO;
        return -1;
    }
    getrandom(buf, len, 0);
    return 0;
}

/* ---- UDP/IPv4 on the simulated network (tk_shim.netsim) ------------------------------ */

DECL_REAL(int, socket, int, int, int);
DECL_REAL(int, bind, int, const struct sockaddr *, socklen_t);
DECL_REAL(int, connect, int, const struct sockaddr *, socklen_t);
DECL_REAL(int, getsockname, int, struct sockaddr *, socklen_t *);
DECL_REAL(int, getpeername, int, struct sockaddr *, socklen_t *);
DECL_REAL(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *, socklen_t);
DECL_REAL(ssize_t, sendmsg, int, const struct msghdr *, int);
DECL_REAL(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *);
DECL_REAL(ssize_t, recvmsg, int, struct msghdr *, int);
DECL_REAL(int, setsockopt, int, int, int, const void *, socklen_t);
DECL_REAL(int, getsockopt, int, int, int, void *, socklen_t *);

int socket(int domain, int type, int protocol)
{
    if (domain == AF_INET || domain == AF_INET6) {
        int64_t a[4] = {domain, type & 0xff, protocol, -1};
        int fd = -1;
        if (domain == AF_INET && (type & 0xff) == SOCK_DGRAM) {
            fd = eventfd(0, type & (SOCK_NONBLOCK | SOCK_CLOEXEC));
            if (fd < 0)
                return -1;
            if (fd >= MAX_FDS) {
                REAL(close)(fd);
                errno = EMFILE;
                return -1;
            }
            a[3] = fd;
        }
        int64_t id = call(OP_SOCKET, a, 4, NULL);
        if (id >= 0 && fd >= 0) {
            sock_id[fd] = (int16_t)(id + 1);
            sock_ts[fd] = 0;
            tfd_signalled[fd] = 0;
            return fd;
        }
        int saved = errno;
        if (fd >= 0)
            REAL(close)(fd);
        if (id != -2 && saved == EPROTONOSUPPORT && domain == AF_INET &&
            (type & 0xff) == SOCK_STREAM) {
            /* A TCP socket on the simulated network: an inert descriptor that reaches no
             * network (every socket call on it fails with ENOTSOCK).  ntpd only opens one
             * to probe for IPv4 support, and closes it. */
            return eventfd(0, type & (SOCK_NONBLOCK | SOCK_CLOEXEC));
        }
        if (id != -2) { /* -2: this program has no simulated network: a real socket */
            errno = saved;
            return -1;
        }
    }
    return RESOLVE(socket)(domain, type, protocol);
}

static int sin_in(const struct sockaddr *sa, socklen_t len, int64_t *ip, int64_t *port)
{
    if (!sa || len < sizeof(struct sockaddr_in)) {
        errno = EINVAL;
        return -1;
    }
    if (sa->sa_family != AF_INET) {
        errno = sa->sa_family == AF_UNSPEC ? 0 : EAFNOSUPPORT;
        return errno ? -1 : 1;
    }
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    *ip = ntohl(in->sin_addr.s_addr);
    *port = ntohs(in->sin_port);
    return 0;
}

static void sin_out(struct sockaddr *sa, socklen_t *len, int64_t ip, int64_t port)
{
    if (!sa || !len)
        return;
    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl((uint32_t)ip);
    in.sin_port = htons((uint16_t)port);
    memcpy(sa, &in, *len < sizeof in ? *len : sizeof in);
    *len = sizeof in;
}

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    int id = sock_of(fd);
    if (id < 0)
        return RESOLVE(bind)(fd, sa, len);
    int64_t a[3] = {id};
    if (sin_in(sa, len, &a[1], &a[2]))
        return -1;
    return (int)call(OP_BIND, a, 3, NULL);
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    int id = sock_of(fd);
    if (id < 0)
        return RESOLVE(connect)(fd, sa, len);
    int64_t a[4] = {id, 0, 0, 0};
    int r = sin_in(sa, len, &a[1], &a[2]);
    if (r < 0)
        return -1;
    a[3] = r == 1; /* AF_UNSPEC: dissolve the association */
    return (int)call(OP_CONNECT, a, 4, NULL);
}

static int sock_name(int op, int fd, struct sockaddr *sa, socklen_t *len)
{
    int64_t a[1] = {sock_of(fd)};
    struct tk_rsp rs;
    if (call((uint32_t)op, a, 1, &rs) < 0)
        return -1;
    sin_out(sa, len, rs.a[0], rs.a[1]);
    return 0;
}

int getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (sock_of(fd) < 0)
        return RESOLVE(getsockname)(fd, sa, len);
    return sock_name(OP_GETSOCKNAME, fd, sa, len);
}

int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (sock_of(fd) < 0)
        return RESOLVE(getpeername)(fd, sa, len);
    return sock_name(OP_GETPEERNAME, fd, sa, len);
}

static ssize_t sim_send(int id, const void *buf, size_t len, const struct sockaddr *sa,
                        socklen_t salen)
{
    int64_t a[4] = {id, sa != NULL, 0, 0};
    if (sa && sin_in(sa, salen, &a[2], &a[3]))
        return -1;
    if (len > 65536) {
        errno = EMSGSIZE;
        return -1;
    }
    return call_io(OP_SENDTO, a, 4, NULL, buf, len, NULL, 0);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *sa,
               socklen_t salen)
{
    int id = sock_of(fd);
    if (id < 0)
        return RESOLVE(sendto)(fd, buf, len, flags, sa, salen);
    return sim_send(id, buf, len, sa, salen);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    return sendto(fd, buf, len, flags, NULL, 0);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    int id = sock_of(fd);
    if (id < 0)
        return RESOLVE(write)(fd, buf, len);
    return sim_send(id, buf, len, NULL, 0);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    int id = sock_of(fd);
    if (id < 0)
        return RESOLVE(sendmsg)(fd, msg, flags);
    char buf[65536];
    size_t n = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++) {
        size_t l = msg->msg_iov[i].iov_len;
        if (n + l > sizeof buf) {
            errno = EMSGSIZE;
            return -1;
        }
        memcpy(buf + n, msg->msg_iov[i].iov_base, l);
        n += l;
    }
    return sim_send(id, buf, n, msg->msg_name, msg->msg_namelen);
}

/* One datagram: blocking unless MSG_DONTWAIT or O_NONBLOCK; EINTR as the kernel's. */
static ssize_t sim_recv(int fd, int id, void *buf, size_t len, int flags, struct tk_rsp *rs)
{
    if (flags & MSG_ERRQUEUE) { /* no transmit timestamps are looped back */
        errno = EAGAIN;
        return -1;
    }
    int nonblock = (flags & MSG_DONTWAIT) || (fcntl(fd, F_GETFL) & O_NONBLOCK);
    int64_t a[4] = {id, nonblock, (int64_t)len, (flags & MSG_PEEK) != 0};
    for (;;) {
        int64_t r = call_io(OP_RECVFROM, a, 4, rs, NULL, 0, buf, len);
        int err = errno;
        sync_ready(rs);
        if (r >= 0)
            return (ssize_t)r;
        int restart = 1;
        if (err == EINTR && (!last_interrupted(rs, &restart) || restart))
            continue;
        errno = err;
        return -1;
    }
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *sa, socklen_t *salen)
{
    int id = sock_of(fd);
    if (id < 0)
        return RESOLVE(recvfrom)(fd, buf, len, flags, sa, salen);
    struct tk_rsp rs;
    ssize_t n = sim_recv(fd, id, buf, len, flags, &rs);
    if (n >= 0)
        sin_out(sa, salen, rs.a[24], rs.a[25]);
    return n;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    return recvfrom(fd, buf, len, flags, NULL, NULL);
}

static void put_cmsg(struct msghdr *msg, size_t *used, int level, int type, const void *data,
                     size_t len)
{
    if (!msg->msg_control || *used + CMSG_SPACE(len) > msg->msg_controllen) {
        msg->msg_flags |= MSG_CTRUNC;
        return;
    }
    struct cmsghdr *c = (struct cmsghdr *)((char *)msg->msg_control + *used);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), data, len);
    *used += CMSG_SPACE(len);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    int id = sock_of(fd);
    if (id < 0)
        return RESOLVE(recvmsg)(fd, msg, flags);
    char buf[65536];
    size_t cap = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++)
        cap += msg->msg_iov[i].iov_len;
    struct tk_rsp rs;
    ssize_t n = sim_recv(fd, id, buf, cap < sizeof buf ? cap : sizeof buf, flags, &rs);
    if (n < 0)
        return -1;
    size_t off = 0;
    for (size_t i = 0; i < msg->msg_iovlen && off < (size_t)n; i++) {
        size_t l = msg->msg_iov[i].iov_len < (size_t)n - off ? msg->msg_iov[i].iov_len
                                                              : (size_t)n - off;
        memcpy(msg->msg_iov[i].iov_base, buf + off, l);
        off += l;
    }
    msg->msg_flags = rs.a[22] > n ? MSG_TRUNC : 0;
    if (msg->msg_name)
        sin_out(msg->msg_name, &msg->msg_namelen, rs.a[24], rs.a[25]);
    size_t used = 0;
    if (sock_ts[fd] & 1) {
        struct timeval tv = {rs.a[26], rs.a[27] / 1000};
        put_cmsg(msg, &used, SOL_SOCKET, SO_TIMESTAMP, &tv, sizeof tv);
    }
    if (sock_ts[fd] & 2) {
        struct timespec ts = {rs.a[26], rs.a[27]};
        put_cmsg(msg, &used, SOL_SOCKET, SO_TIMESTAMPNS, &ts, sizeof ts);
    }
    if (sock_ts[fd] & 4) { /* software receive stamp only: ts[0] */
        struct timespec ts[3];
        memset(ts, 0, sizeof ts);
        ts[0].tv_sec = rs.a[26];
        ts[0].tv_nsec = rs.a[27];
        put_cmsg(msg, &used, SOL_SOCKET, SO_TIMESTAMPING, ts, sizeof ts);
    }
    msg->msg_controllen = used;
    return n;
}

int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *tmo)
{
    (void)tmo;
    if (sock_of(fd) < 0) {
        static int (*real_recvmmsg)(int, struct mmsghdr *, unsigned, int, struct timespec *);
        if (!real_recvmmsg)
            real_recvmmsg = dlsym(RTLD_NEXT, "recvmmsg");
        return real_recvmmsg(fd, v, n, flags, tmo);
    }
    unsigned int got = 0;
    for (; got < n; got++) {
        ssize_t r = recvmsg(fd, &v[got].msg_hdr, got ? flags | MSG_DONTWAIT : flags);
        if (r < 0)
            break;
        v[got].msg_len = (unsigned)r;
    }
    return got ? (int)got : -1;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    if (sock_of(fd) < 0)
        return RESOLVE(setsockopt)(fd, level, name, val, len);
    int v = val && len >= sizeof(int) ? *(const int *)val : 0;
    if (level == SOL_SOCKET) {
        int bit = name == SO_TIMESTAMP ? 1 : name == SO_TIMESTAMPNS ? 2
                  : name == SO_TIMESTAMPING ? 4 : 0;
        if (bit) {
            if (bit == 4)
                v = (v & SOF_TIMESTAMPING_RX_SOFTWARE) != 0;
            sock_ts[fd] = v ? (sock_ts[fd] | bit) : (sock_ts[fd] & ~bit);
            return 0;
        }
    }
    int64_t a[4] = {sock_of(fd), level, name, v};
    return (int)call(OP_SETSOCKOPT, a, 4, NULL);
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    if (sock_of(fd) < 0)
        return RESOLVE(getsockopt)(fd, level, name, val, len);
    int v = 0;
    if (level == SOL_SOCKET && name == SO_TYPE)
        v = SOCK_DGRAM;
    else if (level == SOL_SOCKET && name == SO_ERROR)
        v = 0;
    else if (level == SOL_SOCKET && name == SO_TIMESTAMPNS)
        v = (sock_ts[fd] & 2) != 0;
    else if (level == SOL_SOCKET && name == SO_RCVBUF)
        v = 212992;
    if (val && len && *len >= sizeof(int)) {
        memcpy(val, &v, sizeof v);
        *len = sizeof v;
    }
    return 0;
}

/* getifaddrs: a program on the simulated network sees one interface, "sim0", holding its
 * node's address (TK_NODE_ADDRESS, set by the launcher); ntpd binds to what it lists.
 * Without a simulated network the real interfaces are listed. */
struct sim_ifaddrs { struct ifaddrs ifa; struct sockaddr_in addr, mask, bcast; char name[8]; };

int getifaddrs(struct ifaddrs **out)
{
    const char *node = getenv("TK_NODE_ADDRESS");
    struct in_addr ip;
    if (!node || inet_pton(AF_INET, node, &ip) != 1) {
        int (*real)(struct ifaddrs **) = dlsym(RTLD_NEXT, "getifaddrs");
        return real(out);
    }
    struct sim_ifaddrs *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    strcpy(s->name, "sim0");
    s->addr.sin_family = s->mask.sin_family = s->bcast.sin_family = AF_INET;
    s->addr.sin_addr = ip;
    s->mask.sin_addr.s_addr = htonl(0xffffff00u);
    s->bcast.sin_addr.s_addr = ip.s_addr | htonl(0xffu);
    s->ifa.ifa_name = s->name;
    s->ifa.ifa_flags = IFF_UP | IFF_RUNNING | IFF_BROADCAST;
    s->ifa.ifa_addr = (struct sockaddr *)&s->addr;
    s->ifa.ifa_netmask = (struct sockaddr *)&s->mask;
    s->ifa.ifa_broadaddr = (struct sockaddr *)&s->bcast;
    *out = &s->ifa;
    return 0;
}

void freeifaddrs(struct ifaddrs *ifa)
{
    if (getenv("TK_NODE_ADDRESS")) {
        free(ifa); /* ours: one block */
        return;
    }
    void (*real)(struct ifaddrs *) = dlsym(RTLD_NEXT, "freeifaddrs");
    real(ifa);
}
