//! Deterministic SCO ids: ours equal the ids `stix2` 3.0.2 generates for the same properties.

use herald_stix::id::{TypeName, sco_id};
use serde_json::{Value, json};

/// Objects of every SCO type with id-contributing properties (and one without: process), in
/// the shapes the STIX 2.1 specification's examples use.
fn cases() -> Value {
    json!([
        {"type": "ipv4-addr", "value": "198.51.100.3"},
        {"type": "ipv4-addr", "value": "10.0.0.0/8"},
        {"type": "ipv6-addr", "value": "2001:0db8:85a3:0000:0000:8a2e:0370:7334"},
        {"type": "domain-name", "value": "example.com"},
        {"type": "domain-name", "value": "bücher.example"},
        {"type": "url", "value": "https://example.com/research/index.html?q=\"x\"&y=\\z"},
        {"type": "email-addr", "value": "john@example.com", "display_name": "John Doe"},
        {"type": "mac-addr", "value": "d2:fb:49:24:37:18"},
        {"type": "mutex", "name": "__CLEANSWEEP__"},
        {"type": "autonomous-system", "number": 15139, "name": "Slime Industries"},
        {"type": "directory", "path": "C:\\Windows\\System32"},
        {"type": "file", "name": "foo.dll", "hashes": {"SHA-256": "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db", "MD5": "1717b7fff97d37a1e1a0029d83492de1"}},
        {"type": "file", "hashes": {"SHA-256": "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db"}},
        {"type": "file", "name": "qwerty.dll", "size": 25536},
        {"type": "software", "name": "Word", "cpe": "cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*", "version": "2002", "vendor": "Microsoft"},
        {"type": "user-account", "user_id": "1001", "account_login": "jdoe", "account_type": "unix", "display_name": "John Doe"},
        {"type": "windows-registry-key", "key": "hkey_local_machine\\system\\bar\\foo"},
        {"type": "x509-certificate", "serial_number": "36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49:32:0a:b7:06", "issuer": "C=ZA"},
        {"type": "email-message", "is_multipart": false, "subject": "Saw your \u{1f600} profile", "body": "line 1\nline 2\t\u{1}"},
        {"type": "network-traffic", "src_ref": "ipv4-addr--4d22aae0-2bf9-5427-8819-e4f6abf20a53", "dst_port": 443, "protocols": ["ipv4", "tcp"]},
    ])
}

#[test]
fn sco_ids_equal_the_ids_stix2_generates() {
    let cases = cases();
    let script = r#"
import json, sys, stix2
for props in json.load(sys.stdin):
    obj = stix2.parse(dict(props, spec_version="2.1"), allow_custom=False)
    print(obj.id)
"#;
    let Some(out) =
        herald_testkit::run_exchange_python(&["stix2"], script, cases.to_string().as_bytes())
    else {
        return;
    };
    let theirs: Vec<String> = String::from_utf8(out).unwrap().lines().map(str::to_owned).collect();
    let cases = cases.as_array().unwrap();
    assert_eq!(theirs.len(), cases.len());
    for (props, theirs) in cases.iter().zip(theirs) {
        let kind = TypeName::parse(props["type"].as_str().unwrap()).unwrap();
        let ours = sco_id(&kind, props.as_object().unwrap()).unwrap().unwrap();
        assert_eq!(ours.as_str(), theirs, "{props}");
    }
}

#[test]
fn a_process_has_no_deterministic_id() {
    let kind = TypeName::parse("process").unwrap();
    assert_eq!(sco_id(&kind, json!({"pid": 1}).as_object().unwrap()).unwrap(), None);
}
