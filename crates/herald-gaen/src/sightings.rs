//! `sightings.jsonl`: a phone's BLE sightings, one JSON object per line.
//!
//! ```text
//! {"time": 1585821600, "rpi": "49f3f9d12469dcc9ed356364c30066e4", "aem": "2da6ebac", "rssi": -42, "previous_scan": 1585821320}
//! ```
//!
//! `time` is unix seconds of the BLE report, `rpi` 32 hex digits, `aem` 8 hex digits, `rssi` the
//! calibrated RSSI in dBm (−128..=127), `previous_scan` (optional, unix seconds) the start of
//! the scan before the one that heard it; it feeds `secondsSinceLastScan` (120 s when absent).
//! The short names of the test vectors, `t` and `prev`, are accepted too. Blank lines are skipped;
//! unknown fields are refused.

use herald_model::UnixTime;
use herald_model::key::hex_into;
use serde::Deserialize;

use crate::crypto::{Aem, Rpi};
use crate::matching::Sighting;

/// Why a sightings line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SightingsError {
    /// The line is not a sighting object.
    #[error("sightings line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    #[serde(alias = "t")]
    time: i64,
    rpi: String,
    aem: String,
    rssi: i64,
    #[serde(default, alias = "prev")]
    previous_scan: Option<i64>,
}

/// Parses one line (1-based `line` for the message).
pub fn parse_line(text: &str, line: usize) -> Result<Sighting, SightingsError> {
    let fail = |reason: String| SightingsError::Line { line, reason };
    let r: Record = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
    let mut rpi = [0u8; 16];
    hex_into(r.rpi.trim(), &mut rpi).ok_or_else(|| fail("rpi must be 32 hex digits".into()))?;
    let mut aem = [0u8; 4];
    hex_into(r.aem.trim(), &mut aem).ok_or_else(|| fail("aem must be 8 hex digits".into()))?;
    let rssi = i8::try_from(r.rssi)
        .map_err(|_| fail(format!("rssi must be dBm in -128..=127, got {}", r.rssi)))?;
    if r.time < 0 {
        return Err(fail(format!("time must be unix seconds ≥ 0, got {}", r.time)));
    }
    Ok(Sighting {
        rpi: Rpi(rpi),
        aem: Aem(aem),
        time: UnixTime(r.time),
        rssi,
        // The vectors write 0 for "unknown".
        previous_scan: r.previous_scan.filter(|p| *p > 0).map(UnixTime),
    })
}

/// Parses a whole JSONL document.
pub fn parse(text: &str) -> Result<Vec<Sighting>, SightingsError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_line(l, i + 1))
        .collect()
}

/// One sighting as a JSONL line (the inverse of [`parse_line`]).
pub fn to_line(s: &Sighting) -> String {
    let prev = s
        .previous_scan
        .map(|p| format!(", \"previous_scan\": {}", p.seconds()))
        .unwrap_or_default();
    format!(
        "{{\"time\": {}, \"rpi\": \"{}\", \"aem\": \"{}\", \"rssi\": {}{prev}}}",
        s.time.seconds(),
        herald_model::key::to_hex(&s.rpi.0),
        herald_model::key::to_hex(&s.aem.0),
        s.rssi
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_both_spellings_and_reports_bad_lines() {
        let text = "{\"time\": 1585821600, \"rpi\": \"49f3f9d12469dcc9ed356364c30066e4\", \"aem\": \"2da6ebac\", \"rssi\": -42, \"previous_scan\": 1585821320}\n\n{\"t\": 5, \"rpi\": \"49F3F9D12469DCC9ED356364C30066E4\", \"aem\": \"2da6ebac\", \"rssi\": 3, \"prev\": 0}\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].previous_scan, Some(UnixTime(1_585_821_320)));
        assert_eq!(s[1].previous_scan, None);
        assert_eq!(s[0].rpi, s[1].rpi);
        for (line, needle) in [
            (
                "{\"time\": 1, \"rpi\": \"49f3\", \"aem\": \"2da6ebac\", \"rssi\": 0}",
                "rpi must be 32 hex digits",
            ),
            (
                "{\"time\": 1, \"rpi\": \"49f3f9d12469dcc9ed356364c30066e4\", \"aem\": \"2da6eb\", \"rssi\": 0}",
                "aem must be 8 hex digits",
            ),
            (
                "{\"time\": 1, \"rpi\": \"49f3f9d12469dcc9ed356364c30066e4\", \"aem\": \"2da6ebac\", \"rssi\": -129}",
                "rssi",
            ),
            (
                "{\"time\": -1, \"rpi\": \"49f3f9d12469dcc9ed356364c30066e4\", \"aem\": \"2da6ebac\", \"rssi\": 0}",
                "time must be",
            ),
            (
                "{\"time\": 1, \"rpi\": \"49f3f9d12469dcc9ed356364c30066e4\", \"aem\": \"2da6ebac\", \"rssi\": 0, \"x\": 1}",
                "unknown field",
            ),
            ("not json", "line 2"),
        ] {
            let err = parse(&format!("\n{line}")).unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains("line 2"), "{line}: {err}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(rpi in any::<[u8; 16]>(), aem in any::<[u8; 4]>(), t in 0i64..4_000_000_000, rssi in any::<i8>(), prev in proptest::option::of(1i64..4_000_000_000)) {
            let s = Sighting { rpi: Rpi(rpi), aem: Aem(aem), time: UnixTime(t), rssi, previous_scan: prev.map(UnixTime) };
            prop_assert_eq!(parse_line(&to_line(&s), 1).unwrap(), s);
        }

        #[test]
        fn never_panics(text in ".{0,200}") {
            let _ = parse(&text);
        }
    }
}
