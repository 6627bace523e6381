//! A differential run against the oracle itself, `stix2-patterns` 2.1.2 in Python: verdicts,
//! first-error offsets of syntax errors and the messages of the other checks, on thousands of
//! inputs (the fuzz corpus, generated trees, token soups, mutations of the test data).
//!
//! Ignored by default (CI does not install the package). To run it:
//!
//! ```sh
//! python3 -m venv /tmp/stix2patterns && /tmp/stix2patterns/bin/pip install stix2-patterns==2.1.2
//! HERALD_STIX2PATTERNS_PYTHON=/tmp/stix2patterns/bin/python \
//!   cargo test -p herald-stix --test it oracle -- --ignored --nocapture
//! ```

use std::io::Write as _;
use std::process::{Command, Stdio};

use herald_stix::pattern::{Pattern, parse};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

const SCRIPT: &str = r#"
import json, sys
from stix2patterns.validator import validate
out = []
for p in json.load(sys.stdin):
    try:
        ok, errs = validate(p, stix_version='2.1', ret_errs=True)
        out.append(["valid" if ok else "invalid", errs[0] if errs else None])
    except Exception as e:
        out.append(["crash", type(e).__name__])
json.dump(out, sys.stdout)
"#;

/// Small deterministic mutations: delete, insert or replace a few characters.
fn mutations(seed: &str, rng: &mut u64, count: usize) -> Vec<String> {
    const ALPHABET: &[char] = &[
        '[', ']', '(', ')', '\'', ':', '.', ',', '=', '!', '<', '>', '*', '-', '+', '/', '\\', ' ',
        '\n', 'a', 'b', 'h', 't', 'x', 'A', 'N', 'D', 'O', 'R', 'T', 'Z', '0', '1', '5', '_', '?',
    ];
    let mut next = move || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        usize::try_from(*rng % 1_000_003).unwrap()
    };
    (0..count)
        .map(|_| {
            let mut chars: Vec<char> = seed.chars().collect();
            for _ in 0..=next() % 3 {
                let at = next() % (chars.len() + 1);
                let c = ALPHABET[next() % ALPHABET.len()];
                match next() % 3 {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 if at < chars.len() => chars[at] = c,
                    _ => chars.insert(at, c),
                }
            }
            chars.into_iter().collect()
        })
        .collect()
}

fn inputs() -> Vec<String> {
    let mut inputs: Vec<String> = herald_testkit::fuzz_corpus("stix_pattern")
        .into_iter()
        .filter_map(|(_, bytes)| String::from_utf8(bytes).ok())
        .collect();
    let seeds = inputs.clone();
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    for seed in &seeds {
        inputs.extend(mutations(seed, &mut rng, 30));
    }
    let mut runner = TestRunner::deterministic();
    for _ in 0..2000 {
        let expression =
            crate::pattern::observation_expression().new_tree(&mut runner).unwrap().current();
        inputs.push(Pattern { expression }.to_string());
        let soup = crate::pattern::token_soup().new_tree(&mut runner).unwrap().current();
        inputs.push(format!("[{soup}]"));
    }
    inputs
}

#[test]
#[ignore = "needs stix2-patterns 2.1.2 in Python: set HERALD_STIX2PATTERNS_PYTHON"]
fn oracle() {
    let python = std::env::var("HERALD_STIX2PATTERNS_PYTHON")
        .expect("HERALD_STIX2PATTERNS_PYTHON names a python with stix2-patterns 2.1.2");
    let inputs = inputs();
    let mut child = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&serde_json::to_vec(&inputs).unwrap()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let verdicts: Vec<(String, Option<String>)> = serde_json::from_slice(&output.stdout).unwrap();
    let (mut valid, mut crashes, mut deep, mut offsets, mut messages) = (0, 0, 0, 0, 0);
    let mut wrong = Vec::new();
    for (input, (verdict, error)) in inputs.iter().zip(&verdicts) {
        let ours = parse(input);
        match (verdict.as_str(), &ours) {
            ("crash", _) => crashes += 1,
            // Our deliberate limit (MAX_DEPTH); the oracle has none.
            (_, Err(e)) if e.message.starts_with("nesting deeper") => deep += 1,
            ("valid", Ok(_)) => valid += 1,
            ("invalid", Err(e)) => {
                let error = error.as_deref().unwrap_or_default();
                if let Some(syntax) = error.strip_prefix("FAIL: Error found at line 1:") {
                    // Line 1: no `\n` before the error, so the column is our offset.
                    let column: usize = syntax.split('.').next().unwrap().parse().unwrap();
                    assert_eq!(e.offset, column, "{input:?}: oracle {error}, we {e}");
                    offsets += 1;
                } else if error.starts_with("FAIL: Error found at line ") {
                    // A syntax error on a later line: its column is not our offset.
                } else if let Some(message) = error.strip_prefix("FAIL: ") {
                    // Ours clips quoted input to 100 characters (`…`).
                    let same = match e.message.split_once('…') {
                        Some((head, tail)) => message.starts_with(head) && message.ends_with(tail),
                        None => message.eq_ignore_ascii_case(&e.message),
                    };
                    assert!(same, "{input:?}: oracle {error:?}, we {e}");
                    messages += 1;
                }
            }
            _ => wrong.push(format!("{input:?}: oracle {verdict} {error:?}, we {ours:?}")),
        }
    }
    println!(
        "{} inputs: {valid} valid, {crashes} oracle exceptions, {deep} beyond our nesting limit, \
         {offsets} syntax offsets and {messages} messages compared, {} disagreements",
        inputs.len(),
        wrong.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
