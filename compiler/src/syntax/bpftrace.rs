//! bpftrace spoken here: the forms people bring from bpftrace, recognised
//! where they make an error, and answered with the tracectl spelling
//! (issue 17; docs/language.md "Coming from bpftrace").
//!
//! Two places ask: the syntax error of a DSL text ([`syntax_hints`], at
//! the token the parser stopped at: `@map[...] = count()`, a `/predicate/`,
//! `printf(...)`, `BEGIN`/`END`), and the resolver when a name is unknown
//! ([`builtin_hint`]: `nsecs`, `curtask`, `elapsed`, ...; [`function_hint`],
//! [`call_hint`], [`kernel_target_hint`], [`probe_kind_hint`]).

use crate::diag::{Diagnostic, Span};
use crate::syntax::ast::{Expr, ExprKind};

/// bpftrace builtins with a different tracectl name, or none: the advice.
pub fn builtin_hint(name: &str) -> Option<String> {
    Some(match name {
        "nsecs" => "bpftrace's `nsecs` is `ts` here (nanoseconds, CLOCK_MONOTONIC)".into(),
        "curtask" => "bpftrace's `curtask` is `task` here (`task->real_parent->tgid`)".into(),
        "elapsed" => "bpftrace's `elapsed` has no builtin here: the time column (`--time relative`) is seconds since the first event".into(),
        "jiffies" => "bpftrace's `jiffies` is not offered: `ts` is the time in nanoseconds (CLOCK_MONOTONIC)".into(),
        "username" => "bpftrace's `username` is not offered: `uid` is the number".into(),
        "func" | "probe" => "bpftrace's `func`/`probe` are the probe's label here: the `probe` column (JSON `\"probe\"`), named with `as LABEL` in the DSL, `name:` in YAML".into(),
        "sarg0" | "sarg1" | "sarg2" => "stack arguments (`sargN`) are not offered: a function's first 6 arguments are `arg0`..`arg5` or their names".into(),
        "numaid" => "bpftrace's `numaid` is not offered".into(),
        "rand" => "bpftrace's `rand` is not offered".into(),
        n if n.starts_with("reg") => "bpftrace's `reg(\"…\")` is not offered: arguments by name or `argN`".into(),
        _ => return None,
    })
}

/// Why a probe name with a wildcard is refused, and what does the job.
pub const WILDCARDS: &str = "wildcards are not supported: a probe names one function or tracepoint (one program each, configured from BTF); to count system calls by name, `tracectl run syscount` reads `raw_syscalls:sys_enter` once for all of them";

/// Advice for a kernel function name that is not in BTF but is a bpftrace
/// form: a wildcard, `FUNC+0x10` (an offset), `MODULE:FUNC`. `known` says
/// whether a name is a kernel function.
pub fn kernel_target_hint(func: &str, known: &dyn Fn(&str) -> bool) -> Option<String> {
    if func.contains(['*', '?', '{']) {
        return Some(WILDCARDS.into());
    }
    if let Some((f, off)) = func.split_once('+') {
        return Some(format!(
            "bpftrace's `{f}+{off}` (an offset into the function) is not offered: a probe is at a function's entry (`kprobe:{f}`, `kfunc:{f}`) or its return (`kretfunc:{f}`)"
        ));
    }
    if let Some((module, f)) = func.split_once(':') {
        if known(f) {
            return Some(format!(
                "bpftrace's module-qualified `{module}:{f}` is `{f}` here: kernel functions (modules' too) are looked up by name in BTF"
            ));
        }
    }
    None
}

