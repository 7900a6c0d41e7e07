// SPDX-License-Identifier: MIT
//
// tvm: the guest-side helper of the VM tests (tests/vm/run.sh).
//
// Built statically on the host (gcc -static), so it runs in every guest, and
// kept unstripped: it is also the uprobe target (tvm_target).
//
//   tvm run [-t SECS] OUTDIR TRIGGER -- CMD [ARGS...]
//       Starts CMD (tracectl) with stdout -> OUTDIR/stdout, stderr copied to
//       OUTDIR/stderr. When a stderr line contains "attached", it records the
//       BPF programs CMD holds (OUTDIR/progs: one "NAME TYPE" line each, the
//       template that was loaded) and then makes the TRIGGER event happen in
//       this process (so `comm == "tvm"` selects it). It waits for CMD to
//       exit (killing it after SECS, default 60) and writes OUTDIR/rc
//       ("rc=N", "signal=N" or "timeout"). Facts about the triggered event
//       (fd, pid, return value) go to OUTDIR/facts as KEY=VALUE lines;
//       every trigger also writes pidns=, mntns=, netns= (namespace inodes).
//       An argument "{PID}" in CMD is replaced by this process's pid.
//   TRIGGER:
//       none            nothing; do not wait for "attached" (check --load)
//       open:PATH       open(PATH, O_RDONLY|O_CREAT) -> facts fd=, pid=
//       exec:PATH       symlink PATH -> this binary, fork, execv(PATH)
//                       -> facts pid= (the child), ppid=
//       connect:PORT    listen on 127.0.0.1:PORT and connect to it -> pid=
//       mmap:LEN        an anonymous mmap of LEN bytes -> facts len=, pid=
//       call:A:STR      tvm_target(A, STR) -> facts ret=, pid=
//   Any other program name (argv[0] not "tvm"): exits 0 (the exec trigger).

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// The uprobe/uretprobe target: not inlined, not cloned, not folded.
__attribute__((noinline, noipa, used)) long tvm_target(long a, const char *s)
{
    long n = 0;
    while (s[n])
        n++;
    return a * 3 + n;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tvm: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *outdir;

static FILE *out_file(const char *name, const char *mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", outdir, name);
    FILE *f = fopen(p, mode);
    if (!f)
        die("cannot open %s: %s", p, strerror(errno));
    return f;
}

static long sys_bpf(int cmd, union bpf_attr *attr, unsigned size)
{
    return syscall(__NR_bpf, cmd, attr, size);
}

static const char *prog_type_name(uint32_t t)
{
    switch (t) {
    case BPF_PROG_TYPE_KPROBE: return "kprobe";
    case BPF_PROG_TYPE_TRACEPOINT: return "tracepoint";
    case BPF_PROG_TYPE_RAW_TRACEPOINT: return "raw_tracepoint";
    case BPF_PROG_TYPE_TRACING: return "tracing";
    default: return "other";
    }
}

// Records the name and type of every BPF program `pid` holds a fd of.
static void record_progs(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fdinfo", (int)pid);
    FILE *out = out_file("progs", "w");
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(out, "? cannot read %s: %s\n", dir, strerror(errno));
        fclose(out);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_MAX], line[256];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        unsigned long id = 0;
        int is_prog = 0;
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "prog_type:", 10))
                is_prog = 1;
            if (!strncmp(line, "prog_id:", 8))
                id = strtoul(line + 8, NULL, 10);
        }
        fclose(f);
        if (!is_prog || !id)
            continue;
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.prog_id = id;
        int fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a, sizeof a);
        if (fd < 0) {
            fprintf(out, "? prog %lu: %s\n", id, strerror(errno));
            continue;
        }
        struct bpf_prog_info info;
        memset(&info, 0, sizeof info);
        memset(&a, 0, sizeof a);
        a.info.bpf_fd = fd;
        a.info.info_len = sizeof info;
        a.info.info = (uint64_t)(uintptr_t)&info;
        if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a, sizeof a) == 0)
            fprintf(out, "%.16s %s\n", info.name, prog_type_name(info.type));
        else
            fprintf(out, "? prog %lu: %s\n", id, strerror(errno));
        close(fd);
    }
    closedir(d);
    fclose(out);
}

