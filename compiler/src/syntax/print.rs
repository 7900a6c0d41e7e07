//! Prints a [`Spec`] as YAML or as DSL (`tracectl fmt`). Both printers are
//! canonical: parsing their output gives back the same spec.

use super::ast::*;
use super::expr::{escape, print_expr};
use crate::plan::{Format, TimeMode};

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Table => "table",
        Format::Json => "json",
        Format::Csv => "csv",
        Format::Folded => "folded",
    }
}

fn time_name(t: TimeMode) -> &'static str {
    match t {
        TimeMode::Relative => "relative",
        TimeMode::Absolute => "absolute",
        TimeMode::None => "none",
    }
}

/// A YAML scalar for an arbitrary string.
fn yaml_str(s: &str) -> String {
    let plain_ok = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _-./()>,[]".contains(c))
        && !s.ends_with(' ')
        && !matches!(
            s,
            "true" | "false" | "null" | "Null" | "NULL" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain_ok {
        s.to_string()
    } else if s.chars().all(|c| !c.is_control()) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Int(v) => v.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Str(s) => escape(s),
    }
}

fn yaml_literal(l: &Literal) -> String {
    match l {
        Literal::Str(s) => {
            // Keep strings that look like numbers or booleans strings.
            if s.parse::<i128>().is_ok() || s.starts_with("0x") {
                format!("'{s}'")
            } else {
                yaml_str(s)
            }
        }
        other => literal(other),
    }
}

/// The spec as YAML.
pub fn to_yaml(spec: &Spec) -> String {
    let mut o = String::new();
    if let Some(v) = &spec.version {
        o.push_str(&format!("version: {}\n", v.value));
    }
    o.push_str(&format!("name: {}\n", yaml_str(&spec.name.value)));
    if let Some(d) = &spec.description {
        o.push_str(&format!("description: {}\n", yaml_str(&d.value)));
    }
    if !spec.params.is_empty() {
        o.push_str("params:\n");
        for p in &spec.params {
            let mut parts = vec![format!("type: {}", p.ty.value.name())];
            if let Some(d) = &p.default {
                parts.push(format!("default: {}", yaml_literal(&d.value)));
            }
            if let Some(d) = &p.description {
                parts.push(format!("description: {}", flow_str(&d.value)));
            }
            o.push_str(&format!("  {}: {{ {} }}\n", p.name.value, parts.join(", ")));
        }
    }
    o.push_str("probes:\n");
    for p in &spec.probes {
        o.push_str(&format!("  - probe: {}\n", yaml_str(&p.probe.value)));
        if let Some(e) = &p.end {
            o.push_str(&format!("    end: {}\n", yaml_str(&e.value)));
        }
        if let Some(m) = &p.match_ {
            o.push_str(&format!("    match: {}\n", yaml_match(m)));
        }
        if let Some(n) = &p.name {
            o.push_str(&format!("    name: {}\n", yaml_str(&n.value)));
        }
        if !p.by.is_empty() {
            if p.by.iter().all(|k| k.bare) {
                let names: Vec<String> = p.by.iter().map(|k| flow_str(&k.name.value)).collect();
                o.push_str(&format!("    by: [{}]\n", names.join(", ")));
            } else {
                o.push_str("    by:\n");
                for k in &p.by {
                    o.push_str(&format!(
                        "      {}: {}\n",
                        k.name.value,
                        yaml_str(&print_expr(&k.expr))
                    ));
                }
            }
        }
        o.push_str("    fields:\n");
        for f in &p.fields {
            o.push_str(&format!(
                "      {}: {}\n",
                f.name.value,
                yaml_str(&print_expr(&f.expr))
            ));
        }
        if let Some(f) = &p.filter {
            o.push_str(&format!("    filter: {}\n", yaml_str(&print_expr(f))));
        }
    }
    let settings = output_settings(&spec.output);
    if !settings.is_empty() {
        o.push_str("output:\n");
        for (k, v) in settings {
            // A `sort` name such as `null` or `true` is quoted in YAML.
            let v = if k == "sort" { yaml_str(&v) } else { v };
            o.push_str(&format!("  {k}: {v}\n"));
        }
    }
    o
}

/// The `output` settings written, in order, as (name, value); values are
/// the same in YAML and the DSL (a duration as written: `1s`).
fn output_settings(out: &OutputDecl) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    if let Some(f) = &out.format {
        v.push(("format", format_name(f.value).to_string()));
    }
    if let Some(t) = &out.time {
        v.push(("time", time_name(t.value).to_string()));
    }
    if let Some(i) = &out.interval {
        v.push(("interval", i.value.text.clone()));
    }
    if let Some(c) = &out.cumulative {
        v.push(("cumulative", c.value.to_string()));
    }
    if let Some(s) = &out.sort {
        v.push(("sort", s.value.clone()));
    }
    if let Some(t) = &out.top {
        v.push(("top", t.value.to_string()));
    }
    if let Some(m) = &out.max_keys {
        v.push(("max_keys", m.value.to_string()));
    }
    v
}

