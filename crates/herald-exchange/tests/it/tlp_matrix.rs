//! The TLP matrix (spec §4, plan §5 item 5): every marking × every read path × every reader,
//! checked against `herald_stix::tlp::may_read` and against a table written out by hand. A hidden
//! object answers exactly as a missing one.

use std::fmt::Write as _;

use axum::http::StatusCode;
use herald_stix::tlp::{self, Relation, Tlp};
use serde_json::{Value, json};

use crate::support::{Answer, SECTOR, Setup, call, identity, note, setup};

/// A marking of the matrix: its label, its marking-definition (none = unmarked) and its TLP.
struct Marking {
    label: &'static str,
    definition: Option<&'static str>,
    tlp: Tlp,
}

const MARKINGS: [Marking; 7] = [
    Marking { label: "CLEAR", definition: Some(tlp::TLP2_CLEAR), tlp: Tlp::Clear },
    Marking { label: "WHITE (TLP 1.0)", definition: Some(tlp::TLP1_WHITE), tlp: Tlp::Clear },
    Marking { label: "GREEN", definition: Some(tlp::TLP2_GREEN), tlp: Tlp::Green },
    Marking { label: "AMBER", definition: Some(tlp::TLP2_AMBER), tlp: Tlp::Amber },
    Marking { label: "unmarked", definition: None, tlp: Tlp::Amber },
    Marking {
        label: "AMBER+STRICT",
        definition: Some(tlp::TLP2_AMBER_STRICT),
        tlp: Tlp::AmberStrict,
    },
    Marking { label: "RED (to hospital-b)", definition: Some(tlp::TLP2_RED), tlp: Tlp::Red },
];

/// The readers: the author, the operator, the named recipient (a peer), a peer not named, the
/// outsider, and nobody.
const READERS: [(&str, Option<&str>); 6] = [
    ("hospital-a", Some("hospital-a")),
    ("cert", Some("cert")),
    ("hospital-b", Some("hospital-b")),
    ("hospital-c", Some("hospital-c")),
    ("vendor-x", Some("vendor-x")),
    ("anonymous", None),
];

/// Spec §4's table, by hand: for each marking (in `MARKINGS` order) and reader (in `READERS`
/// order), `y` = may read, `n` = may not, `-` = no credentials.
const BY_HAND: [&str; 7] = [
    "yyyyy-", // CLEAR: every reader of the collection
    "yyyyy-", // WHITE = CLEAR
    "yyyyn-", // GREEN: the community (a, b, c), not vendor-x
    "yyyyn-", // AMBER: the community
    "yyyyn-", // unmarked counts as AMBER
    "yynnn-", // AMBER+STRICT: the author and the operator only
    "yyynn-", // RED: the author, the operator and hospital-b, named; not hospital-c
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Objects,
    Manifest,
    Object,
    Versions,
    MatchId,
    Status,
    Delete,
}

const PATHS: [Path; 7] = [
    Path::Objects,
    Path::Manifest,
    Path::Object,
    Path::Versions,
    Path::MatchId,
    Path::Status,
    Path::Delete,
];

impl Path {
    fn label(self) -> &'static str {
        match self {
            Path::Objects => "GET objects/",
            Path::Manifest => "GET manifest/",
            Path::Object => "GET objects/{id}/",
            Path::Versions => "GET objects/{id}/versions/",
            Path::MatchId => "GET objects/?match[id]={id}",
            Path::Status => "GET status/{id}/ of the POST",
            Path::Delete => "DELETE objects/{id}/",
        }
    }
}

fn object_id(n: u32) -> String {
    format!("note--00000000-0000-4000-8000-{n:012}")
}

fn marked(n: u32, m: &Marking) -> Value {
    let extra = if m.tlp == Tlp::Red {
        json!({"extensions": {tlp::RECIPIENTS_EXTENSION: {"extension_type": "property-extension", "recipients": [identity(2)]}}})
    } else {
        json!({})
    };
    note(n, m.definition, extra)
}

/// The relation of reader `r` (an index into `READERS`) to hospital-a's object marked `m`.
fn relation(r: usize, m: &Marking) -> Relation {
    let name = READERS[r].0;
    Relation {
        same_org: name == "hospital-a",
        operator: name == "cert",
        shares_community: matches!(name, "hospital-a" | "hospital-b" | "hospital-c"),
        named_recipient: m.tlp == Tlp::Red && name == "hospital-b",
    }
}

/// What `path` should answer: from `may_read`, after checking that the hand-written table agrees.
fn expected(path: Path, mi: usize, r: usize) -> &'static str {
    let m = &MARKINGS[mi];
    let by_hand = BY_HAND[mi].as_bytes()[r];
    let Some(_) = READERS[r].1 else {
        assert_eq!(by_hand, b'-');
        return "401";
    };
    let visible = tlp::may_read(m.tlp, relation(r, m));
    assert_eq!(
        visible,
        by_hand == b'y',
        "may_read and the table disagree: {} × {}",
        m.label,
        READERS[r].0
    );
    let owner = matches!(READERS[r].0, "hospital-a" | "cert");
    match path {
        Path::Status if READERS[r].0 == "hospital-a" => "200",
        Path::Delete if owner => "200",
        // vendor-x may read the collection, not write to it: refused before the object is
        // looked up, so the answer is the same for every object, seen, hidden or missing.
        Path::Delete if visible || READERS[r].0 == "vendor-x" => "403",
        Path::Status | Path::Delete => "404",
        _ if visible => "yes",
        _ => "no",
    }
}

