//! Flame graphs: weighted call stacks drawn as one interactive SVG document.
//!
//! [`write_svg`] merges the stacks into a tree (frames with the same prefix
//! are one node, its weight the sum of theirs) and draws it root at the
//! bottom (`all`), each level 16 px high, 1200 px wide in all, a frame's
//! width proportional to its weight. Children are sorted by name, so the
//! output depends only on the multiset of stacks, not their order. A frame
//! narrower than 0.1 % of the total is omitted with its descendants (its
//! weight still counts in its parent's).
//!
//! Each frame is a `<g class="f">` holding a `<title>` (`name (N unit, P%)`),
//! a `<rect>` filled with a warm colour hashed from the name, and a `<text>`
//! with the name cut to the box (`..`). All text is XML-escaped; characters
//! XML cannot hold (most control characters) become U+FFFD. The embedded
//! script is constant (names never reach it): click a frame to zoom into it,
//! "Reset Zoom" to undo, "Search" to highlight the frames matching a regular
//! expression (with the matched share of the total), and hover a frame to see
//! its title in the status line at the bottom. The document needs no external
//! resources, so it works opened as a file.

use std::collections::BTreeMap;
use std::io::Write as _;

use crate::decode::push_u64;

const WIDTH: f64 = 1200.0;
/// Left and right margin; the script's `XPAD`.
const XPAD: f64 = 10.0;
/// Width of the root frame; the script's `W`.
const FRAMES_W: f64 = WIDTH - 2.0 * XPAD;
const FRAME_H: f64 = 16.0;
/// Room above the frames (title and buttons).
const TOP: f64 = 36.0;
/// Room below the frames (status line).
const BOTTOM: f64 = 34.0;
/// Average glyph width at 12 px Verdana; the script's `CHAR_W`.
const CHAR_W: f64 = 12.0 * 0.59;
/// Frames lighter than total / `MIN_SHARE` are omitted (0.1 %).
const MIN_SHARE: u128 = 1000;

/// Zoom, search and status line; constant, with no `]]>` in it.
const SCRIPT: &str = r#""use strict";
var W = 1180, XPAD = 10, CHAR_W = 7.08, EPS = 0.01;
var frames = [], details, matched, unzoomBtn, searchBtn, searching = false;
function init() {
  details = document.getElementById("details");
  matched = document.getElementById("matched");
  unzoomBtn = document.getElementById("unzoom");
  searchBtn = document.getElementById("search");
  var gs = document.querySelectorAll("g.f");
  for (var i = 0; i < gs.length; i++) {
    var g = gs[i], r = g.querySelector("rect"), info = g.querySelector("title").textContent;
    g.fi = i;
    frames.push({ g: g, r: r, t: g.querySelector("text"), info: info,
      name: info.substring(0, info.lastIndexOf(" (")), fill: r.getAttribute("fill"),
      x: parseFloat(r.getAttribute("x")), y: parseFloat(r.getAttribute("y")),
      w: parseFloat(r.getAttribute("width")) });
  }
  var box = document.getElementById("frames");
  box.addEventListener("click", function (e) { var f = find(e); if (f) zoom(f); });
  box.addEventListener("mouseover", function (e) { var f = find(e); if (f) details.textContent = f.info; });
  box.addEventListener("mouseout", function () { details.textContent = " "; });
  unzoomBtn.addEventListener("click", unzoom);
  searchBtn.addEventListener("click", search);
}
function find(e) {
  var g = e.target.closest ? e.target.closest("g.f") : null;
  return g ? frames[g.fi] : null;
}
function fit(name, w) {
  var cs = Array.from(name), n = Math.floor((w - 6) / CHAR_W);
  if (cs.length <= n) return name;
  return n < 3 ? "" : cs.slice(0, n - 2).join("") + "..";
}
function place(f, x, w, shown, faded) {
  f.g.style.display = shown ? "" : "none";
  f.g.style.opacity = faded ? "0.5" : "";
  f.r.setAttribute("x", x.toFixed(2));
  f.r.setAttribute("width", w.toFixed(2));
  f.t.setAttribute("x", (x + 3).toFixed(2));
  f.t.textContent = fit(f.name, w);
}
function zoom(z) {
  if (z === frames[0]) { unzoom(); return; }
  var s = W / z.w;
  frames.forEach(function (f) {
    if (f.y > z.y && f.x <= z.x + EPS && f.x + f.w >= z.x + z.w - EPS) {
      place(f, XPAD, W, true, true);
    } else if (f.y <= z.y && f.x >= z.x - EPS && f.x + f.w <= z.x + z.w + EPS) {
      place(f, XPAD + (f.x - z.x) * s, f.w * s, true, false);
    } else {
      place(f, f.x, f.w, false, false);
    }
  });
  unzoomBtn.style.opacity = "1";
}
function unzoom() {
  frames.forEach(function (f) { place(f, f.x, f.w, true, false); });
  unzoomBtn.style.opacity = "0";
}
function search() {
  if (searching) {
    frames.forEach(function (f) { f.r.setAttribute("fill", f.fill); });
    searching = false;
    searchBtn.textContent = "Search";
    matched.textContent = " ";
    return;
  }
  var term = prompt("Search frames (regular expression):", "");
  if (term === null || term === "") return;
  var re;
  try { re = new RegExp(term); } catch (err) { alert("Bad regular expression: " + err.message); return; }
  var hits = frames.filter(function (f) { return re.test(f.name); });
  hits.forEach(function (f) { f.r.setAttribute("fill", "rgb(230,0,230)"); });
  hits.sort(function (a, b) { return a.x - b.x || b.w - a.w; });
  var sum = 0, end = -1;
  hits.forEach(function (f) { if (f.x >= end - EPS) { sum += f.w; end = f.x + f.w; } });
  searching = true;
  searchBtn.textContent = "Reset Search";
  matched.textContent = "Matched: " + (100 * sum / W).toFixed(2) + "%";
}
"#;