/// `match:`'s value: a scalar for one name, a list for several, a mapping
/// of the two sides.
fn yaml_match(m: &MatchDecl) -> String {
    let names = |n: &[crate::diag::Spanned<String>]| -> String {
        match n {
            [one] => flow_str(&one.value),
            _ => {
                let v: Vec<String> = n.iter().map(|x| flow_str(&x.value)).collect();
                format!("[{}]", v.join(", "))
            }
        }
    };
    match m {
        MatchDecl::Same(n, _) => names(n),
        MatchDecl::Sides { start, end, .. } => {
            format!("{{ start: {}, end: {} }}", names(start), names(end))
        }
    }
}

/// A string inside a flow mapping: `,` `{` `}` need quoting there.
pub(crate) fn flow_str(s: &str) -> String {
    let y = yaml_str(s);
    if y.contains([',', '[', ']', '{', '}']) && !y.starts_with(['\'', '"']) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        y
    }
}

fn probe_token(p: &str) -> String {
    let simple = p.split_once(':').is_some_and(|(kind, rest)| {
        !kind.is_empty()
            && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && kind.chars().next().is_some_and(|c| !c.is_ascii_digit())
            && !rest.is_empty()
            && !rest
                .chars()
                .any(|c| c.is_whitespace() || c == '{' || c == '}' || c == '#')
            && !rest.contains("=>")
    });
    if simple {
        p.to_string()
    } else {
        escape(p)
    }
}