fn listed(a: &Answer, key: &str, id: &str) -> bool {
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    a.json()[key].as_array().is_some_and(|list| list.iter().any(|o| o["id"] == id))
}

/// A 404 that must equal the answer about a missing object, or a 200.
fn found(a: &Answer, missing: &Answer) -> &'static str {
    match a.status {
        StatusCode::OK => "yes",
        StatusCode::NOT_FOUND => {
            assert_eq!(a.body, missing.body, "a hidden object answers as a missing one");
            "no"
        }
        other => panic!("unexpected {other}: {}", a.text()),
    }
}

/// What the server answers `reader` on `path` about object `n` (posted with status `status`).
async fn observe(s: &Setup, path: Path, reader: Option<&str>, n: u32, status: &str) -> String {
    let id = object_id(n);
    let missing_id = object_id(999);
    let a = match path {
        Path::Objects => call(s, "GET", &format!("{SECTOR}objects/"), reader, None).await,
        Path::Manifest => call(s, "GET", &format!("{SECTOR}manifest/"), reader, None).await,
        Path::MatchId => {
            call(s, "GET", &format!("{SECTOR}objects/?match[id]={id}"), reader, None).await
        }
        Path::Object | Path::Delete => {
            let method = if path == Path::Delete { "DELETE" } else { "GET" };
            call(s, method, &format!("{SECTOR}objects/{id}/"), reader, None).await
        }
        Path::Versions => {
            call(s, "GET", &format!("{SECTOR}objects/{id}/versions/"), reader, None).await
        }
        Path::Status => {
            call(s, "GET", &format!("/taxii2/health/status/{status}/"), reader, None).await
        }
    };
    if a.status == StatusCode::UNAUTHORIZED {
        assert!(a.headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        return "401".into();
    }
    match path {
        Path::Objects | Path::MatchId => {
            if listed(&a, "objects", &id) { "yes" } else { "no" }.into()
        }
        Path::Manifest => if listed(&a, "objects", &id) { "yes" } else { "no" }.into(),
        Path::Object | Path::Versions => {
            let suffix = if path == Path::Versions { "versions/" } else { "" };
            let missing =
                call(s, "GET", &format!("{SECTOR}objects/{missing_id}/{suffix}"), reader, None)
                    .await;
            found(&a, &missing).into()
        }
        Path::Delete => {
            if a.status == StatusCode::NOT_FOUND || reader == Some("vendor-x") {
                let missing =
                    call(s, "DELETE", &format!("{SECTOR}objects/{missing_id}/"), reader, None)
                        .await;
                assert_eq!(
                    a.body, missing.body,
                    "a hidden object's DELETE answers as a missing one's"
                );
            }
            a.status.as_str().to_owned()
        }
        Path::Status => a.status.as_str().to_owned(),
    }
}

/// Posts `objects` as hospital-a; every one must be stored. The status id.
async fn post(s: &Setup, objects: &[Value]) -> String {
    let body = json!({"objects": objects}).to_string();
    let v =
        call(s, "POST", &format!("{SECTOR}objects/"), Some("hospital-a"), Some(&body)).await.json();
    assert_eq!(v["success_count"], objects.len(), "{v}");
    v["id"].as_str().unwrap().to_owned()
}

fn print_matrix(path: Path, cells: &[Vec<String>]) -> String {
    let mut out = format!("\n{}\n{:<22}", path.label(), "marking \\ reader");
    for (name, _) in READERS {
        write!(out, "{name:>11}").unwrap();
    }
    for (mi, row) in cells.iter().enumerate() {
        write!(out, "\n{:<22}", MARKINGS[mi].label).unwrap();
        for cell in row {
            write!(out, "{cell:>11}").unwrap();
        }
    }
    out
}

#[tokio::test]
async fn every_marking_path_and_reader_as_spec_4_says() {
    let s = setup().await;
    let mut statuses = Vec::new();
    for (mi, m) in MARKINGS.iter().enumerate() {
        let n = u32::try_from(mi).unwrap();
        statuses.push(post(&s, &[marked(10 + n, m)]).await);
        // Two more for DELETE: the operator deletes the first, the author the second.
        post(&s, &[marked(100 + n, m), marked(200 + n, m)]).await;
    }
    let mut report = String::new();
    let mut cells_checked = 0;
    let mut wrong = Vec::new();
    for path in PATHS {
        let mut cells = Vec::new();
        for (mi, _) in MARKINGS.iter().enumerate() {
            let n = u32::try_from(mi).unwrap();
            let mut row = Vec::new();
            // Non-authors try DELETE before the owners delete (the object must still be there).
            for r in [5, 2, 3, 4, 1, 0] {
                let target = match (path, READERS[r].0) {
                    (Path::Delete, "hospital-a") => 200 + n,
                    (Path::Delete, _) => 100 + n,
                    _ => 10 + n,
                };
                let got = observe(&s, path, READERS[r].1, target, &statuses[mi]).await;
                let want = expected(path, mi, r);
                if got != want {
                    wrong.push(format!(
                        "{} × {} × {}: got {got}, want {want}",
                        path.label(),
                        MARKINGS[mi].label,
                        READERS[r].0
                    ));
                }
                row.push((r, got));
                cells_checked += 1;
            }
            row.sort();
            cells.push(row.into_iter().map(|(_, g)| g).collect());
        }
        report.push_str(&print_matrix(path, &cells));
    }
    println!("TLP matrix: {cells_checked} cells (yes = served, no = hidden, as missing){report}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(cells_checked, MARKINGS.len() * READERS.len() * PATHS.len());
}
