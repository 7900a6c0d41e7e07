//! Cgroup v2 ids to paths and containers: where the cgroup2 filesystem is
//! mounted ([`cgroup2_root`]), the id of a cgroup directory
//! ([`cgroup_id`], what `bpf_get_current_cgroup_id()` returns: the
//! directory's inode number, 1 for the root), a user's `--cgroup` argument
//! to a directory ([`resolve_path`]), ids back to paths for printing
//! ([`CgroupPaths`]), and container ids in cgroup paths
//! ([`container_id`], [`find_container`]).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `statfs.f_type` of the cgroup2 filesystem.
pub const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;

/// The shortest time between two rescans of the tree for unknown ids.
const RESCAN_INTERVAL: Duration = Duration::from_millis(100);

/// Where the cgroup2 filesystem is mounted: the mount point of the first
/// `cgroup2` mount in `/proc/self/mountinfo` (`/sys/fs/cgroup` on unified
/// systems, `/sys/fs/cgroup/unified` on hybrid ones).
pub fn cgroup2_root() -> io::Result<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    cgroup2_mount(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "no cgroup2 filesystem is mounted (none in /proc/self/mountinfo)",
        )
    })
}

/// The mount point of the first `cgroup2` line of mountinfo text.
fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        // id parent maj:min root mountpoint options [optional…] - fstype source super
        let Some(dash) = fields.iter().position(|&f| f == "-") else {
            continue;
        };
        if dash >= 5 && fields.get(dash + 1) == Some(&"cgroup2") {
            return Some(PathBuf::from(OsString::from_vec(unescape_octal(fields[4]))));
        }
    }
    None
}

/// Undoes mountinfo's `\NNN` octal escapes (space, tab, newline, `\`).
fn unescape_octal(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The id of the cgroup2 directory `dir`: its inode number. An error if
/// `dir` is not in a cgroup2 filesystem (a cgroup v1 hierarchy, a plain
/// directory) or cannot be examined.
pub fn cgroup_id(dir: &Path) -> io::Result<u64> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path with a NUL byte"))?;
    // SAFETY: `st` is plain data, written by statfs on success only.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if st.f_type as u64 != CGROUP2_SUPER_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not in a cgroup2 filesystem", dir.display()),
        ));
    }
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a cgroup directory", dir.display()),
        ));
    }
    Ok(meta.ino())
}

/// The cgroup directory a user's `--cgroup` argument names: an absolute
/// path inside `root` (`/sys/fs/cgroup/system.slice`), or a path relative
/// to `root` with or without a leading `/` (`/system.slice/x.scope`,
/// `system.slice/x.scope`). The error is one sentence naming the root.
pub fn resolve_path(root: &Path, user: &str) -> Result<PathBuf, String> {
    if user.is_empty() {
        return Err(format!(
            "an empty cgroup path names no cgroup (use `/` for the cgroup2 root {})",
            root.display()
        ));
    }
    let as_path = Path::new(user);
    let dir = if as_path.is_absolute() && as_path.starts_with(root) {
        as_path.to_path_buf()
    } else {
        root.join(user.trim_start_matches('/'))
    };
    if !dir.is_dir() {
        return Err(format!(
            "no cgroup `{user}` under the cgroup2 root {}",
            root.display()
        ));
    }
    // `..` must not lead out of the hierarchy.
    let real_root = root
        .canonicalize()
        .map_err(|e| format!("cannot read the cgroup2 root {}: {e}", root.display()))?;
    match dir.canonicalize() {
        Ok(real) if real.starts_with(&real_root) => Ok(dir),
        _ => Err(format!(
            "`{user}` is not a cgroup under the cgroup2 root {}",
            root.display()
        )),
    }
}