/// bpftrace probe kinds tracectl spells otherwise, or does not offer.
pub fn probe_kind_hint(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "interval" | "i" => "bpftrace's `interval:s:N { print(@); clear(@); }` is the output interval here: aggregations print, then reset, every interval (`--interval 1s`, or `interval` in the spec's output settings)",
        "BEGIN" | "END" => "tracectl has no BEGIN/END probes: aggregations print at exit (and every `output interval`)",
        "p" => "bpftrace's `p:` is `profile:` here, at a rate: `profile:hz:99`",
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
        "print" | "clear" | "zero" | "delete" => "bpftrace's map statements have no tracectl form: aggregations print at exit and every output interval (`--interval 1s`), reset after each print unless the output is cumulative",
        "exit" => "bpftrace's `exit()`: tracectl stops after `--duration 10s`, `--max-events N`, or Ctrl-C",
        "ntop" => "bpftrace's `ntop()` is `ip4()` (a `__be32`) or `ip6()` (16 bytes) here, without the family argument",
        "buf" => "bpftrace's `buf(p, n)` is `bytes(p, n)` here",
        "macaddr" => "bpftrace's `macaddr()` is not offered: `bytes(p, 6)` prints the 6 bytes in hex",
        "path" => "bpftrace's `path()` is not offered: `str(path->dentry->d_name.name)` prints the file's name",
        "kptr" | "uptr" => "bpftrace's `kptr()`/`uptr()` are not needed: the probe kind decides user or kernel memory, and `kstr()`/`ustr()` force it for a string",
        "kaddr" | "uaddr" => "addresses of kernel or user symbols are not offered; `ksym()`/`usym()` name an address",
        "nsecs" => "bpftrace's `nsecs` is `ts` here (nanoseconds, CLOCK_MONOTONIC); other clocks (`nsecs(boot)`, `nsecs(tai)`) are not offered",
        "system" | "cat" => "tracectl is read-only and runs no commands from probes: it only reads and prints",
        "override" => "tracectl is read-only: it never changes what a kernel function returns (bpftrace's `override()`)",
        "signal_send" => "tracectl is read-only: it sends no signals (`signal(sig)` prints a signal number's name)",
        "strftime" | "time" => "the time column is the output's (`output time absolute`: RFC 3339 with nanoseconds)",
        "cgroupid" => "bpftrace's `cgroupid(path)`: filter by cgroup with `--cgroup PATH` (in the kernel), print one with `cgroup_path(cgroup)`",
        "sizeof" | "offsetof" => "bpftrace's `sizeof()`/`offsetof()` are not offered: types are read from kernel BTF, members are reached by path (`sk->__sk_common.skc_dport`)",
        "strncmp" | "strcontains" => "compare strings with `==` and a literal (`comm == \"bash\"`), a trailing `*` for a prefix (`comm == \"ba*\"`)",
        "stats" => "bpftrace's `stats(x)` is three aggregates here: `n = count(), average = avg(x), total = sum(x)`",
        _ => return None,
    })
}

/// A call tracectl knows, written the bpftrace way: `signal("KILL")` (send
/// a signal), `kstack(perf)`, `ustack(bpftrace, 5)` (stack modes).
pub fn call_hint(func: &str, func_span: Span, args: &[Expr]) -> Option<Diagnostic> {
    match func {
        "signal" if matches!(args.first().map(|a| &a.kind), Some(ExprKind::Str(_))) => Some(
            Diagnostic::error(func_span, "bpftrace's `signal(\"…\")` sends a signal; tracectl does not")
                .label("a bpftrace action")
                .note("tracectl is read-only: it sends no signals; `signal(sig)` prints a signal number's name (`signal(sig) == \"SIGKILL\"` in a filter)"),
        ),
        "kstack" | "ustack" => {
            let mode = args.iter().find_map(|a| match &a.kind {
                ExprKind::Ident(m) => Some((m.as_str(), a.span)),
                _ => None,
            })?;
            let frames = args.iter().find_map(|a| match a.kind {
                ExprKind::Int(n) => Some(n),
                _ => None,
            });
            let fix = match frames {
                Some(n) => format!("{func}({n})"),
                None => func.to_string(),
            };
            Some(
                Diagnostic::error(mode.1, format!("bpftrace's stack mode `{}` is not offered", mode.0))
                    .label("a bpftrace stack mode")
                    .note(format!(
                        "write `{fix}`: frames print one per line in a table, as an array in JSON; `-o folded` (or `--flamegraph FILE.svg`) gives the folded form for flame graphs"
                    )),
            )
        }
        _ => None,
    }
}

