//! End-to-end decoding and printing: hand-built plans, hand-crafted raw
//! records, exact expected text for every format.

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::rc::Rc;

use tracectl::decode::{DecodeError, Decoder, Record};
use tracectl::output::Writer;
use tracectl_compiler::plan::{
    Attach, Decode, FieldPlan, Format, OutputPlan, Plan, ProbeConfig, ProbePlan, TimeMode,
};

/// An output sink the test can read back.
#[derive(Clone, Default)]
struct Sink(Rc<RefCell<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn text(&self) -> String {
        String::from_utf8(self.0.borrow().clone()).unwrap()
    }
}

fn field(name: &str, slot: u32, size: u32, decode: Decode) -> FieldPlan {
    FieldPlan {
        name: name.into(),
        slot,
        size,
        decode,
    }
}

fn probe(name: &str, fields: Vec<FieldPlan>) -> ProbePlan {
    ProbePlan {
        name: name.into(),
        probe: format!("kfunc:{name}"),
        attach: Attach::Kernel {
            function: name.into(),
            ret: false,
            mode: tracectl_compiler::plan::KernelMode::Auto,
        },
        config: ProbeConfig {
            ..ProbeConfig::default()
        },
        fields,
        pair: None,
    }
}

fn plan(probes: Vec<ProbePlan>) -> Plan {
    Plan {
        format: 1,
        name: "test".into(),
        description: None,
        enums: Vec::new(),
        probes,
        output: OutputPlan {
            format: Format::Table,
            time: TimeMode::Relative,
            stats: Default::default(),
        },
    }
}

/// Builds a raw record: header, then each `(slot, bytes)` at its offset.
fn raw(ts: u64, probe: u32, cpu: u32, len: usize, slots: &[(usize, &[u8])]) -> Vec<u8> {
    let mut r = vec![0u8; len];
    r[0..8].copy_from_slice(&ts.to_le_bytes());
    r[8..12].copy_from_slice(&probe.to_le_bytes());
    r[12..16].copy_from_slice(&cpu.to_le_bytes());
    for (off, bytes) in slots {
        r[*off..*off + bytes.len()].copy_from_slice(bytes);
    }
    r
}

const PATH: &str = "/tmp/x y,\"z\"";

/// One probe, `open`, with most decoders.
fn single_plan() -> Plan {
    plan(vec![probe(
        "open",
        vec![
            field(
                "pid",
                16,
                8,
                Decode::Int {
                    size: 4,
                    signed: false,
                },
            ),
            field("comm", 24, 16, Decode::Str),
            field("path", 40, 32, Decode::Str),
            field("daddr", 72, 8, Decode::Ip4),
            field(
                "dport",
                80,
                8,
                Decode::Int {
                    size: 2,
                    signed: false,
                },
            ),
            field("a6", 88, 16, Decode::Ip6),
            field(
                "ret",
                104,
                8,
                Decode::Int {
                    size: 8,
                    signed: true,
                },
            ),
        ],
    )])
}

/// The two records of `single_plan`, 1.5 s apart.
fn single_records() -> Vec<Vec<u8>> {
    let mapped = Ipv4Addr::new(1, 2, 3, 4).to_ipv6_mapped().octets();
    vec![
        raw(
            1_000_000_000,
            0,
            2,
            112,
            &[
                (16, &4242u64.to_le_bytes()),
                (24, b"bash\0"),
                (40, PATH.as_bytes()),
                (72, &[127, 0, 0, 1, 0, 0, 0, 0]),
                (80, &9u64.to_le_bytes()),
                (88, &std::net::Ipv6Addr::LOCALHOST.octets()),
                (104, &(-2i64).to_le_bytes()),
            ],
        ),
        raw(
            2_500_000_000,
            0,
            3,
            112,
            &[
                (16, &1u64.to_le_bytes()),
                (24, b"vi\tm"),
                (40, b"a\nb"),
                (72, &[10, 0, 0, 255, 0, 0, 0, 0]),
                (80, &65535u64.to_le_bytes()),
                (88, &mapped),
                (104, &0i64.to_le_bytes()),
            ],
        ),
    ]
}

/// Decodes and writes `records`, then finishes; returns the output.
fn render(
    plan: &Plan,
    format: Format,
    time: TimeMode,
    offset: i128,
    records: &[Vec<u8>],
) -> String {
    let sink = Sink::default();
    let dec = Decoder::new(plan);
    let mut w =
        Writer::new(plan, format, time, Box::new(sink.clone())).with_realtime_offset(offset);
    for r in records {
        let rec = dec.decode(r).unwrap();
        w.write_record(&rec).unwrap();
    }
    w.finish().unwrap();
    sink.text()
}