/// Visits `root` and every directory below it, shallowest first: `f`
/// gets the path relative to `root` (`/` for the root, else `/a/b`) and
/// the directory's inode number. Directories that vanish or cannot be
/// read are skipped; only failing to read `root` is an error.
fn walk(root: &Path, mut f: impl FnMut(&str, u64)) -> io::Result<()> {
    let meta = std::fs::metadata(root)?;
    let top = std::fs::read_dir(root)?;
    f("/", meta.ino());
    // Paths, not open directories, wait in the queue: a wide tree would
    // otherwise hold a descriptor per queued directory.
    let mut queue: VecDeque<(String, PathBuf)> = VecDeque::new();
    let mut next = Some((String::new(), top));
    while let Some((rel, entries)) = next.take() {
        let mut children: Vec<(String, PathBuf)> = Vec::new();
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name();
            children.push((format!("{rel}/{}", name.to_string_lossy()), entry.path()));
        }
        // A stable order, for deterministic "first found" answers.
        children.sort();
        for (child_rel, child) in children {
            let Ok(meta) = std::fs::symlink_metadata(&child) else {
                continue;
            };
            f(&child_rel, meta.ino());
            queue.push_back((child_rel, child));
        }
        while let Some((rel, dir)) = queue.pop_front() {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                next = Some((rel, entries));
                break;
            }
        }
    }
    Ok(())
}

/// Cgroup ids to paths relative to the cgroup2 root (`/` for the root,
/// `/system.slice/x.scope` below), learned by scanning the tree. An
/// unknown id rescans it, but not more than once per 100 ms, so events of
/// a cgroup that is gone do not rescan for every event. Ids are never
/// reused, so what was learned stays.
#[derive(Debug)]
pub struct CgroupPaths {
    root: PathBuf,
    paths: HashMap<u64, String>,
    last_scan: Option<Instant>,
    rescan_interval: Duration,
}

impl CgroupPaths {
    /// An empty cache for the hierarchy mounted at `root` (see
    /// [`cgroup2_root`]); the first lookup scans it.
    pub fn new(root: PathBuf) -> CgroupPaths {
        CgroupPaths {
            root,
            paths: HashMap::new(),
            last_scan: None,
            rescan_interval: RESCAN_INTERVAL,
        }
    }

    /// The path of cgroup `id`, relative to the root; `None` when it is not
    /// in the tree (gone, or not a cgroup2 id).
    pub fn path(&mut self, id: u64) -> Option<&str> {
        if !self.paths.contains_key(&id)
            && self
                .last_scan
                .is_none_or(|t| t.elapsed() >= self.rescan_interval)
        {
            self.rescan();
        }
        self.paths.get(&id).map(String::as_str)
    }

    fn rescan(&mut self) {
        let paths = &mut self.paths;
        let _ = walk(&self.root, |rel, ino| {
            paths.insert(ino, rel.to_string());
        });
        self.last_scan = Some(Instant::now());
    }
}

/// Whether `s` is a 64-character lower-case hex container id.
fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Undoes systemd's unit-name `\xNN` escapes (`\x2d` is `-`).
fn unescape_unit(s: &str) -> Cow<'_, str> {
    if !s.contains("\\x") {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 2..i + 4], 16) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The container id that path component `c` (below `parent`) names.