/// Advice for a syntax error in `text` at byte `pos` (the token the parser
/// could not take), when what is there is a bpftrace form. `dsl`: the text
/// is a DSL spec (else a YAML spec's expression).
pub fn syntax_hints(text: &str, pos: usize, dsl: bool) -> Vec<String> {
    let mut out = Vec::new();
    let pos = pos.min(text.len());
    let (before, rest) = text.split_at(pos);
    // The statement so far: from the last `{` or `;`.
    let stmt = text[before.rfind(['{', ';']).map_or(0, |i| i + 1)..pos].trim_start();
    if before.ends_with('$') && rest.starts_with(|c: char| c.is_ascii_digit()) {
        out.push(positional(dsl));
    } else if let Some(pred) = (!dsl)
        .then(|| rest.trim().strip_prefix('/')?.strip_suffix('/'))
        .flatten()
    {
        out.push(format!(
            "bpftrace's predicate `/…/` is the probe's `filter:` here, without the slashes: `filter: {}`",
            rewrite(pred.trim())
        ));
    } else if let Some(pred) = predicate(rest) {
        let mut filter = rewrite(pred);
        for d in 1..10 {
            filter = filter.replace(&format!("${d}"), "$target");
        }
        // bpftrace's `/args.ret/` is true when non-zero; a filter here is
        // a condition.
        if !filter.is_empty() && !filter.contains(['=', '<', '>', '!', '&', '|', '@']) {
            filter.push_str(" != 0");
        }
        out.push(format!(
            "bpftrace's predicate `/…/` is a filter after the fields here: `PROBE {{ … }} where {}`",
            if pred.is_empty() { "…" } else { &filter }
        ));
        // What the filter could not say as written.
        if pred.contains('$') {
            out.push(positional(dsl));
        }
        out.extend(called(pred).filter_map(function_hint).map(String::from));
        if pred.contains('@') {
            out.push(pairing_advice(before, "tid"));
        }
    } else if let Some(cond) = stmt
        .strip_prefix("if")
        .filter(|c| c.starts_with([' ', '(']))
    {
        out.push(format!(
            "bpftrace's `if (…) {{ … }}` is the probe's filter here: `PROBE {{ … }} where {}` (one filter per probe; a second probe for another condition)",
            rewrite(cond.trim().trim_start_matches('(').trim_end_matches(')').trim())
        ));
    } else if let (Some(var), true) = (stmt.strip_prefix('$'), rest.starts_with('=')) {
        let value = rest[1..]
            .split([';', '}', '\n'])
            .next()
            .unwrap_or("")
            .trim();
        out.push(format!(
            "bpftrace's scratch variables are fields here: `{{ {} = {} }}` is printed as a column; `$NAME` is a parameter (`param NAME: TYPE`)",
            var.trim(),
            rewrite(value)
        ));
    } else if let (Some(fields), true) = (printf_fields(stmt, rest), dsl) {
        out.push(format!(
            "bpftrace's `printf()` is named fields here, printed as columns (table), JSON or CSV: `PROBE {{ {fields} }}`"
        ));
    } else if let Some(h) = enclosing_call(stmt).and_then(function_hint) {
        out.push(h.into());
    } else if let Some(h) = [stmt, rest]
        .iter()
        .find_map(|s| called(s).next().filter(|f| s.starts_with(f)))
        .and_then(statement_hint)
    {
        out.push(h.into());
    } else if rest.starts_with('@') {
        out.push(map_advice(before, rest));
        if dsl && text.contains("interval:") {
            out.push("bpftrace's `interval:s:1 { print(@); clear(@); }` is `output interval 1s` here: aggregations print, then reset, every interval".into());
        }
        if dsl && (text.contains("END") || text.contains("BEGIN")) {
            out.extend(probe_kind_hint("END").map(String::from));
        }
    } else if let Some(w) = ["BEGIN", "END"].iter().find(|w| rest.starts_with(**w)) {
        out.push(format!(
            "bpftrace's `{w}` has no tracectl form: aggregations print at exit (and every `output interval N`), and tracectl says on stderr when it is attached"
        ));
    } else if dsl
        && rest.starts_with("by")
        && before
            .rfind('{')
            .is_some_and(|o| before.rfind('}').is_none_or(|c| c < o))
    {
        out.push(format!(
            "keys follow the braces: `PROBE {{ {} }} by …`",
            stmt.trim()
        ));
    } else if rest.starts_with(';') {
        out.push("fields are separated by `,` (a `;` ends a statement)".into());
    }
    // The probe as written, so that the advice can be pasted.
    if let (Some(probe), true) = (probe_of(before), dsl) {
        for n in &mut out {
            *n = n.replace("`PROBE ", &format!("`{probe} "));
        }
    }
    out
}