const STYLE: &str = "text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; }
#title { font-size: 17px; }
.ui { cursor: pointer; fill: #225; }
g.f { cursor: pointer; }
g.f:hover rect { stroke: #000; stroke-width: 0.5; }
";

/// One node of the merged tree.
struct Node<'a> {
    name: &'a str,
    weight: u64,
    /// Children by name (so in name order) to their index.
    children: BTreeMap<&'a str, usize>,
}

/// Writes an interactive flame graph of `stacks` as one self-contained SVG document.
/// Each stack is its frames outermost first (e.g. ["bash", "main", "acc_outer", "acc_inner"]) and a weight (samples, or nanoseconds).
///
/// `title` heads the graph; `unit` names the weights in frame titles
/// (`main (1,234 samples, 12.50%)`). With no weight at all (no stacks, or
/// only zero weights) the document says "no samples".
pub fn write_svg(out: &mut Vec<u8>, title: &str, unit: &str, stacks: &[(Vec<String>, u64)]) {
    let mut nodes = vec![Node {
        name: "all",
        weight: 0,
        children: BTreeMap::new(),
    }];
    for (frames, weight) in stacks {
        let mut at = 0;
        nodes[0].weight = nodes[0].weight.saturating_add(*weight);
        for name in frames {
            at = match nodes[at].children.get(name.as_str()) {
                Some(&child) => child,
                None => {
                    let child = nodes.len();
                    nodes[at].children.insert(name, child);
                    nodes.push(Node {
                        name,
                        weight: 0,
                        children: BTreeMap::new(),
                    });
                    child
                }
            };
            nodes[at].weight = nodes[at].weight.saturating_add(*weight);
        }
    }
    let total = nodes[0].weight;

    // Visible frames in pre-order: (node, depth, weight before it in its level).
    let mut shown: Vec<(usize, usize, u64)> = Vec::new();
    let mut todo = if total == 0 { vec![] } else { vec![(0, 0, 0)] };
    while let Some((n, depth, start)) = todo.pop() {
        shown.push((n, depth, start));
        let first = todo.len();
        let mut offset = start;
        for &child in nodes[n].children.values() {
            let w = nodes[child].weight;
            if u128::from(w) * MIN_SHARE >= u128::from(total) {
                todo.push((child, depth + 1, offset));
            }
            offset = offset.saturating_add(w);
        }
        todo[first..].reverse();
    }
    let levels = shown.iter().map(|f| f.1 + 1).max().unwrap_or(4);
    let height = TOP + levels as f64 * FRAME_H + BOTTOM;

    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n\
         <svg version=\"1.1\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" onload=\"init()\" \
         xmlns=\"http://www.w3.org/2000/svg\">\n\
         <style type=\"text/css\">\n{STYLE}</style>\n\
         <script type=\"text/ecmascript\"><![CDATA[\n{SCRIPT}]]></script>\n\
         <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height}\" fill=\"#f6f3ea\"/>\n\
         <text id=\"title\" x=\"{}\" y=\"24\" text-anchor=\"middle\">",
        WIDTH / 2.0
    );
    push_escaped(out, title);
    let status_y = height - BOTTOM / 2.0 + 4.0;
    let _ = write!(
        out,
        "</text>\n\
         <text id=\"unzoom\" class=\"ui\" x=\"{XPAD}\" y=\"24\" style=\"opacity:0\">Reset Zoom</text>\n\
         <text id=\"search\" class=\"ui\" x=\"{}\" y=\"24\" text-anchor=\"end\">Search</text>\n\
         <text id=\"details\" x=\"{XPAD}\" y=\"{status_y}\"> </text>\n\
         <text id=\"matched\" x=\"{}\" y=\"{status_y}\" text-anchor=\"end\"> </text>\n",
        WIDTH - XPAD,
        WIDTH - XPAD
    );
    if total == 0 {
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no samples</text>",
            WIDTH / 2.0,
            TOP + 2.0 * FRAME_H
        );
    }
    out.extend_from_slice(b"<g id=\"frames\">\n");
    for &(n, depth, start) in &shown {
        let node = &nodes[n];
        let x = XPAD + start as f64 / total as f64 * FRAMES_W;
        let w = node.weight as f64 / total as f64 * FRAMES_W;
        let y = height - BOTTOM - (depth + 1) as f64 * FRAME_H;
        out.extend_from_slice(b"<g class=\"f\"><title>");
        push_escaped(out, node.name);
        out.extend_from_slice(b" (");
        push_grouped(out, node.weight);
        if !unit.is_empty() {
            out.push(b' ');
            push_escaped(out, unit);
        }
        let pct = node.weight as f64 * 100.0 / total as f64;
        let (r, g, b) = warm(node.name);
        let _ = write!(
            out,
            ", {pct:.2}%)</title><rect x=\"{x:.2}\" y=\"{y}\" width=\"{w:.2}\" \
             height=\"{}\" rx=\"2\" fill=\"rgb({r},{g},{b})\"/><text x=\"{:.2}\" y=\"{}\">",
            FRAME_H - 1.0,
            x + 3.0,
            y + 11.5
        );
        push_fitted(out, node.name, w);
        out.extend_from_slice(b"</text></g>\n");
    }
    out.extend_from_slice(b"</g>\n</svg>\n");
}