fn component_container<'a>(c: &'a str, parent: Option<&str>) -> Option<Cow<'a, str>> {
    // docker (systemd driver), containerd/Kubernetes, cri-o, podman:
    // `<runtime>-<64hex>[.scope]`. The conmon scopes (`crio-conmon-…`,
    // `libpod-conmon-…`) fail the 64-hex test.
    let unit = c.strip_suffix(".scope").unwrap_or(c);
    for prefix in ["docker-", "cri-containerd-", "crio-", "libpod-"] {
        if let Some(id) = unit.strip_prefix(prefix) {
            if is_hex64(id) {
                return Some(Cow::Borrowed(id));
            }
        }
    }
    // docker and Kubernetes with the cgroupfs driver: `/docker/<64hex>`,
    // `/kubepods/<qos>/pod<uid>/<64hex>`.
    if is_hex64(c) {
        return Some(Cow::Borrowed(c));
    }
    // systemd-nspawn and other machined machines (libvirt too).
    if let Some(name) = c
        .strip_prefix("machine-")
        .and_then(|r| r.strip_suffix(".scope"))
        .or_else(|| {
            c.strip_prefix("systemd-nspawn@")
                .and_then(|r| r.strip_suffix(".service"))
        })
    {
        if !name.is_empty() {
            return Some(unescape_unit(name));
        }
    }
    // LXC 4+ (`/lxc.payload.<name>`), and earlier (`/lxc/<name>`).
    if let Some(name) = c.strip_prefix("lxc.payload.") {
        if !name.is_empty() {
            return Some(Cow::Borrowed(name));
        }
    }
    if parent == Some("lxc") {
        return Some(Cow::Borrowed(c));
    }
    None
}

/// The container id in a cgroup path: that of the deepest path component
/// naming a container (cgroups a container makes inside itself belong to
/// it). Docker, containerd and Kubernetes, cri-o and podman ids are the
/// full 64 hex characters (print 12, as `docker ps` does); systemd-nspawn
/// and machined machines and LXC containers give their name (unescaped,
/// hence the [`Cow`]). `None` when no component is a container.
pub fn container_id(path: &str) -> Option<Cow<'_, str>> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    (0..comps.len())
        .rev()
        .find_map(|i| component_container(comps[i], i.checked_sub(1).map(|p| comps[p])))
}

/// How a container id is shown in messages: 12 characters of a 64-hex id.
fn short(id: &str) -> &str {
    if is_hex64(id) {
        &id[..12]
    } else {
        id
    }
}

