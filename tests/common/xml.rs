//! An XML well-formedness checker for tests: the flame graph's unit tests
//! (runtime/src/output/flame.rs) and the flame graph files the integration
//! tests make (tests/stacks.rs) are checked by this one file.

/// A small well-formedness checker: one root element, tags balanced,
/// attributes quoted and unique, no raw `<` or bare `&` in text or
/// values, CDATA and the `<?xml …?>` declaration skipped.
pub fn check_xml(doc: &str) -> Result<(), String> {
    fn text(t: &str) -> Result<(), String> {
        if t.contains('<') || t.contains("]]>") {
            return Err(format!("raw markup in text {t:?}"));
        }
        for (i, _) in t.match_indices('&') {
            let ent = &t[i + 1..t[i..].find(';').map_or(t.len(), |e| i + e)];
            let num = ent.strip_prefix('#').is_some_and(|n| {
                n.parse::<u32>().is_ok()
                    || n.strip_prefix('x')
                        .is_some_and(|h| u32::from_str_radix(h, 16).is_ok())
            });
            if !num && !["amp", "lt", "gt", "quot", "apos"].contains(&ent) {
                return Err(format!("bad entity in {t:?}"));
            }
        }
        Ok(())
    }
    let is_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
    };
    let mut rest = doc.strip_prefix("<?xml").map_or(Ok(doc), |r| {
        r.find("?>").map(|e| &r[e + 2..]).ok_or("open declaration")
    })?;
    let (mut open, mut roots) = (Vec::new(), 0);
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("<![CDATA[") {
            rest = r.find("]]>").map(|e| &r[e + 3..]).ok_or("open CDATA")?;
        } else if let Some(r) = rest.strip_prefix("</") {
            let e = r.find('>').ok_or("open end tag")?;
            if open.pop() != Some(r[..e].trim_end()) {
                return Err(format!("unbalanced </{}>", &r[..e]));
            }
            rest = &r[e + 1..];
        } else if let Some(r) = rest.strip_prefix('<') {
            let e = r.find(|c: char| c.is_whitespace() || c == '>' || c == '/');
            let (name, mut r) = r.split_at(e.ok_or("open tag")?);
            if !is_name(name) || (open.is_empty() && roots > 0) {
                return Err(format!("bad or second root tag <{name}"));
            }
            roots += 1;
            let mut attrs = Vec::new();
            loop {
                r = r.trim_start();
                if let Some(x) = r.strip_prefix("/>") {
                    rest = x;
                    break;
                } else if let Some(x) = r.strip_prefix('>') {
                    open.push(name);
                    rest = x;
                    break;
                }
                let (attr, v) = r.split_once('=').ok_or("attribute without =")?;
                let v = v.trim_start();
                let q = v.chars().next().filter(|q| *q == '"' || *q == '\'');
                let q = q.ok_or(format!("unquoted {attr}"))?;
                let end = v[1..].find(q).ok_or("open value")?;
                if !is_name(attr.trim()) || attrs.contains(&attr.trim()) {
                    return Err(format!("bad or repeated attribute {attr:?}"));
                }
                attrs.push(attr.trim());
                text(&v[1..end + 1])?;
                r = &v[end + 2..];
            }
        } else {
            let e = rest.find('<').unwrap_or(rest.len());
            if open.is_empty() && !rest[..e].trim().is_empty() {
                return Err("text outside the root".into());
            }
            text(&rest[..e])?;
            rest = &rest[e..];
        }
    }
    match (open.is_empty(), roots) {
        (true, 1..) => Ok(()),
        _ => Err(format!("unclosed {open:?} or no root")),
    }
}
