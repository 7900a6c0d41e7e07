//! The JSON Schema of the YAML spec format (`tracectl schema`), for editors
//! (e.g. yaml-language-server). It mirrors `syntax::spec_yaml`'s key checks;
//! a test keeps both in step.

/// The schema, as JSON text.
pub const SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://tracectl.dev/schema/spec-v1.json",
  "title": "tracectl spec, version 1",
  "type": "object",
  "additionalProperties": false,
  "required": ["name", "probes"],
  "properties": {
    "version": { "const": 1, "description": "Spec language version; 1 is the only one." },
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
          "name": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "description": "Label of the probe's records (default: its target)." },
          "fields": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "not": { "enum": ["time", "probe"] } },
            "additionalProperties": { "type": ["string", "integer"], "description": "An expression: pid, comm, str(filename), ip4(sk->__sk_common.skc_daddr), ..." }
          },
          "filter": { "type": "string", "description": "In-kernel condition, e.g. comm != \"sshd\" && dport == $port" }
        }
      }
    },
    "output": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "format": { "enum": ["table", "json", "csv"] },
        "time": { "enum": ["relative", "absolute", "none"] }
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
        assert_eq!(top.len(), 6);
        let probe = &v["properties"]["probes"]["items"]["properties"];
        assert_eq!(probe.as_object().unwrap().len(), 4);
    }
}
