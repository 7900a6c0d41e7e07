//! Number↔name tables for the naming functions `errno(e)`, `signal(s)`,
//! `cap(c)` and `tcp_state(s)` (issue 12): the compiler folds a comparison
//! with a name, `signal(sig) == "SIGKILL"`, to one with the number,
//! `sig == 9`, and the runtime prints the numbers of such values as their
//! names. The numbering is Linux x86-64's (asm-generic errno, x86 signal
//! numbers, `linux/capability.h`, the kernel's TCP states with bcc
//! `tcpstates`' names).

use serde::{Deserialize, Serialize};

/// A table naming the numbers of one kind of value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameTable {
    /// Error numbers, `errno(e)`: `ENOENT` for 2 or -2.
    Errno,
    /// Signal numbers, `signal(s)`: `SIGKILL` for 9.
    Signal,
    /// Capabilities, `cap(c)`: `CAP_SYS_ADMIN` for 21.
    Cap,
    /// TCP states, `tcp_state(s)`: `ESTABLISHED` for 1.
    TcpState,
}

/// Every table, in declaration order.
const TABLES: [NameTable; 4] = [
    NameTable::Errno,
    NameTable::Signal,
    NameTable::Cap,
    NameTable::TcpState,
];

impl NameTable {
    /// The name of the spec function that names through this table.
    pub fn func(self) -> &'static str {
        match self {
            NameTable::Errno => "errno",
            NameTable::Signal => "signal",
            NameTable::Cap => "cap",
            NameTable::TcpState => "tcp_state",
        }
    }

    /// The table of the spec function named `f`, if it is a naming function.
    pub fn by_func(f: &str) -> Option<NameTable> {
        TABLES.into_iter().find(|t| t.func() == f)
    }

    /// The printed name of `v`; `None` when the number has no name (print
    /// the number). Error numbers are named with either sign: syscalls
    /// return `-ENOENT`, `errno` fields hold `ENOENT`.
    pub fn name(self, v: i64) -> Option<&'static str> {
        let v = match self {
            NameTable::Errno => i64::try_from(v.unsigned_abs()).ok()?,
            _ => v,
        };
        self.entries()
            .iter()
            .find(|&&(n, _)| n == v)
            .map(|&(_, name)| name)
    }

    /// The number named `name`, as printed or as an accepted alias
    /// (`EWOULDBLOCK`, `SIGIOT`, `TCP_LISTEN`, `SIGRTMIN+20`, …). Names are
    /// exact: case matters and the `SIG`/`CAP_`/`E` prefixes are required.
    /// Error numbers come back positive.
    pub fn value(self, name: &str) -> Option<i64> {
        if let Some(&(v, _)) = self.entries().iter().find(|&&(_, n)| n == name) {
            return Some(v);
        }
        match self {
            NameTable::Errno => match name {
                "EWOULDBLOCK" => Some(11),
                "EDEADLOCK" => Some(35),
                "ENOTSUP" => Some(95),
                _ => None,
            },
            NameTable::Signal => match name {
                "SIGIOT" => Some(6),
                "SIGPOLL" => Some(29),
                "SIGCLD" => Some(17),
                _ => realtime_signal(name),
            },
            NameTable::Cap => None,
            NameTable::TcpState => {
                let rest = name.strip_prefix("TCP_")?;
                // Only the kernel spelling of a table name, not `TCP_TCP_…`.
                self.entries()
                    .iter()
                    .find(|&&(_, n)| n == rest)
                    .map(|&(v, _)| v)
            }
        }
    }

    /// The canonical names, in number order, for "did you mean"
    /// suggestions.
    pub fn names(self) -> Vec<&'static str> {
        self.entries().iter().map(|&(_, n)| n).collect()
    }

    /// The (number, canonical name) pairs, in number order.
    fn entries(self) -> &'static [(i64, &'static str)] {
        match self {
            NameTable::Errno => ERRNO,
            NameTable::Signal => SIGNAL,
            NameTable::Cap => CAP,
            NameTable::TcpState => TCP_STATE,
        }
    }
}

/// `SIGRTMIN+n` and `SIGRTMAX-n` in any spelling `kill -l` accepts that
/// lands in 34..=64 (`SIGRTMIN+20` is printed `SIGRTMAX-10`).
fn realtime_signal(name: &str) -> Option<i64> {
    let (base, sign, rest) = if let Some(r) = name.strip_prefix("SIGRTMIN+") {
        (34, 1, r)
    } else if let Some(r) = name.strip_prefix("SIGRTMAX-") {
        (64, -1, r)
    } else {
        return None;
    };
    // Plain decimal digits only: no sign, no spaces, no leading `+`.
    if rest.is_empty() || rest.len() > 2 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = rest.parse().ok()?;
    let v = base + sign * n;
    (34..=64).contains(&v).then_some(v)
}