/// The cgroup directory of the container whose id starts with `id` (a
/// prefix, like docker's short ids; an id that matches in full wins). The
/// container's directory is the shallowest one with its id. The errors are
/// one sentence each: no such container (how many there are, a few of
/// their ids), or an ambiguous prefix (the matches).
pub fn find_container(root: &Path, id: &str) -> Result<PathBuf, String> {
    if id.is_empty() {
        return Err("an empty container id matches every container".to_string());
    }
    // Container id → the shallowest path with it; `walk` goes shallowest
    // first.
    let mut containers: HashMap<String, String> = HashMap::new();
    walk(root, |rel, _| {
        if let Some(c) = container_id(rel) {
            if !containers.contains_key(c.as_ref()) {
                containers.insert(c.into_owned(), rel.to_string());
            }
        }
    })
    .map_err(|e| format!("cannot read the cgroup2 root {}: {e}", root.display()))?;
    let dir = |rel: &str| root.join(rel.trim_start_matches('/'));
    if let Some(rel) = containers.get(id) {
        return Ok(dir(rel));
    }
    let mut matches: Vec<&str> = containers
        .keys()
        .map(String::as_str)
        .filter(|c| c.starts_with(id))
        .collect();
    matches.sort_unstable();
    match matches.as_slice() {
        [one] => Ok(dir(&containers[*one])),
        [] => {
            if containers.is_empty() {
                return Err(format!(
                    "no container `{id}`: there are no containers under the cgroup2 root {}",
                    root.display()
                ));
            }
            let mut all: Vec<&str> = containers.keys().map(|c| short(c)).collect();
            all.sort_unstable();
            let more = all.len().saturating_sub(5);
            all.truncate(5);
            let n = containers.len();
            Err(format!(
                "no container id starts with `{id}` among the {n} container{} under {} ({}{})",
                if n == 1 { "" } else { "s" },
                root.display(),
                all.join(", "),
                if more > 0 {
                    format!(", and {more} more")
                } else {
                    String::new()
                }
            ))
        }
        many => {
            // As long as it takes to tell the matches apart, at least 12.
            let len = (12..=64)
                .find(|&l| {
                    let mut seen = HashSet::new();
                    many.iter().all(|m| seen.insert(&m[..l.min(m.len())]))
                })
                .unwrap_or(64);
            let shown: Vec<&str> = many
                .iter()
                .map(|m| if is_hex64(m) { &m[..len] } else { *m })
                .collect();
            Err(format!(
                "container id `{id}` is ambiguous: the ids of {} containers start with it ({})",
                many.len(),
                shown.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    const ID_A: &str = "3f5e3d5bd7a8c4cf7e8c16d9f7b26f0a0b3f8d7ad2c1e7b5c9e6b0a4d3f2e1c0";
    const ID_B: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

    #[test]
    fn container_ids() {
        assert!(is_hex64(ID_A) && is_hex64(ID_B));
        let table: Vec<(String, Option<&str>)> = vec![
            // docker, systemd driver and cgroupfs driver
            (format!("/system.slice/docker-{ID_A}.scope"), Some(ID_A)),
            (format!("/docker/{ID_A}"), Some(ID_A)),
            // a cgroup the container made inside itself
            (format!("/system.slice/docker-{ID_A}.scope/init.scope"), Some(ID_A)),
            (format!("/docker/{ID_A}/system.slice/cron.service"), Some(ID_A)),
            // docker in docker: the deepest
            (format!("/docker/{ID_A}/docker/{ID_B}"), Some(ID_B)),
            // Kubernetes with containerd, systemd and cgroupfs drivers
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/\
                     kubepods-burstable-pod6d2f0b1c_8a3e_4f5d_9b7c_1e2d3f4a5b6c.slice/\
                     cri-containerd-{ID_A}.scope"
                ),
                Some(ID_A),
            ),
            (
                format!("/kubepods/besteffort/pod6d2f0b1c-8a3e-4f5d-9b7c-1e2d3f4a5b6c/{ID_B}"),
                Some(ID_B),
            ),
            (
                format!("/kubepods/pod6d2f0b1c-8a3e-4f5d-9b7c-1e2d3f4a5b6c/{ID_B}"),
                Some(ID_B),
            ),
            // cri-o, not its conmon
            (
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/\
                     kubepods-besteffort-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/\
                     crio-{ID_A}.scope"
                ),
                Some(ID_A),
            ),
            (format!("/machine.slice/crio-conmon-{ID_A}.scope"), None),
            // podman, not its conmon
            (format!("/machine.slice/libpod-{ID_B}.scope"), Some(ID_B)),
            (
                format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID_B}.scope/container"),
                Some(ID_B),
            ),
            (format!("/machine.slice/libpod-conmon-{ID_B}.scope"), None),
            (format!("/libpod_parent/libpod-{ID_B}"), Some(ID_B)),
            // systemd-nspawn / machined
            ("/machine.slice/machine-debian\\x2dbuild.scope".into(), Some("debian-build")),
            ("/machine.slice/machine-web.scope/payload/system.slice".into(), Some("web")),
            ("/machine.slice/systemd-nspawn@arch.service/payload".into(), Some("arch")),
            ("/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope".into(), Some("qemu-1-vm1")),
            // LXC
            ("/lxc.payload.web01".into(), Some("web01")),
            ("/lxc.payload.web01/system.slice/nginx.service".into(), Some("web01")),
            ("/lxc/db02".into(), Some("db02")),
            ("/lxc/db02/init.scope".into(), Some("db02")),
            // not containers
            ("/user.slice/user-1000.slice/session-3.scope".into(), None),
            ("/system.slice/docker.service".into(), None),
            ("/system.slice/containerd.service".into(), None),
            ("/".into(), None),
            ("".into(), None),
            ("/lxc.monitor.web01".into(), None),
            ("/lxc".into(), None),
            ("/machine.slice".into(), None),
            ("/machine.slice/machine-.scope".into(), None),
            (
                "/kubepods.slice/kubepods-burstable.slice/\
                 kubepods-burstable-pod6d2f0b1c_8a3e_4f5d_9b7c_1e2d3f4a5b6c.slice"
                    .into(),
                None,
            ),
            // almost ids
            (format!("/docker/{}", &ID_A[..63]), None),
            (format!("/docker/{}", ID_A.to_uppercase()), None),
            (format!("/system.slice/docker-{ID_A}x.scope"), None),
        ];
        for (path, want) in &table {
            assert_eq!(container_id(path).as_deref(), *want, "{path}");
        }
    }

    #[test]
    fn mountinfo() {
        let text = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                    32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
                    41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n\
                    42 31 0:38 / /elsewhere rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(text),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            cgroup2_mount("7 1 0:5 / /my\\040cg rw - cgroup2 none rw\n"),
            Some(PathBuf::from("/my cg"))
        );
        assert_eq!(
            cgroup2_mount("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"),
            None
        );
        assert_eq!(unescape_octal("a\\134b\\011"), b"a\\b\t");
        assert_eq!(unescape_octal("x\\09"), b"x\\09");
    }

    /// Test cgroups, removed (deepest first) when dropped, also when a
    /// test fails.
    struct Dirs(Vec<PathBuf>);

    impl Dirs {
        fn make(&mut self, dir: PathBuf) -> PathBuf {
            std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
            self.0.push(dir.clone());
            dir
        }
    }

    impl Drop for Dirs {
        fn drop(&mut self) {
            for d in self.0.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        }
    }

    fn test_name() -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        format!(
            "tracectl-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A 64-hex id unique to this process and call.
    fn test_hex(tail: char) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let head = format!(
            "{:08x}{:04x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        format!("{head}{}", tail.to_string().repeat(52))
    }

    #[test]
    fn real_ids_and_paths() {
        let root = cgroup2_root().expect("a cgroup2 mount");
        assert_eq!(cgroup_id(&root).unwrap(), 1);
        let mut dirs = Dirs(Vec::new());
        let name = test_name();
        let top = dirs.make(root.join(&name));
        let id = cgroup_id(&top).unwrap();
        assert_eq!(id, std::fs::metadata(&top).unwrap().ino());
        let mut paths = CgroupPaths::new(root.clone());
        assert_eq!(paths.path(id), Some(format!("/{name}").as_str()));
        assert_eq!(paths.path(1), Some("/"));

        let nested = dirs.make(top.join("inner"));
        // A rescan for the unknown id waits for the interval since the last.
        std::thread::sleep(Duration::from_millis(150));
        let nested_id = cgroup_id(&nested).unwrap();
        assert_eq!(
            paths.path(nested_id),
            Some(format!("/{name}/inner").as_str())
        );

        // Not cgroup2: a plain directory, a missing one.
        let err = cgroup_id(Path::new("/proc")).unwrap_err();
        assert!(
            err.to_string().contains("not in a cgroup2 filesystem"),
            "{err}"
        );
        assert!(cgroup_id(&root.join(format!("{name}-missing"))).is_err());

        // resolve_path: every spelling of the same directory.
        for user in [
            top.to_str().unwrap().to_string(),
            format!("/{name}"),
            name.clone(),
            format!("/{name}/"),
        ] {
            assert_eq!(resolve_path(&root, &user).unwrap(), top, "{user}");
        }
        assert_eq!(
            resolve_path(&root, &format!("/{name}/inner")).unwrap(),
            nested
        );
        assert_eq!(resolve_path(&root, "/").unwrap(), root);
        let err = resolve_path(&root, "/no-such.slice/x.scope").unwrap_err();
        assert_eq!(
            err,
            format!(
                "no cgroup `/no-such.slice/x.scope` under the cgroup2 root {}",
                root.display()
            )
        );
        let err = resolve_path(&root, &format!("/{name}/../..")).unwrap_err();
        assert!(err.contains("not a cgroup under the cgroup2 root"), "{err}");
        assert!(resolve_path(&root, "").is_err());
    }

    /// An id unknown at a scan is found by a later one, but not before the
    /// rescan interval has passed (the negative cache).
    #[test]
    fn refresh_on_miss() {
        let root = cgroup2_root().expect("a cgroup2 mount");
        let mut paths = CgroupPaths::new(root.clone());
        assert_eq!(paths.rescan_interval, Duration::from_millis(100));
        paths.rescan_interval = Duration::from_secs(3600);
        assert_eq!(paths.path(1), Some("/"));
        let mut dirs = Dirs(Vec::new());
        let name = test_name();
        let late = dirs.make(root.join(&name));
        let id = cgroup_id(&late).unwrap();
        assert_eq!(paths.path(id), None, "rescanned within the interval");
        paths.rescan_interval = Duration::from_millis(20);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(paths.path(id), Some(format!("/{name}").as_str()));
        // What was learned stays after the cgroup is gone.
        drop(dirs);
        assert_eq!(paths.path(id), Some(format!("/{name}").as_str()));
        assert_eq!(paths.path(u64::MAX), None);
    }

    #[test]
    fn real_containers() {
        let root = cgroup2_root().expect("a cgroup2 mount");
        let mut dirs = Dirs(Vec::new());
        let top = dirs.make(root.join(test_name()));
        let hex = test_hex('c');
        let scope = dirs.make(top.join(format!("docker-{hex}.scope")));
        // The container's own cgroups do not make it ambiguous.
        dirs.make(scope.join("init.scope"));
        assert_eq!(find_container(&root, &hex[..12]).unwrap(), scope);
        assert_eq!(find_container(&root, &hex).unwrap(), scope);

        let mut wrong = hex.clone();
        wrong.replace_range(63.., "0");
        let err = find_container(&root, &wrong).unwrap_err();
        assert!(
            err.starts_with(&format!("no container id starts with `{wrong}` among the ")),
            "{err}"
        );
        let listed = &err[err.rfind('(').unwrap()..];
        assert!(listed.contains(&hex[..12]), "{err}");
        assert!(!listed.contains(&hex[..13]), "short ids: {err}");

        // Two ids sharing 12 characters: ambiguous at 12, found at 13.
        let mut twin = hex.clone();
        twin.replace_range(12.., &"d".repeat(52));
        let twin_dir = dirs.make(top.join(format!("libpod-{twin}")));
        let err = find_container(&root, &hex[..12]).unwrap_err();
        assert_eq!(
            err,
            format!(
                "container id `{}` is ambiguous: the ids of 2 containers start with it ({}, {})",
                &hex[..12],
                &hex[..13],
                &twin[..13]
            )
        );
        assert_eq!(find_container(&root, &twin[..13]).unwrap(), twin_dir);
        assert!(find_container(&root, "").is_err());
    }

    #[test]
    fn no_containers_message() {
        // A tree without containers: a fresh cgroup as the root.
        let root = cgroup2_root().expect("a cgroup2 mount");
        let mut dirs = Dirs(Vec::new());
        let top = dirs.make(root.join(test_name()));
        dirs.make(top.join("plain.slice"));
        let err = find_container(&top, "abc").unwrap_err();
        assert_eq!(
            err,
            format!(
                "no container `abc`: there are no containers under the cgroup2 root {}",
                top.display()
            )
        );
        // Seven containers: five listed, sorted, and a count of the rest.
        let ids: Vec<String> = (0..7).map(|i| format!("{i:x}{}", &ID_A[1..])).collect();
        for id in &ids {
            dirs.make(top.join(format!("docker-{id}.scope")));
        }
        let err = find_container(&top, "f").unwrap_err();
        let shown: Vec<&str> = ids[..5].iter().map(|i| &i[..12]).collect();
        assert_eq!(
            err,
            format!(
                "no container id starts with `f` among the 7 containers under {} ({}, and 2 more)",
                top.display(),
                shown.join(", ")
            )
        );
    }
}
