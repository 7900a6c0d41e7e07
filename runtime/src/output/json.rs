//! JSON Lines: one object per record, written by hand into the line buffer.
//!
//! `{"time":1.500000000,"probe":"open","pid":4242,"comm":"bash"}`: the time
//! (unless the time mode is none), the probe's name, then the fields in spec
//! order. The constant parts (`"probe":"…"` and each `,"field":`) are escaped
//! once, when the writer is created.

use tracectl_compiler::plan::{Plan, TimeMode};

use super::Clock;
use crate::decode::{write_json_str, Record};

/// Per-probe pre-escaped key material.
struct ProbeKeys {
    /// `"probe":"NAME"`.
    probe: Vec<u8>,
    /// `,"FIELD":` for each field, in order.
    fields: Vec<Vec<u8>>,
}

/// JSON Lines state.
pub(crate) struct Json {
    probes: Vec<ProbeKeys>,
}

impl Json {
    pub(crate) fn new(plan: &Plan) -> Json {
        let probes = plan
            .probes
            .iter()
            .map(|p| {
                let mut probe = b"\"probe\":".to_vec();
                write_json_str(&mut probe, &p.name);
                let fields = p
                    .fields
                    .iter()
                    .map(|f| {
                        let mut k = vec![b','];
                        write_json_str(&mut k, &f.name);
                        k.push(b':');
                        k
                    })
                    .collect();
                ProbeKeys { probe, fields }
            })
            .collect();
        Json { probes }
    }

    /// Appends one record's object and newline; false if its probe is unknown.
    pub(crate) fn row(&self, rec: &Record<'_>, clock: &mut Clock, line: &mut Vec<u8>) -> bool {
        let Some(keys) = self.probes.get(rec.probe) else {
            return false;
        };
        line.push(b'{');
        match clock.mode {
            TimeMode::Relative => {
                line.extend_from_slice(b"\"time\":");
                clock.write(rec.ts_ns, line);
                line.push(b',');
            }
            TimeMode::Absolute => {
                line.extend_from_slice(b"\"time\":\"");
                clock.write(rec.ts_ns, line);
                line.extend_from_slice(b"\",");
            }
            TimeMode::None => {}
        }
        line.extend_from_slice(&keys.probe);
        for (key, value) in keys.fields.iter().zip(&rec.values) {
            line.extend_from_slice(key);
            value.write_json(line);
        }
        line.extend_from_slice(b"}\n");
        true
    }
}
