//! bpftrace spoken here: the forms people bring from bpftrace, recognised
//! where they make an error, and answered with the tracectl spelling
//! (issue 17; docs/language.md "Coming from bpftrace").
//!
//! Two places ask: the syntax error of a DSL text ([`syntax_hints`], at
//! the token the parser stopped at: `@map[...] = count()`, a `/predicate/`,
//! `printf(...)`, `BEGIN`/`END`), and the resolver when a name is unknown
//! ([`builtin_hint`]: `nsecs`, `curtask`, `elapsed`, `$1`, ...).

/// bpftrace builtins with a different tracectl name, or none: the advice.
pub fn builtin_hint(name: &str) -> Option<String> {
    Some(match name {
        "nsecs" => "bpftrace's `nsecs` is `ts` here (nanoseconds, CLOCK_MONOTONIC)".into(),
        "curtask" => "bpftrace's `curtask` is `task` here (`task->real_parent->tgid`)".into(),
        "elapsed" => "bpftrace's `elapsed` has no builtin here: the time column (`--time relative`) is seconds since the first event".into(),
        "username" => "bpftrace's `username` is not offered: `uid` is the number".into(),
        "func" | "probe" => "bpftrace's `func`/`probe` are the probe's label here: the `probe` column (JSON `\"probe\"`), named with `as LABEL` (YAML `name:`)".into(),
        "sarg0" | "sarg1" | "sarg2" => "stack arguments (`sargN`) are not offered: a function's first 6 arguments are `arg0`..`arg5` or their names".into(),
        "numaid" => "bpftrace's `numaid` is not offered".into(),
        "rand" => "bpftrace's `rand` is not offered".into(),
        n if n.starts_with("reg") => "bpftrace's `reg(\"…\")` is not offered: arguments by name or `argN`".into(),
        _ => return None,
    })
}

/// Why a probe name with a wildcard is refused, and what does the job.
pub const WILDCARDS: &str = "wildcards are not supported: a probe names one function or tracepoint (one program each, configured from BTF); to count system calls by name, `tracectl run syscount` reads `raw_syscalls:sys_enter` once for all of them";

/// bpftrace probe kinds tracectl spells otherwise, or does not offer.
pub fn probe_kind_hint(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "interval" => "bpftrace's `interval:s:N` is `output interval Ns` here (YAML `output: { interval: 1s }`): aggregations print every interval",
        "BEGIN" | "END" => "tracectl has no BEGIN/END probes: aggregations print at exit (and every `output interval`)",
        "software" | "hardware" | "s" | "h" => "perf software and hardware events are not offered; `profile:hz:N` samples CPUs",
        "usdt" | "U" => "USDT probes are not offered yet; a `uprobe:` on the function the probe sits in is the nearest",
        "watchpoint" | "w" | "asyncwatchpoint" => "watchpoints are not offered",
        "iter" => "BPF iterators are not offered",
        _ => return None,
    })
}

/// bpftrace functions with a different tracectl form, or none: the advice.
pub fn function_hint(func: &str) -> Option<&'static str> {
    Some(match func {
        "printf" => "bpftrace's `printf()`: fields are named values here, `{ pid, comm, path = str(filename) }`, printed as columns (table), JSON or CSV",
        "print" | "clear" | "zero" | "delete" => "bpftrace's map statements have no tracectl form: aggregations print per `output interval` and at exit (`output cumulative true` keeps totals)",
        "ntop" => "bpftrace's `ntop()` is `ip4()` (a `__be32`) or `ip6()` (16 bytes) here",
        "buf" => "bpftrace's `buf(p, n)` is `bytes(p, n)` here",
        "kaddr" | "uaddr" => "addresses of kernel or user symbols are not offered; `ksym()`/`usym()` name an address",
        "system" | "cat" | "exit" | "override" | "signal_send" => "tracectl is read-only and runs no commands from probes: it only reads and prints",
        "strftime" | "time" => "the time column is the output's (`output time absolute`: RFC 3339 with nanoseconds)",
        "cgroupid" => "bpftrace's `cgroupid(path)`: filter by cgroup with `--cgroup PATH` (in the kernel), print one with `cgroup_path(cgroup)`",
        "sizeof" | "offsetof" => "types are read from kernel BTF: members are reached by path (`sk->__sk_common.skc_dport`)",
        "strncmp" | "strcontains" => "compare strings with `==` and a literal (`comm == \"bash\"`)",
        _ => return None,
    })
}