static void trigger(const char *t, FILE *facts)
{
    static const char *const ns[] = {"pid", "mnt", "net"};
    fprintf(facts, "pid=%d\n", (int)getpid());
    /* The namespaces' inode numbers, as `pidns`, `mntns`, `netns` give them. */
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        char p[64];
        struct stat sb;
        snprintf(p, sizeof p, "/proc/self/ns/%s", ns[i]);
        if (stat(p, &sb) == 0)
            fprintf(facts, "%sns=%lu\n", ns[i], (unsigned long)sb.st_ino);
    }
    if (!strcmp(t, "none"))
        return;
    if (!strncmp(t, "open:", 5)) {
        int fd = open(t + 5, O_RDONLY | O_CREAT, 0600);
        if (fd < 0)
            die("open %s: %s", t + 5, strerror(errno));
        fprintf(facts, "fd=%d\n", fd);
        close(fd);
    } else if (!strncmp(t, "exec:", 5)) {
        const char *path = t + 5;
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0)
            die("readlink /proc/self/exe: %s", strerror(errno));
        self[n] = 0;
        unlink(path);
        if (symlink(self, path) < 0)
            die("symlink %s: %s", path, strerror(errno));
        pid_t c = fork();
        if (c < 0)
            die("fork: %s", strerror(errno));
        if (c == 0) {
            char *argv[] = {(char *)path, NULL};
            execv(path, argv);
            _exit(127);
        }
        int st;
        waitpid(c, &st, 0);
        fprintf(facts, "child=%d\nchild_status=%d\n", (int)c, st);
    } else if (!strncmp(t, "connect:", 8)) {
        int port = atoi(t + 8);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int l = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        int listening = l >= 0 && bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(l, 1) == 0;
        // Non-blocking, bounded waits: a missing route or listener must not
        // hang the test (tcp_connect runs in connect() either way).
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (s < 0)
            die("socket: %s", strerror(errno));
        int r = connect(s, (struct sockaddr *)&sa, sizeof sa);
        int err = r ? errno : 0;
        if (r && err == EINPROGRESS) {
            struct pollfd pf = {.fd = s, .events = POLLOUT};
            socklen_t len = sizeof err;
            if (poll(&pf, 1, 3000) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0)
                r = err ? -1 : 0;
            else
                err = ETIMEDOUT;
        }
        fprintf(facts, "listening=%d\nconnect=%d\nconnect_errno=%d\n", listening, r, err);
        if (listening && r == 0) {
            struct pollfd pf = {.fd = l, .events = POLLIN};
            if (poll(&pf, 1, 3000) == 1) {
                int a = accept(l, NULL, NULL);
                if (a >= 0)
                    close(a);
            }
        }
        close(s);
        if (l >= 0)
            close(l);
    } else if (!strncmp(t, "mmap:", 5)) {
        size_t len = strtoul(t + 5, NULL, 10);
        void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            die("mmap %zu: %s", len, strerror(errno));
        munmap(m, len);
        fprintf(facts, "len=%zu\n", len);
    } else if (!strncmp(t, "call:", 5)) {
        char *end;
        long a = strtol(t + 5, &end, 10);
        if (*end != ':')
            die("bad trigger %s (call:A:STR)", t);
        long r = tvm_target(a, end + 1);
        fprintf(facts, "ret=%ld\n", r);
    } else {
        die("unknown trigger %s", t);
    }
}

