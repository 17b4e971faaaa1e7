/* tk-launch: the only way timekeepers starts a program on a simulated namespace.
 *
 *   tk-launch SHIM.so UID GID CWD PROGRAM [ARGS...]
 *
 * In this order: drop every capability from the bounding set (while it still can), become
 * UID/GID with no supplementary groups (only when started as root), set no_new_privs (so no
 * set-user-ID binary or file capability can raise them again), clear the ambient, inheritable,
 * permitted and effective sets, and check that all of it holds; enter CWD; check with dlopen
 * that SHIM.so really loads and is the ABI this launcher was built with; then exec PROGRAM with
 * LD_PRELOAD=SHIM.so.  Any failure exits 126 (127: PROGRAM could not be executed) before the
 * program runs.  Written for timekeepers (MIT licence).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TK_ABI 1

static void fail(const char *what)
{
    fprintf(stderr, "tk-launch: %s: %s; the program was not started\n", what, strerror(errno));
    exit(126);
}

static int last_cap(void)
{
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
    int n = 40;
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = 40;
        fclose(f);
    }
    return n;
}

static void drop_privileges(uid_t uid, gid_t gid)
{
    int root = geteuid() == 0;
    for (int cap = 0; cap <= last_cap(); cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL && root)
            fail("PR_CAPBSET_DROP");
    if (root) {
        if (setgroups(0, NULL))
            fail("setgroups");
        if (setresgid(gid, gid, gid))
            fail("setresgid");
        if (setresuid(uid, uid, uid))
            fail("setresuid");
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        fail("PR_SET_NO_NEW_PRIVS");
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data))
        fail("capset");
    if (syscall(SYS_capget, &hdr, data))
        fail("capget");
    for (int i = 0; i < 2; i++)
        if (data[i].effective || data[i].permitted || data[i].inheritable) {
            errno = EPERM;
            fail("capabilities remain after capset");
        }
    if (root && (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0)) {
        errno = EPERM;
        fail("still root after setresuid");
    }
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        errno = EPERM;
        fail("no_new_privs did not stick");
    }
}

static void check_shim(const char *shim)
{
    setenv("TK_SHIM_PROBE", "1", 1);
    void *h = dlopen(shim, RTLD_NOW | RTLD_LOCAL);
    unsetenv("TK_SHIM_PROBE");
    if (!h) {
        fprintf(stderr, "tk-launch: the shim does not load: %s; the program was not started\n",
                dlerror());
        exit(126);
    }
    const int *abi = dlsym(h, "tk_shim_abi");
    if (!abi || *abi != TK_ABI) {
        fprintf(stderr, "tk-launch: %s is not the shim this launcher expects\n", shim);
        exit(126);
    }
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: tk-launch SHIM.so UID GID CWD PROGRAM [ARGS...]\n");
        return 126;
    }
    drop_privileges((uid_t)strtoul(argv[2], NULL, 10), (gid_t)strtoul(argv[3], NULL, 10));
    if (chdir(argv[4]))
        fail("chdir");
    check_shim(argv[1]);
    if (setenv("LD_PRELOAD", argv[1], 1))
        fail("setenv");
    execv(argv[5], argv + 5);
    int err = errno;
    fprintf(stderr, "tk-launch: cannot execute %s: %s", argv[5], strerror(err));
    if (err == EACCES)
        fprintf(stderr, " (it runs as uid %u gid %u without capabilities: the file, and every "
                "directory on its path, must be open to that user)", (unsigned)getuid(),
                (unsigned)getgid());
    fprintf(stderr, "\n");
    return 127;
}