/// Advice for a syntax error in a DSL `text` at byte `pos` (the token the
/// parser could not take), when what is there is a bpftrace form.
pub fn syntax_hints(text: &str, pos: usize) -> Vec<String> {
    let mut out = Vec::new();
    let pos = pos.min(text.len());
    let rest = &text[pos..];
    // The statement so far: from the last `{` or `;`.
    let stmt = &text[text[..pos].rfind(['{', ';']).map_or(0, |i| i + 1)..pos];
    // `/pred/ {`: a second `/`, then the probe's body.
    let predicate = rest.strip_prefix('/').and_then(|r| {
        let (pred, after) = r.split_once('/')?;
        after.trim_start().starts_with('{').then_some(pred.trim())
    });
    if rest.starts_with('@') {
        out.push(map_advice(rest));
    } else if let Some(pred) = predicate {
        out.push(format!(
            "bpftrace's predicate `/…/` is a filter after the fields here: `PROBE {{ … }} where {}`",
            if pred.is_empty() { "…" } else { pred }
        ));
    } else if let Some(h) = ["printf", "print", "clear", "zero", "delete"]
        .iter()
        .find(|f| {
            rest.starts_with(&format!("{f}(")) || stmt.trim_start().starts_with(&format!("{f}("))
        })
        .and_then(|f| function_hint(f))
    {
        out.push(h.into());
    } else if let Some(w) = ["BEGIN", "END"].iter().find(|w| rest.starts_with(**w)) {
        out.push(format!(
            "bpftrace's `{w}` has no tracectl form: aggregations print at exit (and every `output interval N`), and tracectl says on stderr when it is attached"
        ));
    } else if rest.starts_with(';') {
        out.push("fields are separated by `,` (a `;` ends a statement)".into());
    }
    out
}

/// `@name[k1, k2] = func(args)` as tracectl's aggregation.
fn map_advice(rest: &str) -> String {
    let stmt = rest[1..]
        .split([';', '}', '\n'])
        .next()
        .unwrap_or("")
        .trim();
    let (lhs, rhs) = stmt.split_once('=').unwrap_or((stmt, ""));
    let (name, keys) = match lhs.trim().split_once('[') {
        Some((n, k)) => (n.trim(), k.trim_end().trim_end_matches(']').trim()),
        None => (lhs.trim(), ""),
    };
    let rhs = rhs.trim();
    let func = rhs.split('(').next().unwrap_or("").trim();
    let known = crate::aggregate::is_aggregate(func);
    let name = if name.is_empty() {
        if known {
            func
        } else {
            "value"
        }
    } else {
        name
    };
    let value = if known { rhs } else { "count()" };
    let by = if keys.is_empty() {
        String::new()
    } else {
        format!(" by {keys}")
    };
    format!(
        "bpftrace's maps are aggregations here: `PROBE {{ {name} = {value} }}{by}` (YAML: `fields: {{ {name}: {value} }}`{})",
        if keys.is_empty() {
            String::new()
        } else {
            format!(", `by: [{keys}]`")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_rewritten() {
        let h = syntax_hints("t:x { @[comm] = count(); }", 6);
        assert_eq!(
            h,
            ["bpftrace's maps are aggregations here: `PROBE { count = count() } by comm` (YAML: `fields: { count: count() }`, `by: [comm]`)"]
        );
        let h = syntax_hints("t:x { @bytes[comm, pid] = sum(ret) }", 6);
        assert!(
            h[0].contains("`PROBE { bytes = sum(ret) } by comm, pid`"),
            "{h:?}"
        );
        let h = syntax_hints("t:x { @x = hist(ret) }", 6);
        assert!(h[0].contains("{ x = hist(ret) }`"), "{h:?}");
    }

    #[test]
    fn predicates_and_statements() {
        let text = "t:x /comm == \"bash\"/ { pid }";
        let h = syntax_hints(text, 4);
        assert!(h[0].contains("where comm == \"bash\""), "{h:?}");
        // Division is not a predicate.
        assert!(syntax_hints("t:x { a = b / 2 }", 12).is_empty());
        assert!(syntax_hints("t:x { printf(\"%d\", pid) }", 6)[0].contains("fields are named"));
        assert!(syntax_hints("BEGIN { }", 0)[0].contains("`BEGIN`"));
        assert_eq!(
            builtin_hint("nsecs").as_deref().map(|h| h.contains("`ts`")),
            Some(true)
        );
        assert!(builtin_hint("comm").is_none());
    }
}
