//! A private read-only memory mapping of a whole file: kernel BTF here,
//! ELF files in the runtime's symbolizer.

use std::os::fd::AsRawFd;
use std::path::Path;

/// A private read-only mapping of a whole regular file. A file truncated
/// while mapped would fault on access: map files that do not change under
/// you (`/sys/kernel/btf/vmlinux`, installed binaries and libraries).
pub struct Mapped {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone.
unsafe impl Send for Mapped {}
// SAFETY: as above; shared references only read it.
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps `path`; `None` when it cannot be opened or mapped, or is not a
    /// regular, non-empty file (older kernels refuse mmap of sysfs BTF: the
    /// caller then reads the file).
    pub fn open(path: &Path) -> Option<Mapped> {
        let file = std::fs::File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        let len = usize::try_from(meta.len()).ok()?;
        if !meta.is_file() || len == 0 {
            return None;
        }
        // SAFETY: a fresh private read-only mapping of an open file;
        // checked for failure.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then_some(Mapped {
            ptr: ptr as *const u8,
            len,
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `drop`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

impl std::fmt::Debug for Mapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapped").field("len", &self.len).finish()
    }
}