/// The probe whose body `before` ends in: `kprobe:vfs_read` in
/// `kprobe:vfs_read { `, `A => B` for a paired one.
fn probe_of(before: &str) -> Option<&str> {
    // Before a predicate (`PROBE /…/`), the probe ends `before`.
    let body = before
        .rfind('{')
        .filter(|&o| before.rfind('}').is_none_or(|c| c < o));
    let head = match body {
        Some(o) => before[..o].trim_end(),
        None => before.trim_end(),
    };
    let head = head[head.rfind(['}', ';']).map_or(0, |i| i + 1)..].trim();
    // Its line (comments and statements before it are not the probe).
    let head = head.lines().last().unwrap_or(head).trim();
    let head = head.strip_prefix("probe").map_or(head, str::trim_start);
    // Not the bpftrace predicate: `PROBE /pred/ {`.
    let head = head.split(" /").next().unwrap_or(head).trim_end();
    let name = head.split(" as ").next().unwrap_or(head).trim_end();
    let ok = name.contains(':') && !name.contains(['{', '(', '"', '\n']);
    ok.then_some(name)
}

/// `printf("fmt", a, str(args.b))` at the end of `stmt` (the statement up
/// to the error, `rest` what follows): its values as tracectl fields,
/// `a, b = str(b)`.
fn printf_fields(stmt: &str, rest: &str) -> Option<String> {
    let at = stmt.find("printf(")?;
    let call = &format!("{}{rest}", &stmt[at + "printf(".len()..]);
    // Up to the `)` that closes the call.
    let mut depth = 0i32;
    let (end, _) = outside_strings(call).find(|&(_, c)| {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return true,
            ')' => depth -= 1,
            _ => {}
        }
        false
    })?;
    let args = split_top(&call[..end]);
    let fields: Vec<String> = args.iter().skip(1).map(|a| key(a)).collect();
    (!fields.is_empty()).then(|| fields.join(", "))
}

/// bpftrace statements that are calls: what they are here.
fn statement_hint(func: &str) -> Option<&'static str> {
    match func {
        "signal" => {
            Some("tracectl is read-only: it sends no signals (bpftrace's `signal(\"KILL\")`)")
        }
        f => function_hint(f),
    }
}

/// `$1`: bpftrace's positional parameters.
fn positional(dsl: bool) -> String {
    if dsl {
        "bpftrace's positional parameters (`$1`) are named here: declare `param target: u32` before the probes, write `$target`, and give it with `--param target=123`".into()
    } else {
        "bpftrace's positional parameters (`$1`) are named here: declare `params: { target: { type: u32 } }`, write `$target`, and give it with `--param target=123`".into()
    }
}

/// `/pred/ {` at the start of `rest`: the predicate (a `/` in a string
/// does not end it).
fn predicate(rest: &str) -> Option<&str> {
    let r = rest.strip_prefix('/')?;
    let (i, c) = outside_strings(r).find(|&(_, c)| matches!(c, '/' | '{' | '}' | '\n'))?;
    (c == '/' && r[i + 1..].trim_start().starts_with('{')).then(|| r[..i].trim())
}

/// The characters of `s` outside its string literals (`"…"`, with `\`
/// escapes inside), with their byte offsets; the quotes are left out too.
fn outside_strings(s: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let (mut in_str, mut escaped) = (false, false);
    s.char_indices().filter(move |&(_, c)| {
        if escaped {
            escaped = false;
            return false;
        }
        match c {
            '\\' if in_str => {
                escaped = true;
                false
            }
            '"' => {
                in_str = !in_str;
                false
            }
            _ => !in_str,
        }
    })
}

/// The names called in `s` (`f` of each `f(`), in order.
fn called(s: &str) -> impl Iterator<Item = &str> {
    s.match_indices('(').filter_map(move |(i, _)| {
        let b = &s[..i];
        let w = &b[super::trailing_word_start(b)..];
        (!w.is_empty()).then_some(w)
    })
}