/// asm-generic error numbers (x86-64 uses them), then the kernel-internal
/// ones of `include/linux/errno.h` a tracer can see returned by syscalls.
/// 41 and 58 are unused (`EWOULDBLOCK` and `EDEADLOCK` are aliases), as
/// is 520.
const ERRNO: &[(i64, &str)] = &[
    (1, "EPERM"),
    (2, "ENOENT"),
    (3, "ESRCH"),
    (4, "EINTR"),
    (5, "EIO"),
    (6, "ENXIO"),
    (7, "E2BIG"),
    (8, "ENOEXEC"),
    (9, "EBADF"),
    (10, "ECHILD"),
    (11, "EAGAIN"),
    (12, "ENOMEM"),
    (13, "EACCES"),
    (14, "EFAULT"),
    (15, "ENOTBLK"),
    (16, "EBUSY"),
    (17, "EEXIST"),
    (18, "EXDEV"),
    (19, "ENODEV"),
    (20, "ENOTDIR"),
    (21, "EISDIR"),
    (22, "EINVAL"),
    (23, "ENFILE"),
    (24, "EMFILE"),
    (25, "ENOTTY"),
    (26, "ETXTBSY"),
    (27, "EFBIG"),
    (28, "ENOSPC"),
    (29, "ESPIPE"),
    (30, "EROFS"),
    (31, "EMLINK"),
    (32, "EPIPE"),
    (33, "EDOM"),
    (34, "ERANGE"),
    (35, "EDEADLK"),
    (36, "ENAMETOOLONG"),
    (37, "ENOLCK"),
    (38, "ENOSYS"),
    (39, "ENOTEMPTY"),
    (40, "ELOOP"),
    (42, "ENOMSG"),
    (43, "EIDRM"),
    (44, "ECHRNG"),
    (45, "EL2NSYNC"),
    (46, "EL3HLT"),
    (47, "EL3RST"),
    (48, "ELNRNG"),
    (49, "EUNATCH"),
    (50, "ENOCSI"),
    (51, "EL2HLT"),
    (52, "EBADE"),
    (53, "EBADR"),
    (54, "EXFULL"),
    (55, "ENOANO"),
    (56, "EBADRQC"),
    (57, "EBADSLT"),
    (59, "EBFONT"),
    (60, "ENOSTR"),
    (61, "ENODATA"),
    (62, "ETIME"),
    (63, "ENOSR"),
    (64, "ENONET"),
    (65, "ENOPKG"),
    (66, "EREMOTE"),
    (67, "ENOLINK"),
    (68, "EADV"),
    (69, "ESRMNT"),
    (70, "ECOMM"),
    (71, "EPROTO"),
    (72, "EMULTIHOP"),
    (73, "EDOTDOT"),
    (74, "EBADMSG"),
    (75, "EOVERFLOW"),
    (76, "ENOTUNIQ"),
    (77, "EBADFD"),
    (78, "EREMCHG"),
    (79, "ELIBACC"),
    (80, "ELIBBAD"),
    (81, "ELIBSCN"),
    (82, "ELIBMAX"),
    (83, "ELIBEXEC"),
    (84, "EILSEQ"),
    (85, "ERESTART"),
    (86, "ESTRPIPE"),
    (87, "EUSERS"),
    (88, "ENOTSOCK"),
    (89, "EDESTADDRREQ"),
    (90, "EMSGSIZE"),
    (91, "EPROTOTYPE"),
    (92, "ENOPROTOOPT"),
    (93, "EPROTONOSUPPORT"),
    (94, "ESOCKTNOSUPPORT"),
    (95, "EOPNOTSUPP"),
    (96, "EPFNOSUPPORT"),
    (97, "EAFNOSUPPORT"),
    (98, "EADDRINUSE"),
    (99, "EADDRNOTAVAIL"),
    (100, "ENETDOWN"),
    (101, "ENETUNREACH"),
    (102, "ENETRESET"),
    (103, "ECONNABORTED"),
    (104, "ECONNRESET"),
    (105, "ENOBUFS"),
    (106, "EISCONN"),
    (107, "ENOTCONN"),
    (108, "ESHUTDOWN"),
    (109, "ETOOMANYREFS"),
    (110, "ETIMEDOUT"),
    (111, "ECONNREFUSED"),
    (112, "EHOSTDOWN"),
    (113, "EHOSTUNREACH"),
    (114, "EALREADY"),
    (115, "EINPROGRESS"),
    (116, "ESTALE"),
    (117, "EUCLEAN"),
    (118, "ENOTNAM"),
    (119, "ENAVAIL"),
    (120, "EISNAM"),
    (121, "EREMOTEIO"),
    (122, "EDQUOT"),
    (123, "ENOMEDIUM"),
    (124, "EMEDIUMTYPE"),
    (125, "ECANCELED"),
    (126, "ENOKEY"),
    (127, "EKEYEXPIRED"),
    (128, "EKEYREVOKED"),
    (129, "EKEYREJECTED"),
    (130, "EOWNERDEAD"),
    (131, "ENOTRECOVERABLE"),
    (132, "ERFKILL"),
    (133, "EHWPOISON"),
    (512, "ERESTARTSYS"),
    (513, "ERESTARTNOINTR"),
    (514, "ERESTARTNOHAND"),
    (515, "ENOIOCTLCMD"),
    (516, "ERESTART_RESTARTBLOCK"),
    (517, "EPROBE_DEFER"),
    (518, "EOPENSTALE"),
    (519, "ENOPARAM"),
    (521, "EBADHANDLE"),
    (522, "ENOTSYNC"),
    (523, "EBADCOOKIE"),
    (524, "ENOTSUPP"),
    (525, "ETOOSMALL"),
    (526, "ESERVERFAULT"),
    (527, "EBADTYPE"),
    (528, "EJUKEBOX"),
    (529, "EIOCBQUEUED"),
    (530, "ERECALLCONFLICT"),
    (531, "ENOGRACE"),
];