static int cmd_run(int argc, char **argv)
{
    double timeout = 60;
    int i = 0;
    if (i + 1 < argc && !strcmp(argv[i], "-t")) {
        timeout = atof(argv[i + 1]);
        i += 2;
    }
    if (argc - i < 4 || strcmp(argv[i + 2], "--"))
        die("usage: tvm run [-t SECS] OUTDIR TRIGGER -- CMD [ARGS...]");
    outdir = argv[i];
    const char *trig = argv[i + 1];
    char **cmd = argv + i + 3;
    int ncmd = argc - i - 3;
    char pidstr[16];
    snprintf(pidstr, sizeof pidstr, "%d", (int)getpid());
    for (int k = 0; k < ncmd; k++) {
        char *at = strstr(cmd[k], "{PID}");
        if (at) {
            char *s = malloc(strlen(cmd[k]) + 16);
            sprintf(s, "%.*s%s%s", (int)(at - cmd[k]), cmd[k], pidstr, at + 5);
            cmd[k] = s;
        }
    }
    mkdir(outdir, 0755);
    FILE *errf = out_file("stderr", "w");
    FILE *facts = out_file("facts", "w");
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/stdout", outdir);
    int outfd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (outfd < 0)
        die("open %s: %s", p, strerror(errno));
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    double t0 = now();
    pid_t c = fork();
    if (c < 0)
        die("fork: %s", strerror(errno));
    if (c == 0) {
        dup2(outfd, 1);
        dup2(pfd[1], 2);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        execvp(cmd[0], cmd);
        fprintf(stderr, "tvm: exec %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    close(outfd);
    int triggered = !strcmp(trig, "none");
    if (triggered)
        fprintf(facts, "pid=%d\n", (int)getpid());
    char buf[4096], line[8192];
    size_t ll = 0;
    int eof = 0, timed_out = 0;
    double attached_at = -1;
    while (!eof) {
        double left = t0 + timeout - now();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t n = read(pfd[0], buf, sizeof buf);
        if (n <= 0) {
            eof = 1;
            break;
        }
        fwrite(buf, 1, n, errf);
        fflush(errf);
        for (ssize_t k = 0; k < n; k++) {
            if (buf[k] == '\n' || ll == sizeof line - 1) {
                line[ll] = 0;
                if (!triggered && strstr(line, "attached")) {
                    attached_at = now();
                    // In a child with another name: its opens must not be
                    // the events that `comm == "tvm"` probes wait for.
                    pid_t ins = fork();
                    if (ins == 0) {
                        prctl(PR_SET_NAME, "tvm-inspect", 0, 0, 0);
                        record_progs(c);
                        _exit(0);
                    }
                    if (ins > 0)
                        waitpid(ins, NULL, 0);
                    trigger(trig, facts);
                    fflush(facts);
                    triggered = 1;
                }
                ll = 0;
            } else {
                line[ll++] = buf[k];
            }
        }
    }
    int st = 0;
    if (timed_out) {
        kill(c, SIGTERM);
        for (int k = 0; k < 20 && waitpid(c, &st, WNOHANG) == 0; k++)
            usleep(100000);
        kill(c, SIGKILL);
    }
    waitpid(c, &st, 0);
    double t1 = now();
    if (attached_at >= 0)
        fprintf(facts, "attach_s=%.3f\n", attached_at - t0);
    fprintf(facts, "total_s=%.3f\n", t1 - t0);
    fclose(facts);
    fclose(errf);
    FILE *rc = out_file("rc", "w");
    if (timed_out)
        fprintf(rc, "timeout\n");
    else if (WIFEXITED(st))
        fprintf(rc, "rc=%d\n", WEXITSTATUS(st));
    else
        fprintf(rc, "signal=%d\n", WTERMSIG(st));
    fclose(rc);
    return 0;
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (strcmp(base, "tvm"))
        return 0; // exec'd under a unique name by the exec trigger
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return cmd_run(argc - 2, argv + 2);
    if (argc == 4 && !strcmp(argv[1], "call")) {
        printf("%ld\n", tvm_target(atol(argv[2]), argv[3]));
        return 0;
    }
    fprintf(stderr, "usage: tvm run [-t SECS] OUTDIR TRIGGER -- CMD [ARGS...]\n"
                    "       tvm call A STR\n");
    return 2;
}