/// The function whose parentheses are still open at the end of `stmt`.
fn enclosing_call(stmt: &str) -> Option<&str> {
    let mut depth = 0usize;
    for (i, c) in stmt.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => return called(&stmt[..=i]).last(),
            _ => {}
        }
    }
    None
}

/// An expression in bpftrace words, in tracectl's: `args->x` is `x`,
/// `nsecs` `ts`, `curtask` `task`.
fn rewrite(e: &str) -> String {
    let mut out = String::new();
    let mut rest = e;
    while let Some(c) = rest.chars().next() {
        let word_start = (c.is_ascii_alphabetic() || c == '_')
            && !out
                .ends_with(|p: char| p.is_ascii_alphanumeric() || p == '_' || p == '.' || p == '>');
        if word_start {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let (w, after) = rest.split_at(end);
            match w {
                "args" if after.starts_with("->") || after.starts_with('.') => {
                    rest = &after[if after.starts_with('.') { 1 } else { 2 }..];
                    continue;
                }
                "nsecs" => out.push_str("ts"),
                "curtask" => out.push_str("task"),
                _ => out.push_str(w),
            }
            rest = after;
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Splits `s` at its top-level commas.
fn split_top(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut last) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(s[last..i].trim());
                last = i + 1;
            }
            _ => {}
        }
    }
    parts.push(s[last..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// A bpftrace map key as a tracectl key: a bare name, else `NAME = EXPR`.
fn key(k: &str) -> String {
    let k = rewrite(k);
    let is_name = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    // Stack modes (`kstack(perf)`) are not offered: the frames only.
    for stack in ["kstack", "ustack"] {
        if let Some(a) = k.strip_prefix(stack).and_then(|a| a.strip_prefix('(')) {
            return match a
                .trim_end_matches(')')
                .split(',')
                .map(str::trim)
                .find(|x| x.parse::<u32>().is_ok())
            {
                Some(n) => format!("{stack} = {stack}({n})"),
                None => stack.into(),
            };
        }
    }
    if is_name(&k) {
        return k;
    }
    let inner = k.trim_end_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    let name = &inner[super::trailing_word_start(inner)..];
    let name = if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        "key"
    } else {
        name
    };
    format!("{name} = {k}")
}

/// The probe whose body `before` ends in (`kprobe:vfs_read` in
/// `kprobe:vfs_read { `), and its paired spelling `START => END`.
fn pair_of(before: &str) -> String {
    let head = before[..before.rfind('{').unwrap_or(0)].trim_end();
    let head = head[head.rfind('}').map_or(0, |i| i + 1)..].trim();
    let line = head.lines().last().unwrap_or("");
    let probe = line.split_whitespace().next().unwrap_or("");
    let (kind, target) = probe.split_once(':').unwrap_or(("", ""));
    match kind {
        "kprobe" | "k" | "kfunc" | "fentry" | "kretprobe" | "kr" | "kretfunc" | "fexit" => {
            format!("kfunc:{target} => kretfunc:{target}")
        }
        "uprobe" | "u" | "uretprobe" | "ur" => format!("uprobe:{target} => uretprobe:{target}"),
        "tracepoint" | "t" if target.contains(":sys_enter_") || target.contains(":sys_exit_") => {
            let (cat, name) = target.split_once(':').unwrap_or(("syscalls", target));
            let call = name
                .trim_start_matches("sys_enter_")
                .trim_start_matches("sys_exit_");
            format!("tracepoint:{cat}:sys_enter_{call} => tracepoint:{cat}:sys_exit_{call}")
        }
        _ => "START => END".into(),
    }
}

/// bpftrace's `@start[tid] = nsecs` … `nsecs - @start[tid]`: a paired probe.
fn pairing_advice(before: &str, keys: &str) -> String {
    format!(
        "bpftrace's `@start[{keys}] = nsecs` in one probe and `nsecs - @start[{keys}]` in another is a paired probe here: `{} {{ us = hist(latency / 1000) }} match {keys}` (`latency`: the nanoseconds from start to end; `end.NAME` reads the end's values)",
        pair_of(before)
    )
}

/// `@name[k1, k2] = func(args)` (at `rest`) as tracectl's aggregation.
fn map_advice(before: &str, rest: &str) -> String {
    let mut depth = 0i32;
    let end = rest
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                _ => {}
            }
            depth <= 0 && matches!(c, ';' | '}' | '\n')
        })
        .map_or(rest.len(), |(i, _)| i);
    let stmt = rest[1..end].trim();
    // `@x++`, `@x += n`, `@x = @x + 1`
    let (lhs, op, rhs) = if let Some(l) = stmt.strip_suffix("++") {
        (l, "++", "")
    } else if let Some((l, r)) = stmt.split_once("+=") {
        (l, "+=", r)
    } else {
        let (l, r) = stmt.split_once('=').unwrap_or((stmt, ""));
        (l, "=", r)
    };
    let (name, keys) = match lhs.trim().split_once('[') {
        Some((n, k)) => (n.trim(), k.trim_end().trim_end_matches(']').trim()),
        None => (lhs.trim(), ""),
    };
    let keys: Vec<String> = split_top(keys).into_iter().map(key).collect();
    let keys = keys.join(", ");
    let rhs = rewrite(rhs.trim());
    let func = rhs.split('(').next().unwrap_or("").trim();
    let arg = rhs
        .split_once('(')
        .map_or("", |(_, a)| a.strip_suffix(')').unwrap_or(a))
        .trim();
    let by = if keys.is_empty() {
        String::new()
    } else {
        format!(" by {keys}")
    };
    if rhs == "ts" && !keys.is_empty() {
        return pairing_advice(before, &keys);
    }
    let n = |dflt: &str| {
        if name.is_empty() {
            dflt.to_string()
        } else {
            name.to_string()
        }
    };
    let counter =
        op == "++" || (op == "+=" && rhs == "1") || (rhs.contains('@') && rhs.ends_with("+ 1"));
    let fields = if counter {
        format!("{} = count()", n("count"))
    } else if op == "+=" {
        format!("{} = sum({rhs})", n("total"))
    } else if func == "stats" {
        format!("n = count(), average = avg({arg}), total = sum({arg})")
    } else if crate::aggregate::is_aggregate(func) {
        format!("{} = {rhs}", n(func))
    } else {
        return format!(
            "bpftrace's maps are aggregations here (`count()`, `sum()`, `min()`, `max()`, `avg()`, `hist()`, `lhist()`): `PROBE {{ n = count() }}{by}`; a value kept from one probe for another is a paired probe, `START => END {{ … }} match tid`"
        );
    };
    format!("bpftrace's maps are aggregations here: `PROBE {{ {fields} }}{by}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_rewritten() {
        let h = syntax_hints("t:x { @[comm] = count(); }", 6, true);
        assert_eq!(
            h,
            ["bpftrace's maps are aggregations here: `t:x { count = count() } by comm`"]
        );
        let h = syntax_hints("t:x { @bytes[comm, pid] = sum(ret) }", 6, true);
        assert!(
            h[0].contains("`t:x { bytes = sum(ret) } by comm, pid`"),
            "{h:?}"
        );
        let h = syntax_hints("t:x { @x = hist(ret) }", 6, true);
        assert!(h[0].contains("{ x = hist(ret) }`"), "{h:?}");
    }

    #[test]
    fn predicates_and_statements() {
        let text = "t:x /comm == \"bash\"/ { pid }";
        let h = syntax_hints(text, 4, true);
        assert!(h[0].contains("where comm == \"bash\""), "{h:?}");
        // Division is not a predicate.
        assert!(syntax_hints("t:x { a = b / 2 }", 12, true).is_empty());
        assert!(
            syntax_hints("t:x { printf(\"%d\", pid) }", 6, true)[0].contains("fields are named")
        );
        assert!(syntax_hints("BEGIN { }", 0, true)[0].contains("`BEGIN`"));
        assert_eq!(
            builtin_hint("nsecs").as_deref().map(|h| h.contains("`ts`")),
            Some(true)
        );
        assert!(builtin_hint("comm").is_none());
    }
}
