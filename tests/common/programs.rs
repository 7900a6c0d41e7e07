//! Programs with known call chains, built with frame pointers, for the
//! stack tests (tests/stacks.rs) and the stack recipes' tests
//! (tests/recipes.rs): each makes its event from a function called by
//! another, both named for the test to find.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Frame pointers in every function (gcc omits a leaf's above -O0): the
/// kernel walks user stacks by frame pointer.
pub const FP: &[&str] = &["-O0", "-fno-omit-frame-pointer"];

/// Spins in acc_inner, called from acc_outer, until its stdin closes
/// (at most argv[1] seconds).
pub const SPIN_C: &str = r#"
#include <poll.h>
#include <stdlib.h>
#include <time.h>
volatile unsigned long sink;
__attribute__((noinline)) void acc_inner(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		sink += i * i;
}
__attribute__((noinline)) void acc_outer(unsigned long n)
{
	acc_inner(n);
	sink ^= 1;
}
int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct pollfd in = { 0, POLLIN, 0 };

		acc_outer(200000);
		/* Until stdin closes (Alive::end), at most `secs`. */
		if (poll(&in, 1, 0) > 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	return 0;
}
"#;

/// Opens argv[1] argv[2] times from open_inner, called from open_outer.
pub const OPEN_C: &str = r#"
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
/* The system call made here, not in libc: Debian's libc has no frame
 * pointers, so a stack walked from inside its open() would skip its caller. */
__attribute__((noinline)) int open_inner(const char *path)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(257L), "D"((long)AT_FDCWD), "S"(path), "d"((long)O_RDONLY)
			 : "rcx", "r11", "memory");
	return (int)ret;
}
__attribute__((noinline)) void open_outer(const char *path, int n)
{
	for (int i = 0; i < n; i++) {
		int fd = open_inner(path);
		if (fd >= 0)
			close(fd);
	}
}
int main(int argc, char **argv)
{
	char c;

	open_outer(argv[1], atoi(argv[2]));
	/* Alive until stdin closes, so that its stacks can be symbolized. */
	if (argc > 3) {
		write(1, "opened\n", 7);
		read(0, &c, 1);
	}
	return 0;
}
"#;

/// Sleeps argv[2] times argv[1] milliseconds in sleep_inner (the system
/// call made there), called from sleep_outer; prints a line, then waits
/// for its stdin to close.
pub const SLEEP_C: &str = r#"
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
__attribute__((noinline)) void sleep_inner(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(35L), "D"(&ts), "S"(0L)
			 : "rcx", "r11", "memory");
}
__attribute__((noinline)) void sleep_outer(long ms, int n)
{
	for (int i = 0; i < n; i++)
		sleep_inner(ms);
}
int main(int argc, char **argv)
{
	char c;

	sleep_outer(atol(argv[1]), atoi(argv[2]));
	write(1, "slept\n", 6);
	read(0, &c, 1);
	return 0;
}
"#;

/// Builds `src` as `dir/name` with frame pointers.
pub fn build(dir: &Path, name: &str, src: &str) -> PathBuf {
    super::cc(dir, name, src, FP)
}

/// A program the test started: alive while the tracer prints.
pub struct Alive(std::process::Child);

impl Alive {
    /// Starts `bin ARGS`; with `wait_line`, returns once it printed a line.
    pub fn start(bin: &Path, args: &[&str], wait_line: bool) -> Alive {
        let mut c = Command::new(bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        if wait_line {
            let mut line = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(c.stdout.as_mut().unwrap()),
                &mut line,
            )
            .unwrap();
            assert!(!line.is_empty(), "{} ended early", bin.display());
        }
        Alive(c)
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Lets it end (closes its stdin) and waits for it.
    pub fn end(mut self) {
        drop(self.0.stdin.take());
        let st = super::wait_child(&mut self.0, "the test program");
        assert!(st.success(), "{st}");
    }
}