/// x86-64 signal numbers; the real-time ones named as `kill -l` names
/// them. 32 and 33 (glibc's internal real-time signals) have no name.
const SIGNAL: &[(i64, &str)] = &[
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (4, "SIGILL"),
    (5, "SIGTRAP"),
    (6, "SIGABRT"),
    (7, "SIGBUS"),
    (8, "SIGFPE"),
    (9, "SIGKILL"),
    (10, "SIGUSR1"),
    (11, "SIGSEGV"),
    (12, "SIGUSR2"),
    (13, "SIGPIPE"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
    (16, "SIGSTKFLT"),
    (17, "SIGCHLD"),
    (18, "SIGCONT"),
    (19, "SIGSTOP"),
    (20, "SIGTSTP"),
    (21, "SIGTTIN"),
    (22, "SIGTTOU"),
    (23, "SIGURG"),
    (24, "SIGXCPU"),
    (25, "SIGXFSZ"),
    (26, "SIGVTALRM"),
    (27, "SIGPROF"),
    (28, "SIGWINCH"),
    (29, "SIGIO"),
    (30, "SIGPWR"),
    (31, "SIGSYS"),
    (34, "SIGRTMIN"),
    (35, "SIGRTMIN+1"),
    (36, "SIGRTMIN+2"),
    (37, "SIGRTMIN+3"),
    (38, "SIGRTMIN+4"),
    (39, "SIGRTMIN+5"),
    (40, "SIGRTMIN+6"),
    (41, "SIGRTMIN+7"),
    (42, "SIGRTMIN+8"),
    (43, "SIGRTMIN+9"),
    (44, "SIGRTMIN+10"),
    (45, "SIGRTMIN+11"),
    (46, "SIGRTMIN+12"),
    (47, "SIGRTMIN+13"),
    (48, "SIGRTMIN+14"),
    (49, "SIGRTMIN+15"),
    (50, "SIGRTMAX-14"),
    (51, "SIGRTMAX-13"),
    (52, "SIGRTMAX-12"),
    (53, "SIGRTMAX-11"),
    (54, "SIGRTMAX-10"),
    (55, "SIGRTMAX-9"),
    (56, "SIGRTMAX-8"),
    (57, "SIGRTMAX-7"),
    (58, "SIGRTMAX-6"),
    (59, "SIGRTMAX-5"),
    (60, "SIGRTMAX-4"),
    (61, "SIGRTMAX-3"),
    (62, "SIGRTMAX-2"),
    (63, "SIGRTMAX-1"),
    (64, "SIGRTMAX"),
];

/// `linux/capability.h`, up to `CAP_LAST_CAP` (40) as of Linux 6.x.
const CAP: &[(i64, &str)] = &[
    (0, "CAP_CHOWN"),
    (1, "CAP_DAC_OVERRIDE"),
    (2, "CAP_DAC_READ_SEARCH"),
    (3, "CAP_FOWNER"),
    (4, "CAP_FSETID"),
    (5, "CAP_KILL"),
    (6, "CAP_SETGID"),
    (7, "CAP_SETUID"),
    (8, "CAP_SETPCAP"),
    (9, "CAP_LINUX_IMMUTABLE"),
    (10, "CAP_NET_BIND_SERVICE"),
    (11, "CAP_NET_BROADCAST"),
    (12, "CAP_NET_ADMIN"),
    (13, "CAP_NET_RAW"),
    (14, "CAP_IPC_LOCK"),
    (15, "CAP_IPC_OWNER"),
    (16, "CAP_SYS_MODULE"),
    (17, "CAP_SYS_RAWIO"),
    (18, "CAP_SYS_CHROOT"),
    (19, "CAP_SYS_PTRACE"),
    (20, "CAP_SYS_PACCT"),
    (21, "CAP_SYS_ADMIN"),
    (22, "CAP_SYS_BOOT"),
    (23, "CAP_SYS_NICE"),
    (24, "CAP_SYS_RESOURCE"),
    (25, "CAP_SYS_TIME"),
    (26, "CAP_SYS_TTY_CONFIG"),
    (27, "CAP_MKNOD"),
    (28, "CAP_LEASE"),
    (29, "CAP_AUDIT_WRITE"),
    (30, "CAP_AUDIT_CONTROL"),
    (31, "CAP_SETFCAP"),
    (32, "CAP_MAC_OVERRIDE"),
    (33, "CAP_MAC_ADMIN"),
    (34, "CAP_SYSLOG"),
    (35, "CAP_WAKE_ALARM"),
    (36, "CAP_BLOCK_SUSPEND"),
    (37, "CAP_AUDIT_READ"),
    (38, "CAP_PERFMON"),
    (39, "CAP_BPF"),
    (40, "CAP_CHECKPOINT_RESTORE"),
];

/// The kernel's TCP states (`include/net/tcp_states.h`) with bcc
/// `tcpstates`' names: the kernel's without the `TCP_` prefix.
const TCP_STATE: &[(i64, &str)] = &[
    (1, "ESTABLISHED"),
    (2, "SYN_SENT"),
    (3, "SYN_RECV"),
    (4, "FIN_WAIT1"),
    (5, "FIN_WAIT2"),
    (6, "TIME_WAIT"),
    (7, "CLOSE"),
    (8, "CLOSE_WAIT"),
    (9, "LAST_ACK"),
    (10, "LISTEN"),
    (11, "CLOSING"),
    (12, "NEW_SYN_RECV"),
];

#[cfg(test)]
mod tests {
    use super::NameTable::{Cap, Errno, Signal, TcpState};
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn exact_values() {
        assert_eq!(Errno.value("ENOENT"), Some(2));
        assert_eq!(Errno.value("EHWPOISON"), Some(133));
        assert_eq!(Errno.value("ERESTARTSYS"), Some(512));
        assert_eq!(Errno.value("ERESTART_RESTARTBLOCK"), Some(516));
        assert_eq!(Errno.value("ENOTSUPP"), Some(524));
        assert_eq!(Errno.value("ENOGRACE"), Some(531));
        assert_eq!(Signal.value("SIGKILL"), Some(9));
        assert_eq!(Signal.value("SIGUSR1"), Some(10));
        assert_eq!(Signal.value("SIGCHLD"), Some(17));
        assert_eq!(Signal.value("SIGSYS"), Some(31));
        assert_eq!(Signal.value("SIGRTMIN"), Some(34));
        assert_eq!(Signal.value("SIGRTMAX"), Some(64));
        assert_eq!(Cap.value("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(Cap.value("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(TcpState.value("ESTABLISHED"), Some(1));
        assert_eq!(TcpState.value("LISTEN"), Some(10));
        assert_eq!(TcpState.value("NEW_SYN_RECV"), Some(12));

        assert_eq!(Errno.name(2), Some("ENOENT"));
        assert_eq!(Errno.name(133), Some("EHWPOISON"));
        assert_eq!(Errno.name(-512), Some("ERESTARTSYS"));
        assert_eq!(Signal.name(9), Some("SIGKILL"));
        assert_eq!(Signal.name(10), Some("SIGUSR1"));
        assert_eq!(Signal.name(49), Some("SIGRTMIN+15"));
        assert_eq!(Signal.name(50), Some("SIGRTMAX-14"));
        assert_eq!(Signal.name(64), Some("SIGRTMAX"));
        assert_eq!(Cap.name(0), Some("CAP_CHOWN"));
        assert_eq!(Cap.name(21), Some("CAP_SYS_ADMIN"));
        assert_eq!(TcpState.name(1), Some("ESTABLISHED"));
        assert_eq!(TcpState.name(10), Some("LISTEN"));
    }

    /// The errno and signal tables against the C library's constants, name
    /// by name, so a misnumbered line cannot hide.
    #[test]
    fn agrees_with_libc() {
        macro_rules! check {
            ($table:expr, $($c:ident)*) => {
                $( assert_eq!($table.value(stringify!($c)), Some(libc::$c as i64), stringify!($c)); )*
            };
        }
        check!(Errno, EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN
            ENOMEM EACCES EFAULT ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE
            EMFILE ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK
            ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY ELOOP EWOULDBLOCK ENOMSG EIDRM ECHRNG EL2NSYNC
            EL3HLT EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR EXFULL ENOANO EBADRQC EBADSLT
            EDEADLOCK EBFONT ENOSTR ENODATA ETIME ENOSR ENONET ENOPKG EREMOTE ENOLINK EADV ESRMNT
            ECOMM EPROTO EMULTIHOP EDOTDOT EBADMSG EOVERFLOW ENOTUNIQ EBADFD EREMCHG ELIBACC
            ELIBBAD ELIBSCN ELIBMAX ELIBEXEC EILSEQ ERESTART ESTRPIPE EUSERS ENOTSOCK
            EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT EPROTONOSUPPORT ESOCKTNOSUPPORT
            EOPNOTSUPP ENOTSUP EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN
            ENETUNREACH ENETRESET ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN ESHUTDOWN
            ETOOMANYREFS ETIMEDOUT ECONNREFUSED EHOSTDOWN EHOSTUNREACH EALREADY EINPROGRESS
            ESTALE EUCLEAN ENOTNAM ENAVAIL EISNAM EREMOTEIO EDQUOT ENOMEDIUM EMEDIUMTYPE
            ECANCELED ENOKEY EKEYEXPIRED EKEYREVOKED EKEYREJECTED EOWNERDEAD ENOTRECOVERABLE
            ERFKILL EHWPOISON);
        check!(Signal, SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGIOT SIGBUS SIGFPE
            SIGKILL SIGUSR1 SIGSEGV SIGUSR2 SIGPIPE SIGALRM SIGTERM SIGSTKFLT SIGCHLD SIGCONT
            SIGSTOP SIGTSTP SIGTTIN SIGTTOU SIGURG SIGXCPU SIGXFSZ SIGVTALRM SIGPROF SIGWINCH
            SIGIO SIGPOLL SIGPWR SIGSYS);
        // Every errno below the kernel-internal range is in the list above.
        assert_eq!(
            Errno
                .names()
                .iter()
                .filter(|n| Errno.value(n).unwrap() < 512)
                .count(),
            131
        );
        assert_eq!(Signal.names().len(), 31 + 31);
    }

    #[test]
    fn round_trips_and_no_duplicates() {
        for t in TABLES {
            let names = t.names();
            assert!(!names.is_empty());
            let mut seen_names = HashSet::new();
            let mut seen_values = HashSet::new();
            for n in &names {
                let v = t
                    .value(n)
                    .unwrap_or_else(|| panic!("{t:?}: no value for {n}"));
                assert_eq!(t.name(v), Some(*n), "{t:?}: {n} = {v}");
                assert!(seen_names.insert(*n), "{t:?}: {n} twice");
                assert!(seen_values.insert(v), "{t:?}: {v} twice");
            }
            // Number order, as documented.
            let values: Vec<i64> = names.iter().map(|n| t.value(n).unwrap()).collect();
            assert!(values.windows(2).all(|w| w[0] < w[1]), "{t:?} out of order");
            assert_eq!(NameTable::by_func(t.func()), Some(t));
        }
        assert_eq!(NameTable::by_func("tcp_state"), Some(TcpState));
        assert_eq!(NameTable::by_func("errno"), Some(Errno));
        assert_eq!(NameTable::by_func("ksym"), None);
        assert_eq!(NameTable::by_func("Signal"), None);
    }

    #[test]
    fn errno_both_signs() {
        assert_eq!(Errno.name(-2), Some("ENOENT"));
        assert_eq!(Errno.name(2), Some("ENOENT"));
        assert_eq!(Errno.name(-133), Some("EHWPOISON"));
        assert_eq!(Errno.name(-531), Some("ENOGRACE"));
        assert_eq!(Errno.name(0), None);
        assert_eq!(Errno.name(i64::MIN), None);
        assert_eq!(Errno.name(i64::MAX), None);
        // Only errno is signed: a negative signal or cap is no name.
        assert_eq!(Signal.name(-9), None);
        assert_eq!(Cap.name(-21), None);
        assert_eq!(TcpState.name(-1), None);
    }

    #[test]
    fn aliases() {
        assert_eq!(Errno.value("EWOULDBLOCK"), Some(11));
        assert_eq!(Errno.name(11), Some("EAGAIN"));
        assert_eq!(Errno.value("EDEADLOCK"), Some(35));
        assert_eq!(Errno.name(35), Some("EDEADLK"));
        assert_eq!(Errno.value("ENOTSUP"), Some(95));
        assert_eq!(Errno.name(95), Some("EOPNOTSUPP"));
        assert_eq!(Signal.value("SIGIOT"), Some(6));
        assert_eq!(Signal.name(6), Some("SIGABRT"));
        assert_eq!(Signal.value("SIGPOLL"), Some(29));
        assert_eq!(Signal.name(29), Some("SIGIO"));
        assert_eq!(Signal.value("SIGCLD"), Some(17));
        assert_eq!(Signal.name(17), Some("SIGCHLD"));
        assert_eq!(Signal.value("SIGRTMIN+0"), Some(34));
        assert_eq!(Signal.value("SIGRTMIN+20"), Some(54));
        assert_eq!(Signal.value("SIGRTMAX-0"), Some(64));
        assert_eq!(Signal.value("SIGRTMAX-30"), Some(34));
        assert_eq!(Signal.value("SIGRTMAX-20"), Some(44));
        assert_eq!(TcpState.value("TCP_ESTABLISHED"), Some(1));
        assert_eq!(TcpState.value("TCP_LISTEN"), Some(10));
        assert_eq!(TcpState.value("TCP_NEW_SYN_RECV"), Some(12));
        // Aliases are not suggestions.
        assert!(!Errno.names().contains(&"EWOULDBLOCK"));
        assert!(!TcpState.names().contains(&"TCP_LISTEN"));
    }

    #[test]
    fn unknowns() {
        for v in [0, 41, 58, 134, 511, 520, 532, 4095] {
            assert_eq!(Errno.name(v), None, "errno {v}");
        }
        for v in [0, 32, 33, 65, 128] {
            assert_eq!(Signal.name(v), None, "signal {v}");
        }
        assert_eq!(Cap.name(41), None);
        assert_eq!(TcpState.name(0), None);
        assert_eq!(TcpState.name(13), None);
        for n in ["enoent", "ENOENTX", "", "E", "-ENOENT", "2"] {
            assert_eq!(Errno.value(n), None, "{n:?}");
        }
        for n in [
            "KILL",
            "sigkill",
            "SIGRTMIN+31",
            "SIGRTMAX-31",
            "SIGRTMIN+",
            "SIGRTMIN-1",
            "SIGRTMAX+1",
            "SIGRTMIN++1",
            "SIGRTMIN+ 1",
            "SIGRTMIN+001",
            "SIGRTMIN+-1",
            "SIG",
        ] {
            assert_eq!(Signal.value(n), None, "{n:?}");
        }
        assert_eq!(Cap.value("SYS_ADMIN"), None);
        assert_eq!(Cap.value("cap_sys_admin"), None);
        assert_eq!(TcpState.value("TCP_"), None);
        assert_eq!(TcpState.value("TCP_TCP_LISTEN"), None);
        assert_eq!(TcpState.value("listen"), None);
        // A name of another table.
        assert_eq!(Signal.value("ENOENT"), None);
        assert_eq!(Errno.value("SIGKILL"), None);
    }

    #[test]
    fn serde_names() {
        assert_eq!(serde_json::to_string(&TcpState).unwrap(), "\"tcp_state\"");
        assert_eq!(
            serde_json::from_str::<NameTable>("\"errno\"").unwrap(),
            Errno
        );
        for t in TABLES {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.func()));
        }
    }
}