/// A minimal RFC 4180 parser (quotes, doubled quotes, embedded newlines).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                c => cell.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut cell)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            c => cell.push(c),
        }
    }
    assert!(
        !quoted && cell.is_empty() && row.is_empty(),
        "unterminated CSV"
    );
    rows
}

#[test]
fn table_single_probe_relative() {
    let out = render(
        &single_plan(),
        Format::Table,
        TimeMode::Relative,
        0,
        &single_records(),
    );
    let expected = [
        format!(
            "{:<14} {:<7} {:<16} {:<16} {:<15} {:<6} {:<39} {}",
            "TIME(s)", "PID", "COMM", "PATH", "DADDR", "DPORT", "A6", "RET"
        ),
        format!(
            "{:<14} {:<7} {:<16} {:<16} {:<15} {:<6} {:<39} {}",
            "0.000000000", "4242", "bash", PATH, "127.0.0.1", "9", "::1", "-2"
        ),
        format!(
            "{:<14} {:<7} {:<16} {:<16} {:<15} {:<6} {:<39} {}",
            "1.500000000", "1", "vi\\tm", "a\\nb", "10.0.0.255", "65535", "::ffff:1.2.3.4", "0"
        ),
    ];
    assert_eq!(out, expected.join("\n") + "\n");
    // Spot-check the literal layout of the first data line.
    assert!(out.contains(
        "\n0.000000000    4242    bash             /tmp/x y,\"z\"     127.0.0.1       9      ::1"
    ));
    assert!(out.lines().all(|l| !l.ends_with(' ')));
}

#[test]
fn csv_single_probe_relative() {
    let out = render(
        &single_plan(),
        Format::Csv,
        TimeMode::Relative,
        0,
        &single_records(),
    );
    assert_eq!(
        out,
        "time,probe,pid,comm,path,daddr,dport,a6,ret\n\
         0.000000000,open,4242,bash,\"/tmp/x y,\"\"z\"\"\",127.0.0.1,9,::1,-2\n\
         1.500000000,open,1,vi\tm,\"a\nb\",10.0.0.255,65535,::ffff:1.2.3.4,0\n"
    );
    let rows = parse_csv(&out);
    assert_eq!(
        rows,
        [
            vec!["time", "probe", "pid", "comm", "path", "daddr", "dport", "a6", "ret"],
            vec![
                "0.000000000",
                "open",
                "4242",
                "bash",
                PATH,
                "127.0.0.1",
                "9",
                "::1",
                "-2"
            ],
            vec![
                "1.500000000",
                "open",
                "1",
                "vi\tm",
                "a\nb",
                "10.0.0.255",
                "65535",
                "::ffff:1.2.3.4",
                "0"
            ],
        ]
    );
}

#[test]
fn csv_crlf() {
    let plan = single_plan();
    let sink = Sink::default();
    let dec = Decoder::new(&plan);
    let mut w =
        Writer::new(&plan, Format::Csv, TimeMode::None, Box::new(sink.clone())).with_csv_crlf(true);
    for r in &single_records() {
        w.write_record(&dec.decode(r).unwrap()).unwrap();
    }
    w.finish().unwrap();
    let out = sink.text();
    assert!(out.starts_with("probe,pid,comm,path,daddr,dport,a6,ret\r\n"));
    assert!(out.contains("\r\nopen,1,vi\tm,\"a\nb\",10.0.0.255,65535,::ffff:1.2.3.4,0\r\n"));
    assert_eq!(parse_csv(&out).len(), 3);
}

#[test]
fn json_single_probe_relative() {
    let out = render(
        &single_plan(),
        Format::Json,
        TimeMode::Relative,
        0,
        &single_records(),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        r#"{"time":0.000000000,"probe":"open","pid":4242,"comm":"bash","path":"/tmp/x y,\"z\"","daddr":"127.0.0.1","dport":9,"a6":"::1","ret":-2}"#
    );
    assert!(lines[1].starts_with(r#"{"time":1.500000000,"probe":"open","#));
    let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(v["time"].as_f64(), Some(1.5));
    assert_eq!(v["probe"], "open");
    assert_eq!(v["pid"], 1);
    assert_eq!(v["comm"], "vi\tm");
    assert_eq!(v["path"], "a\nb");
    assert_eq!(v["daddr"], "10.0.0.255");
    assert_eq!(v["dport"], 65535);
    assert_eq!(v["a6"], "::ffff:1.2.3.4");
    assert_eq!(v["ret"], 0);
    assert_eq!(v.as_object().unwrap().len(), 9);
    let v0: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v0["path"], PATH);
    assert_eq!(v0["ret"].as_i64(), Some(-2));
    // Keys in order: time, probe, then spec order.
    let keys = [
        "time", "probe", "pid", "comm", "path", "daddr", "dport", "a6", "ret",
    ];
    let pos: Vec<usize> = keys
        .iter()
        .map(|k| lines[1].find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]));
}

