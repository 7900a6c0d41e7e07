//! The JSON Schema of the YAML spec format (`tracectl schema`), for editors
//! (e.g. yaml-language-server). It mirrors `syntax::spec_yaml`'s key checks;
//! a test keeps both in step.

/// The schema, as JSON text.
pub const SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://tracectl.dev/schema/spec-v2.json",
  "title": "tracectl spec, versions 1 and 2",
  "type": "object",
  "additionalProperties": false,
  "required": ["name", "probes"],
  "$defs": {
    "matchNames": {
      "oneOf": [
        { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
        { "type": "array", "minItems": 1, "items": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" } }
      ]
    }
  },
  "properties": {
    "version": { "enum": [1, 2], "description": "Spec language version: 2 for arithmetic, aggregations and start/end pairing (optional)." },
    "name": { "type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$", "description": "The spec's name." },
    "description": { "type": "string", "description": "One line saying what the spec traces." },
    "params": {
      "type": "object",
      "description": "Parameters, set with --param NAME=VALUE and used in filters as $NAME.",
      "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
      "additionalProperties": {
        "type": "object",
        "additionalProperties": false,
        "required": ["type"],
        "properties": {
          "type": { "enum": ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "string", "bool"] },
          "default": { "type": ["integer", "string", "boolean"] },
          "description": { "type": "string" }
        }
      }
    },
    "probes": {
      "type": "array",
      "minItems": 1,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["probe", "fields"],
        "properties": {
          "probe": {
            "type": "string",
            "pattern": "^(kfunc|kretfunc|kprobe|kretprobe|fentry|fexit|tracepoint|tp_btf|uprobe|uretprobe):.+$",
            "description": "kfunc:FUNC, kretfunc:FUNC, kprobe:FUNC, kretprobe:FUNC, fentry:FUNC, fexit:FUNC, tracepoint:CATEGORY:NAME, tp_btf:NAME, uprobe:BINARY:SYMBOL, uretprobe:BINARY:SYMBOL"
          },
          "end": {
            "type": "string",
            "pattern": "^(kfunc|kretfunc|kprobe|kretprobe|fentry|fexit|tracepoint|tp_btf|uprobe|uretprobe):.+$",
            "description": "Start/end pairing: the probe that ends this one; the record (or aggregate update) is made there. In expressions, end.NAME is read at the end probe and latency is the time from start to end in ns."
          },
          "match": {
            "description": "Start/end pairing: which start an end completes (default tid). A name, a list of names valid at both probes, or one list per side: { start: [pid], end: [next_pid] }.",
            "oneOf": [
              { "$ref": "#/$defs/matchNames" },
              {
                "type": "object",
                "additionalProperties": false,
                "required": ["start", "end"],
                "properties": {
                  "start": { "$ref": "#/$defs/matchNames", "description": "Names read at the start probe." },
                  "end": { "$ref": "#/$defs/matchNames", "description": "Names read at the end probe, as many as start's." }
                }
              }
            ]
          },
          "name": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "description": "Label of the probe's records (default: its target)." },
          "fields": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "not": { "enum": ["time", "probe"] } },
            "additionalProperties": { "type": ["string", "integer"], "description": "An expression: pid, comm, str(filename), ip4(sk->__sk_common.skc_daddr), ..." }
          },
          "filter": { "type": "string", "description": "In-kernel condition, e.g. comm != \"sshd\" && dport == $port" },
          "by": {
            "description": "Keys of an aggregating probe (whose fields are count(), sum(e), min(e), max(e), avg(e), hist(e), lhist(e, min, max, step)): a name, a list of names, or a map of name: expression.",
            "oneOf": [
              { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
              { "type": "array", "minItems": 1, "items": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" } },
              {
                "type": "object",
                "minProperties": 1,
                "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "not": { "enum": ["time", "probe"] } },
                "additionalProperties": { "type": ["string", "integer"] }
              }
            ]
          }
        }
      }
    },
    "output": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "format": { "enum": ["table", "json", "csv", "folded"] },
        "time": { "enum": ["relative", "absolute", "none"] },
        "interval": { "type": ["string", "integer"], "description": "Aggregations: print every interval (1s, 500ms, 2m; an integer is seconds), then reset." },
        "cumulative": { "type": "boolean", "description": "Aggregations: keep totals across interval prints." },
        "sort": { "type": "string", "description": "Aggregations: sort rows by this value or key, descending." },
        "top": { "type": "integer", "minimum": 1, "description": "Aggregations: rows per print." },
        "max_keys": { "type": "integer", "minimum": 1, "maximum": 1048576, "description": "Aggregations: distinct keys per probe; events of keys beyond are counted, not dropped silently." }
      }
    }
  }
}"##;

#[cfg(test)]
mod tests {
    #[test]
    fn schema_is_json_and_lists_the_same_keys() {
        let v: serde_json::Value = serde_json::from_str(super::SCHEMA).unwrap();
        let top: Vec<&str> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for k in [
            "version",
            "name",
            "description",
            "params",
            "probes",
            "output",
        ] {
            assert!(top.contains(&k), "schema lacks `{k}`");
        }
        use crate::syntax::spec_yaml::{OUTPUT_KEYS, PROBE_KEYS, TOP_KEYS};
        assert_eq!(top.len(), TOP_KEYS.len());
        let keys = |v: &serde_json::Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let sorted = |k: &[&str]| -> Vec<String> {
            let mut k: Vec<String> = k.iter().map(|s| s.to_string()).collect();
            k.sort();
            k
        };
        let probe = &v["properties"]["probes"]["items"]["properties"];
        assert_eq!(keys(probe), sorted(&PROBE_KEYS));
        assert_eq!(
            keys(&v["properties"]["output"]["properties"]),
            sorted(&OUTPUT_KEYS)
        );
        // `match:` sides are exactly `start:` and `end:`, and its names
        // refer to a definition that exists.
        let sides = &probe["match"]["oneOf"][1];
        assert_eq!(keys(&sides["properties"]), ["end", "start"]);
        assert_eq!(sides["required"], serde_json::json!(["start", "end"]));
        assert_eq!(probe["match"]["oneOf"][0]["$ref"], "#/$defs/matchNames");
        assert!(v["$defs"]["matchNames"]["oneOf"].is_array());
        assert_eq!(probe["end"]["pattern"], probe["probe"]["pattern"]);
    }
}
