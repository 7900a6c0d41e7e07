//! Stacks (spec-v2 section 4): a `kstack`/`ustack` slot holds a stack's id
//! in the spec's shared stack map (`templates-ebpf/stack.h`); this module
//! turns an id into symbolized frames, once per stack.
//!
//! [`Stacks`] owns the map; frames are named by the process's shared
//! symbolizer ([`crate::symbolize::shared_lock`]). A kernel stack is read and
//! symbolized the first time its id is printed and cached by id (the
//! templates never reuse an id: a colliding stack is refused, not
//! overwritten); a user stack is cached by id and process, as its
//! addresses mean something only in that process. A negative id is the
//! errno `bpf_get_stackid()` returned: the stack prints as why it is
//! missing (`[no user stack]` for a kernel thread, `[stack lost: …]` when
//! the map was full or the stack's bucket taken), and the losses are
//! counted for the summary at exit.
//!
//! Frames are kept innermost first, as the kernel gives them; `kstack(N)`
//! keeps the innermost N.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use aya::maps::{MapData, StackTraceMap};

use crate::symbolize::Frame;

/// A stack as printed: its frames, innermost first, or why it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// The frames, innermost first.
    pub frames: Vec<Frame>,
    /// Why the stack is missing or empty (`no user stack`), when it is.
    pub missing: Option<&'static str>,
    /// Kernel (false) or user (true) frames.
    pub user: bool,
}

impl Stack {
    /// A stack with no frames, for `why`.
    fn missing(user: bool, why: &'static str) -> Stack {
        Stack {
            frames: Vec::new(),
            missing: Some(why),
            user,
        }
    }

    /// The text of one line per frame (`func+0x1a [module]`), innermost
    /// first; a missing stack is one line, `[why]`.
    pub fn lines(&self) -> Vec<String> {
        if self.frames.is_empty() {
            vec![self.why()]
        } else {
            self.frames.iter().map(Frame::to_string).collect()
        }
    }

    /// What a table cell shows: the innermost frame's function, or
    /// `[why]` for a stack without frames.
    pub fn innermost(&self) -> std::borrow::Cow<'_, str> {
        match self.frames.first() {
            Some(f) => f.function(),
            None => self.why().into(),
        }
    }

    /// `[why]`: why the stack has no frames.
    fn why(&self) -> String {
        format!("[{}]", self.missing.unwrap_or("no frames"))
    }
}

impl fmt::Display for Stack {
    /// The frames joined by `;`, innermost first (CSV, keys' text).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join(";"))
    }
}

/// Why a stack id is negative: `bpf_get_stackid()`'s errno.
fn why_missing(errno: i64, user: bool) -> &'static str {
    match (-errno) as i32 {
        // No user stack: a kernel thread, or an event in interrupt context.
        libc::EFAULT if user => "no user stack",
        libc::EFAULT => "no kernel stack",
        libc::EEXIST => "stack lost: its hash bucket was taken (a collision)",
        libc::ENOMEM => "stack lost: the stack map is full",
        _ => "stack lost",
    }
}

/// Stacks that could not be printed, by cause, for the summary at exit.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StackLosses {
    /// Refused in the kernel: a hash collision or a full map.
    pub lost: u64,
    /// Ids the map no longer held (should not happen: ids are never reused).
    pub gone: u64,
}

/// The shared stack map and everything printed from it.
pub struct Stacks {
    map: StackTraceMap<MapData>,
    kernel: HashMap<u32, Arc<Stack>>,
    user: HashMap<(u32, u32), Arc<Stack>>,
    losses: StackLosses,
}

/// A [`Stacks`] shared by the decoders of a session.
pub type SharedStacks = Arc<Mutex<Stacks>>;

impl Stacks {
    /// Prints the stacks of `map`.
    pub fn new(map: StackTraceMap<MapData>) -> Stacks {
        Stacks {
            map,
            kernel: HashMap::new(),
            user: HashMap::new(),
            losses: StackLosses::default(),
        }
    }

    /// The stack whose id (a slot's 8 bytes) is `raw`; user frames are
    /// symbolized in process `pid`. `frames`: keep the innermost this
    /// many (0: all).
    pub fn stack(&mut self, raw: u64, user: bool, pid: u32, frames: u32) -> Arc<Stack> {
        let id = raw as i64;
        if id < 0 || id > u32::MAX as i64 {
            if id != -(libc::EFAULT as i64) {
                self.losses.lost += 1;
            }
            return Arc::new(Stack::missing(user, why_missing(id, user)));
        }
        let id = id as u32;
        let cached = if user {
            self.user.get(&(id, pid))
        } else {
            self.kernel.get(&id)
        };
        let full = match cached {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(self.read(id, user, pid));
                if user {
                    self.user.insert((id, pid), s.clone());
                } else {
                    self.kernel.insert(id, s.clone());
                }
                s
            }
        };
        if frames == 0 || full.frames.len() <= frames as usize {
            return full;
        }
        Arc::new(Stack {
            frames: full.frames[..frames as usize].to_vec(),
            missing: None,
            user,
        })
    }

    fn read(&mut self, id: u32, user: bool, pid: u32) -> Stack {
        let trace = match self.map.get(&id, 0) {
            Ok(t) => t,
            Err(_) => {
                self.losses.gone += 1;
                return Stack::missing(user, "stack gone from the stack map");
            }
        };
        let addrs: Vec<u64> = trace.frames().iter().map(|f| f.ip).collect();
        let mut s = crate::symbolize::shared_lock();
        let frames = if user {
            s.user(pid, &addrs)
        } else {
            s.kernel(&addrs)
        };
        Stack {
            missing: frames.is_empty().then_some("empty stack"),
            frames,
            user,
        }
    }

    /// Stacks that could not be printed so far.
    pub fn losses(&self) -> StackLosses {
        self.losses
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_stacks_say_why() {
        assert_eq!(why_missing(-(libc::EFAULT as i64), true), "no user stack");
        assert!(why_missing(-(libc::EEXIST as i64), false).contains("collision"));
        assert!(why_missing(-(libc::ENOMEM as i64), false).contains("full"));
        let s = Stack::missing(true, "no user stack");
        assert_eq!(s.lines(), ["[no user stack]"]);
        assert_eq!(s.to_string(), "[no user stack]");
    }
}