/// Two probes with partly shared field names.
fn multi_plan() -> Plan {
    plan(vec![
        probe(
            "open",
            vec![
                field(
                    "pid",
                    16,
                    8,
                    Decode::Int {
                        size: 4,
                        signed: false,
                    },
                ),
                field("path", 24, 32, Decode::Str),
            ],
        ),
        probe(
            "exec",
            vec![
                field(
                    "pid",
                    16,
                    8,
                    Decode::Int {
                        size: 4,
                        signed: false,
                    },
                ),
                field("comm", 24, 16, Decode::Str),
                field(
                    "args",
                    40,
                    12,
                    Decode::IntArray {
                        elem: 4,
                        signed: true,
                    },
                ),
            ],
        ),
    ])
}

fn multi_records() -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    for v in [1i32, -2, 3] {
        args.extend_from_slice(&v.to_le_bytes());
    }
    vec![
        raw(
            1_123_456_789,
            0,
            0,
            56,
            &[(16, &4242u64.to_le_bytes()), (24, PATH.as_bytes())],
        ),
        raw(
            2_000_000_000,
            1,
            1,
            52,
            &[(16, &7u64.to_le_bytes()), (24, b"bash"), (40, &args)],
        ),
    ]
}

/// Monotonic 1 s is wall-clock 2026-11-25T12:00:01Z.
const OFFSET: i128 = 1_795_608_001_000_000_000 - 1_000_000_000;

#[test]
fn table_multi_probe_absolute() {
    let out = render(
        &multi_plan(),
        Format::Table,
        TimeMode::Absolute,
        OFFSET,
        &multi_records(),
    );
    assert_eq!(
        out,
        "TIME                           PROBE PID     PATH             COMM             ARGS\n\
         2026-11-25T12:00:01.123456789Z open  4242    /tmp/x y,\"z\"     -                -\n\
         2026-11-25T12:00:02.000000000Z exec  7       -                bash             [1,-2,3]\n"
    );
}

#[test]
fn csv_multi_probe_absolute() {
    let out = render(
        &multi_plan(),
        Format::Csv,
        TimeMode::Absolute,
        OFFSET,
        &multi_records(),
    );
    assert_eq!(
        out,
        "time,probe,pid,path,comm,args\n\
         2026-11-25T12:00:01.123456789Z,open,4242,\"/tmp/x y,\"\"z\"\"\",,\n\
         2026-11-25T12:00:02.000000000Z,exec,7,,bash,\"[1,-2,3]\"\n"
    );
    let rows = parse_csv(&out);
    assert_eq!(
        rows[1],
        [
            "2026-11-25T12:00:01.123456789Z",
            "open",
            "4242",
            PATH,
            "",
            ""
        ]
    );
    assert_eq!(
        rows[2],
        [
            "2026-11-25T12:00:02.000000000Z",
            "exec",
            "7",
            "",
            "bash",
            "[1,-2,3]"
        ]
    );
}

#[test]
fn json_multi_probe_absolute() {
    let out = render(
        &multi_plan(),
        Format::Json,
        TimeMode::Absolute,
        OFFSET,
        &multi_records(),
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"time": "2026-11-25T12:00:01.123456789Z", "probe": "open", "pid": 4242, "path": PATH})
    );
    assert_eq!(
        lines[1],
        serde_json::json!({"time": "2026-11-25T12:00:02.000000000Z", "probe": "exec", "pid": 7, "comm": "bash", "args": [1, -2, 3]})
    );
}