/// Appends `name` as it fits in a box `w` px wide: whole, cut with `..`, or
/// nothing when not even three characters fit.
fn push_fitted(out: &mut Vec<u8>, name: &str, w: f64) {
    let room = ((w - 6.0) / CHAR_W).floor().max(0.0) as usize;
    match name.char_indices().nth(room) {
        None => push_escaped(out, name),
        Some(_) if room < 3 => {}
        Some(_) => {
            let cut = name
                .char_indices()
                .nth(room - 2)
                .map_or(name.len(), |c| c.0);
            push_escaped(out, &name[..cut]);
            out.extend_from_slice(b"..");
        }
    }
}

/// Appends `s` escaped for XML text and attribute values; characters XML 1.0
/// cannot hold become U+FFFD.
fn push_escaped(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\'' => out.extend_from_slice(b"&apos;"),
            '\t' | '\n' | '\r' => out.push(c as u8),
            '\0'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {
                out.extend_from_slice("\u{fffd}".as_bytes())
            }
            _ => {
                let mut b = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
}

/// Appends `v` in decimal with `,` between groups of three digits (`12,345`).
fn push_grouped(out: &mut Vec<u8>, v: u64) {
    let start = out.len();
    push_u64(out, v);
    let digits = out.len() - start;
    for i in (1..digits).rev().filter(|i| (digits - i) % 3 == 0) {
        out.insert(start + i, b',');
    }
}

/// A warm colour (red to yellow) from a hash of `name`: the same name always
/// gets the same colour.
fn warm(name: &str) -> (u8, u8, u8) {
    // FNV-1a, then a multiply-xorshift finaliser to spread the bits.
    let mut h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    let [a, b, c, ..] = h.to_le_bytes();
    let scale = |v: u8, range: u16| (u16::from(v) * range / 255) as u8;
    (205 + scale(a, 50), scale(b, 230), scale(c, 55))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg(stacks: &[(&[&str], u64)]) -> String {
        let stacks: Vec<(Vec<String>, u64)> = stacks
            .iter()
            .map(|(f, w)| (f.iter().map(|s| s.to_string()).collect(), *w))
            .collect();
        let mut out = Vec::new();
        write_svg(&mut out, "Flame <test> & co", "samples", &stacks);
        String::from_utf8(out).unwrap()
    }

    /// A small well-formedness checker: one root element, tags balanced,
    /// attributes quoted and unique, no raw `<` or bare `&` in text or
    /// values, CDATA and the `<?xml …?>` declaration skipped.
    fn check_xml(doc: &str) -> Result<(), String> {
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

    /// The rect (x, y, width) of the frame titled `name`.
    fn rect(doc: &str, name: &str) -> (f64, f64, f64) {
        let at = doc.find(&format!("<title>{name} (")).expect(name);
        let r = &doc[at + doc[at..].find("<rect").unwrap()..];
        let attr = |a: &str| {
            let v = &r[r.find(&format!(" {a}=\"")).unwrap() + a.len() + 3..];
            v[..v.find('"').unwrap()].parse::<f64>().unwrap()
        };
        (attr("x"), attr("y"), attr("width"))
    }

    #[test]
    fn checker_rejects_broken_xml() {
        assert!(check_xml("<a><b>x</b><c/></a>").is_ok());
        for bad in [
            "<a><b></a>",
            "<a>x & y</a>",
            "<a x=1/>",
            "<a>1 < 2</a>",
            "<a/><b/>",
        ] {
            assert!(check_xml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn output_is_well_formed_xml() {
        let doc = svg(&[
            (&["bash", "main", "acc_outer", "acc_inner"], 5),
            (&["bash", "<impl Foo for Vec<T>>::go"], 3),
            (&["bash", "a&b \"q\" 'a' ]]> \u{1}\u{7f} 日本"], 2),
        ]);
        check_xml(&doc).unwrap();
        assert_eq!(doc.matches("]]>").count(), 1, "only the CDATA end");
        assert!(!SCRIPT.contains("]]>"));
    }

    #[test]
    fn names_are_escaped_and_children_sit_above_parents() {
        let doc = svg(&[
            (&["bash", "main", "acc_outer", "acc_inner"], 5),
            (&["bash", "main", "other"], 3),
            (&["bash", "std::vector<int>::push & \"pop\""], 4),
        ]);
        assert!(doc.contains("<title>std::vector&lt;int&gt;::push &amp; &quot;pop&quot; (4 "));
        assert!(!doc.contains("vector<int>") && !doc.contains("& \""));
        assert!(doc.contains("Flame &lt;test&gt; &amp; co"));
        let (ox, oy, ow) = rect(&doc, "acc_outer");
        let (ix, iy, iw) = rect(&doc, "acc_inner");
        assert_eq!(iy, oy - 16.0);
        assert!(
            ix >= ox && ix + iw <= ox + ow + 0.01,
            "{ix}+{iw} in {ox}+{ow}"
        );
        // The root spans the whole width at the bottom.
        let (_, ry, rw) = rect(&doc, "all");
        assert_eq!((rw, ry), (1180.0, rect(&doc, "bash").1 + 16.0));
    }

    #[test]
    fn widths_follow_weights() {
        let doc = svg(&[(&["main", "a"], 3), (&["main", "b"], 1)]);
        let ((ax, _, aw), (bx, _, bw)) = (rect(&doc, "a"), rect(&doc, "b"));
        assert!((aw - 3.0 * bw).abs() < 0.05, "{aw} vs {bw}");
        assert!(
            (ax + aw - bx).abs() < 0.02,
            "b right after a (alphabetical)"
        );
        assert!(doc.contains("<title>a (3 samples, 75.00%)</title>"));
    }

    #[test]
    fn shared_prefixes_merge() {
        let doc = svg(&[(&["bash", "main", "x"], 2), (&["bash", "main", "y"], 5)]);
        assert_eq!(doc.matches("<title>main (").count(), 1);
        assert!(doc.contains("<title>main (7 samples, 100.00%)</title>"));
        assert!(doc.contains("<title>all (7 samples, 100.00%)</title>"));
        // Input order does not matter.
        let swapped = svg(&[(&["bash", "main", "y"], 5), (&["bash", "main", "x"], 2)]);
        assert_eq!(doc, swapped);
    }

    #[test]
    fn tiny_frames_are_omitted_but_counted() {
        let doc = svg(&[(&["main", "big"], 100_000), (&["main", "tiny"], 99)]);
        assert!(!doc.contains("tiny"));
        assert!(doc.contains("<title>main (100,099 samples, 100.00%)</title>"));
    }

    #[test]
    fn empty_input_says_no_samples() {
        for doc in [svg(&[]), svg(&[(&["main"], 0)])] {
            check_xml(&doc).unwrap();
            assert!(doc.contains(">no samples</text>"));
            assert!(!doc.contains("class=\"f\""));
        }
    }

    #[test]
    fn colours_are_warm_and_stable() {
        assert_eq!(warm("acc_inner"), warm("acc_inner"));
        assert_ne!(warm("acc_inner"), warm("acc_outer"));
        let (r, g, b) = warm("main");
        assert!(r >= 205 && g <= 230 && b <= 55);
    }

    #[test]
    fn names_are_cut_to_their_box() {
        let mut out = Vec::new();
        push_fitted(&mut out, "abcdefghij", 6.0 + 5.0 * CHAR_W);
        assert_eq!(out, b"abc..");
        out.clear();
        push_fitted(&mut out, "a<c", 6.0 + 3.0 * CHAR_W);
        assert_eq!(out, b"a&lt;c");
        out.clear();
        push_fitted(&mut out, "abcdef", 6.0 + 2.0 * CHAR_W);
        assert!(out.is_empty());
    }

    /// `cargo test --release -p tracectl --lib flame_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn flame_speed() {
        let stacks: Vec<(Vec<String>, u64)> = (0..10_000u64)
            .map(|i| {
                // Even stacks: 400 paths, all drawn; odd ones: scattered, mostly omitted.
                let pick = |d: u64| match i % 2 {
                    0 => i / 2 % 400,
                    _ => (i * (d + 1)).wrapping_mul(2_654_435_761) % 7,
                };
                let frames = (0..30).map(|d| format!("func_{d}_{}", pick(d))).collect();
                (frames, i % 13 + 1)
            })
            .collect();
        let start = std::time::Instant::now();
        let mut out = Vec::new();
        write_svg(&mut out, "speed", "samples", &stacks);
        let took = start.elapsed();
        eprintln!("10000 stacks x 30 frames: {took:?}, {} bytes", out.len());
        assert!(took.as_millis() < 100);
    }
}