/// The spec as DSL.
pub fn to_dsl(spec: &Spec) -> String {
    let mut o = String::new();
    if let Some(v) = &spec.version {
        o.push_str(&format!("version {}\n", v.value));
    }
    o.push_str(&format!("spec {}", spec.name.value));
    if let Some(d) = &spec.description {
        o.push_str(&format!(" {}", escape(&d.value)));
    }
    o.push('\n');
    for p in &spec.params {
        o.push_str(&format!("param {}: {}", p.name.value, p.ty.value.name()));
        if let Some(d) = &p.default {
            o.push_str(&format!(" = {}", literal(&d.value)));
        }
        if let Some(d) = &p.description {
            o.push_str(&format!(" {}", escape(&d.value)));
        }
        o.push('\n');
    }
    for p in &spec.probes {
        o.push_str(&format!("\nprobe {}", probe_token(&p.probe.value)));
        if let Some(e) = &p.end {
            o.push_str(&format!(" => {}", probe_token(&e.value)));
        }
        if let Some(n) = &p.name {
            o.push_str(&format!(" as {}", n.value));
        }
        o.push_str(" {\n");
        let n = p.fields.len();
        for (i, f) in p.fields.iter().enumerate() {
            let e = print_expr(&f.expr);
            let sep = if i + 1 < n { "," } else { "" };
            if e == f.name.value {
                o.push_str(&format!("    {e}{sep}\n"));
            } else {
                o.push_str(&format!("    {} = {e}{sep}\n", f.name.value));
            }
        }
        o.push('}');
        if let Some(m) = &p.match_ {
            o.push_str(&format!(" match {}", super::dsl::print_match(m)));
        }
        if !p.by.is_empty() {
            let keys: Vec<String> = p.by.iter().map(super::dsl::print_key).collect();
            o.push_str(&format!(" by {}", keys.join(", ")));
        }
        if let Some(f) = &p.filter {
            o.push_str(&format!(" where {}", print_expr(f)));
        }
        o.push('\n');
    }
    let opts: Vec<String> = output_settings(&spec.output)
        .into_iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if !opts.is_empty() {
        o.push_str(&format!("\noutput {}\n", opts.join(", ")));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn spec(name: &str, src: &str) -> Spec {
        parse(name, src).unwrap_or_else(|d| panic!("{src}\n{d:?}"))
    }

    #[test]
    fn keys_and_settings_in_both_syntaxes() {
        let dsl = "version 2
spec syscount
probe tracepoint:raw_syscalls:sys_enter { calls = count() } by comm, pid
probe kfunc:tcp_sendmsg as send { bytes = sum(size), h = lhist(size, 0, 1000, 100) } by comm, dport = ntohs(sk->__sk_common.skc_dport) where size > 0
output format json, interval 500ms, cumulative true, sort calls, top 10, max_keys 1000
";
        let s = spec("x.trace", dsl);
        let yaml = to_yaml(&s);
        assert_eq!(
            yaml,
            "version: 2
name: syscount
probes:
  - probe: 'tracepoint:raw_syscalls:sys_enter'
    by: [comm, pid]
    fields:
      calls: count()
  - probe: 'kfunc:tcp_sendmsg'
    name: send
    by:
      comm: comm
      dport: ntohs(sk->__sk_common.skc_dport)
    fields:
      bytes: sum(size)
      h: lhist(size, 0, 1000, 100)
    filter: size > 0
output:
  format: json
  interval: 500ms
  cumulative: true
  sort: calls
  top: 10
  max_keys: 1000
"
        );
        let again = to_dsl(&spec("x.yaml", &yaml));
        assert_eq!(
            again,
            "version 2
spec syscount

probe tracepoint:raw_syscalls:sys_enter {
    calls = count()
} by comm, pid

probe kfunc:tcp_sendmsg as send {
    bytes = sum(size),
    h = lhist(size, 0, 1000, 100)
} by comm, dport = ntohs(sk->__sk_common.skc_dport) where size > 0

output format json, interval 500ms, cumulative true, sort calls, top 10, max_keys 1000
"
        );
        assert_eq!(to_dsl(&s), again);
    }

    #[test]
    fn pairing_in_both_syntaxes() {
        let dsl = "version 2
spec pairs
probe tracepoint:block:block_rq_issue => tracepoint:block:block_rq_complete as bio { usecs = hist(latency / 1000) } match dev, sector by comm
probe tracepoint:sched:sched_wakeup => tracepoint:sched:sched_switch { n = count() } match pid => next_pid where latency > 1000
probe tracepoint:sched:sched_wakeup => tracepoint:sched:sched_switch { n = count() } match pid, target_cpu => next_pid, cpu
probe kfunc:vfs_read => kretfunc:vfs_read { ret = end.ret } match tid
probe kfunc:vfs_read => kretfunc:vfs_read { ret = end.ret }
";
        let s = spec("x.trace", dsl);
        let yaml = to_yaml(&s);
        assert_eq!(
            yaml,
            "version: 2
name: pairs
probes:
  - probe: 'tracepoint:block:block_rq_issue'
    end: 'tracepoint:block:block_rq_complete'
    match: [dev, sector]
    name: bio
    by: [comm]
    fields:
      usecs: hist(latency / 1000)
  - probe: 'tracepoint:sched:sched_wakeup'
    end: 'tracepoint:sched:sched_switch'
    match: { start: pid, end: next_pid }
    fields:
      n: count()
    filter: latency > 1000
  - probe: 'tracepoint:sched:sched_wakeup'
    end: 'tracepoint:sched:sched_switch'
    match: { start: [pid, target_cpu], end: [next_pid, cpu] }
    fields:
      n: count()
  - probe: 'kfunc:vfs_read'
    end: 'kretfunc:vfs_read'
    match: tid
    fields:
      ret: end.ret
  - probe: 'kfunc:vfs_read'
    end: 'kretfunc:vfs_read'
    fields:
      ret: end.ret
"
        );
        let again = to_dsl(&spec("x.yaml", &yaml));
        assert_eq!(
            again,
            "version 2
spec pairs

probe tracepoint:block:block_rq_issue => tracepoint:block:block_rq_complete as bio {
    usecs = hist(latency / 1000)
} match dev, sector by comm

probe tracepoint:sched:sched_wakeup => tracepoint:sched:sched_switch {
    n = count()
} match pid => next_pid where latency > 1000

probe tracepoint:sched:sched_wakeup => tracepoint:sched:sched_switch {
    n = count()
} match pid, target_cpu => next_pid, cpu

probe kfunc:vfs_read => kretfunc:vfs_read {
    ret = end.ret
} match tid

probe kfunc:vfs_read => kretfunc:vfs_read {
    ret = end.ret
}
"
        );
        assert_eq!(to_dsl(&s), again);
    }

    #[test]
    fn probes_with_an_arrow_are_quoted() {
        let s = spec(
            "x.yaml",
            "name: q\nprobes:\n  - probe: 'uprobe:/opt/a=>b:f'\n    end: 'uretprobe:/opt/a=>b:f'\n    match: ['true']\n    fields: { r: end.retval }\n",
        );
        let dsl = to_dsl(&s);
        assert!(
            dsl.contains("probe \"uprobe:/opt/a=>b:f\" => \"uretprobe:/opt/a=>b:f\" {\n"),
            "{dsl}"
        );
        assert!(dsl.contains("} match true\n"), "{dsl}");
        let back = spec("x.trace", &dsl);
        assert_eq!(to_yaml(&back), to_yaml(&s));
        assert!(to_yaml(&s).contains("    match: 'true'\n"));
    }

    #[test]
    fn names_yaml_would_misread_are_quoted() {
        let s = spec(
            "x.trace",
            "kfunc:f { n = count() } by null, yes = pid\noutput sort true",
        );
        let yaml = to_yaml(&s);
        assert!(yaml.contains("      null: 'null'\n"), "{yaml}");
        assert!(yaml.contains("  sort: 'true'\n"), "{yaml}");
        let back = spec("x.yaml", &yaml);
        assert_eq!(to_dsl(&back), to_dsl(&s));
        let s = spec("x.trace", "kfunc:f { n = count() } by null, true");
        let yaml = to_yaml(&s);
        assert!(yaml.contains("    by: ['null', 'true']\n"), "{yaml}");
        assert_eq!(to_dsl(&spec("x.yaml", &yaml)), to_dsl(&s));
    }
}