#[test]
fn time_none_everywhere() {
    let recs = single_records();
    let table = render(&single_plan(), Format::Table, TimeMode::None, 0, &recs[..1]);
    assert_eq!(
        table.lines().next().unwrap(),
        format!(
            "{:<7} {:<16} {:<16} {:<15} {:<6} {:<39} RET",
            "PID", "COMM", "PATH", "DADDR", "DPORT", "A6"
        )
    );
    assert!(table.lines().nth(1).unwrap().starts_with("4242    bash "));
    let json = render(&single_plan(), Format::Json, TimeMode::None, 0, &recs[..1]);
    assert!(json.starts_with(r#"{"probe":"open","pid":4242,"#));
    let csv = render(&single_plan(), Format::Csv, TimeMode::None, 0, &recs[..1]);
    assert!(csv.starts_with("probe,pid,"));
}

#[test]
fn relative_time_counts_from_the_first_record_written() {
    let p = plan(vec![probe(
        "p",
        vec![field(
            "n",
            16,
            8,
            Decode::Int {
                size: 8,
                signed: false,
            },
        )],
    )]);
    let recs = [
        raw(5_000_000_000, 0, 0, 24, &[]),
        raw(6_500_000_000, 0, 0, 24, &[]),
        raw(4_999_999_000, 0, 0, 24, &[]), // a straggler from another CPU
    ];
    let out = render(&p, Format::Csv, TimeMode::Relative, 0, &recs);
    assert_eq!(
        out,
        "time,probe,n\n0.000000000,p,0\n1.500000000,p,0\n-0.000001000,p,0\n"
    );
}

#[test]
fn empty_output_still_has_headers() {
    let p = single_plan();
    assert_eq!(
        render(&p, Format::Csv, TimeMode::Relative, 0, &[]),
        "time,probe,pid,comm,path,daddr,dport,a6,ret\n"
    );
    assert!(render(&p, Format::Table, TimeMode::Relative, 0, &[]).starts_with("TIME(s) "));
    assert_eq!(render(&p, Format::Json, TimeMode::Relative, 0, &[]), "");
}

#[test]
fn output_is_buffered_until_flush() {
    let p = single_plan();
    let sink = Sink::default();
    let dec = Decoder::new(&p);
    let mut w = Writer::new(&p, Format::Json, TimeMode::None, Box::new(sink.clone()));
    let recs = single_records();
    w.write_record(&dec.decode(&recs[0]).unwrap()).unwrap();
    assert_eq!(sink.text(), "");
    w.flush().unwrap();
    assert_eq!(sink.text().lines().count(), 1);

    let mut t = Writer::new(&p, Format::Table, TimeMode::None, Box::new(sink.clone()));
    t.write_header().unwrap();
    t.flush().unwrap();
    assert!(sink.text().ends_with(" RET\n"));
    t.write_header().unwrap(); // only once
    t.finish().unwrap();
    assert_eq!(sink.text().matches("RET").count(), 1);
}

#[test]
fn invalid_utf8_and_control_chars() {
    let p = plan(vec![probe("p", vec![field("s", 16, 8, Decode::Str)])]);
    let recs = [raw(0, 0, 0, 24, &[(16, &[b'f', 0xff, b'o', 0x1b, b'\r'])])];
    let table = render(&p, Format::Table, TimeMode::None, 0, &recs);
    assert_eq!(table, "S\nf\u{fffd}o\\x1b\\r\n");
    let csv = render(&p, Format::Csv, TimeMode::None, 0, &recs);
    assert_eq!(csv, "probe,s\np,\"f\u{fffd}o\u{1b}\r\"\n");
    assert_eq!(parse_csv(&csv)[1][1], "f\u{fffd}o\u{1b}\r");
    let json = render(&p, Format::Json, TimeMode::None, 0, &recs);
    assert_eq!(json, "{\"probe\":\"p\",\"s\":\"f\u{fffd}o\\u001b\\r\"}\n");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["s"], "f\u{fffd}o\u{1b}\r");
}

#[test]
fn decode_errors_and_foreign_records() {
    let p = single_plan();
    let dec = Decoder::new(&p);
    let full = &single_records()[0];
    assert_eq!(
        dec.decode(&full[..111]),
        Err(DecodeError::TooShort {
            len: 111,
            need: 112
        })
    );
    assert_eq!(
        dec.decode(&full[..8]),
        Err(DecodeError::TooShort { len: 8, need: 16 })
    );
    let mut bad = full.clone();
    bad[8] = 9;
    assert_eq!(
        dec.decode(&bad),
        Err(DecodeError::BadProbe {
            index: 9,
            probes: 1
        })
    );
    assert_eq!(dec.errors(), 3);

    // A record from another plan is refused by the writer, not a panic.
    let mut w = Writer::new(&p, Format::Table, TimeMode::None, Box::new(io::sink()));
    let foreign = Record {
        ts_ns: 0,
        probe: 5,
        cpu: 0,
        values: vec![],
    };
    let err = w.write_record(&foreign).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}
