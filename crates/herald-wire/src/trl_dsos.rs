//! Transmission risk level (TRL) ↔ days since onset of symptoms (DSOS) for keys that arrive
//! from federation or import (specs/key-server.md §8 item 4, Appendix A.6, §5.8), with the
//! mapping tables of the Corona-Warn-App server.
//!
//! **The rule (§8):** a federated key is valid with TRL in 1..=8 and DSOS in −14..=4000 (the
//! raw EFGS semantic encoding, see [`crate::efgs::DaysSinceOnset`]). A key with an invalid TRL
//! gets one derived from its DSOS, a key with an invalid DSOS gets one derived from its TRL, and
//! a key is dropped only if both are invalid: [`normalize`].
//!
//! **The tables** are cwa-server's `common/persistence/src/main/resources/derivation-maps.yaml`
//! (`tek-field-derivations`, as stored at commit `ba8ba510`), read by
//! `common/persistence/.../domain/config/TekFieldDerivations.java`:
//! - `trl-from-dsos`: one TRL per DSOS for the bands −5..=6 (onset known), 194..=1799 in bands
//!   around each hundred (onset within a range of 1 to 17 days), 1992..=2000 (onset unknown),
//!   2997..=3000 (asymptomatic) and 3992..=4000 (status unknown). Every other DSOS maps to
//!   `default-trl`, `${DEFAULT_TRL:1}` (`trlFromDsos.getOrDefault(dsos, defaultTrl)`).
//! - `dsos-from-trl`: 1 → 3986, 2 → 3992, 3 → 3993, 4 → 3994, 5 → 4000, 6 → 3995,
//!   7 → 3996, 8 → 3997, i.e. "symptom status unknown" with the TRL folded into the day
//!   offset. Unmapped TRLs (0 and anything outside 1..=8) have no DSOS (cwa-server throws).
//!
//! The table at the spec's reference commit (`c61d55f6`) was not independently re-read; an
//! earlier revision of the file mapped −14..=21 and 687..=715 explicitly instead.

use herald_model::TransmissionRiskLevel;

/// `default-trl`: the TRL of a DSOS the table does not list.
pub const DEFAULT_TRL: u8 = 1;
/// The valid TRLs of a federated key (§8 table).
pub const VALID_TRL: std::ops::RangeInclusive<i32> = 1..=8;
/// The valid DSOS of a federated key, raw EFGS encoding (§8 table).
pub const VALID_DSOS: std::ops::RangeInclusive<i32> = -14..=4000;

/// `trl-from-dsos`, as runs of consecutive DSOS values: (first DSOS, TRLs).
const TRL_FROM_DSOS: &[(i32, &[u8])] = &[
    (-5, &[2, 4, 6, 7, 8, 8, 8, 6, 5, 3, 2, 2]),
    (194, &[2, 3, 5, 7, 8, 8, 8, 7, 5, 4, 3, 2]),
    (294, &[3, 4, 5, 8, 8, 8, 7, 7, 6, 5, 3, 2, 2]),
    (393, &[2, 4, 5, 7, 8, 8, 7, 6, 5, 4, 3, 2]),
    (492, &[2, 3, 5, 6, 8, 8, 7, 7, 5, 4, 3, 2, 2]),
    (591, &[2, 3, 4, 6, 7, 8, 7, 7, 6, 4, 4, 3, 2]),
    (690, &[2, 3, 4, 5, 6, 7, 7, 7, 6, 5, 4, 3, 2, 2]),
    (790, &[2, 4, 5, 6, 7, 7, 7, 6, 5, 4, 3, 3, 2, 2]),
    (889, &[2, 3, 4, 5, 6, 7, 7, 6, 5, 5, 4, 3, 2, 2]),
    (988, &[2, 3, 4, 5, 6, 6, 6, 6, 6, 5, 4, 3, 3, 2, 2]),
    (1087, &[2, 3, 4, 5, 5, 6, 6, 6, 5, 5, 4, 4, 3, 2, 2, 2]),
    (1186, &[2, 3, 4, 4, 5, 6, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2]),
    (1286, &[2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 4, 3, 3, 2, 2, 2]),
    (1386, &[3, 4, 5, 5, 5, 5, 5, 5, 5, 4, 4, 3, 3, 2, 2]),
    (1486, &[4, 4, 5, 5, 5, 5, 5, 4, 4, 4, 3, 3, 2, 2, 2]),
    (1586, &[4, 4, 5, 5, 5, 5, 4, 4, 4, 3, 3, 3, 2, 2]),
    (1686, &[4, 4, 5, 5, 4, 4, 4, 4, 4, 3, 3, 2, 2, 2]),
    (1786, &[4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 2, 2, 2]),
    (1992, &[2, 3, 5, 7, 8, 8, 8, 6, 5]),
    (2997, &[2, 3, 4, 4]),
    (3992, &[2, 3, 4, 6, 7, 7, 7, 6, 5]),
];

/// `dsos-from-trl`, indexed by TRL − 1.
const DSOS_FROM_TRL: [i32; 8] = [3986, 3992, 3993, 3994, 4000, 3995, 3996, 3997];

/// Which field [`normalize`] had to derive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derived {
    /// Both were valid; nothing changed.
    Nothing,
    /// The TRL was invalid and was derived from the DSOS.
    TransmissionRisk,
    /// The DSOS was invalid and was derived from the TRL.
    DaysSinceOnset,
}

/// A federated key's TRL and DSOS after [`normalize`]: both valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormalizedRisk {
    /// 1..=8.
    pub transmission_risk: TransmissionRiskLevel,
    /// −14..=4000, EFGS semantic encoding.
    pub days_since_onset: i32,
    /// What was derived.
    pub derived: Derived,
}

/// Both TRL and DSOS are invalid: the key is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "transmission risk level {transmission_risk} and days since onset {days_since_onset} are both \
     invalid"
)]
pub struct BothInvalid {
    /// The key's TRL.
    pub transmission_risk: i32,
    /// The key's DSOS.
    pub days_since_onset: i32,
}

/// The TRL for a DSOS: the table's, or [`DEFAULT_TRL`].
pub fn trl_from_dsos(dsos: i32) -> TransmissionRiskLevel {
    let level = TRL_FROM_DSOS
        .iter()
        .find_map(|(first, levels)| {
            let offset = usize::try_from(dsos.checked_sub(*first)?).ok()?;
            levels.get(offset).copied()
        })
        .unwrap_or(DEFAULT_TRL);
    TransmissionRiskLevel::new(i32::from(level)).unwrap_or_default()
}

/// The DSOS for a TRL of 1..=8; `None` for 0 (and anything else the table lacks).
pub fn dsos_from_trl(trl: i32) -> Option<i32> {
    let index = usize::try_from(trl.checked_sub(1)?).ok()?;
    DSOS_FROM_TRL.get(index).copied()
}

/// §8 item 4: keeps a valid pair, derives the invalid half from the valid one, and refuses a
/// key whose TRL and DSOS are both invalid. `transmission_risk` is the raw wire value (EFGS's
/// "not provided" 0x7FFF_FFFF is simply invalid here).
pub fn normalize(
    transmission_risk: i32,
    days_since_onset: i32,
) -> Result<NormalizedRisk, BothInvalid> {
    let trl_ok = VALID_TRL.contains(&transmission_risk);
    let dsos_ok = VALID_DSOS.contains(&days_since_onset);
    let valid_trl = || TransmissionRiskLevel::new(transmission_risk).ok();
    match (trl_ok, dsos_ok) {
        (true, true) => valid_trl().map(|trl| NormalizedRisk {
            transmission_risk: trl,
            days_since_onset,
            derived: Derived::Nothing,
        }),
        (false, true) => Some(NormalizedRisk {
            transmission_risk: trl_from_dsos(days_since_onset),
            days_since_onset,
            derived: Derived::TransmissionRisk,
        }),
        (true, false) => {
            valid_trl().zip(dsos_from_trl(transmission_risk)).map(|(trl, dsos)| NormalizedRisk {
                transmission_risk: trl,
                days_since_onset: dsos,
                derived: Derived::DaysSinceOnset,
            })
        }
        (false, false) => None,
    }
    .ok_or(BothInvalid { transmission_risk, days_since_onset })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// cwa-server `derivation-maps.yaml` `trl-from-dsos` (commit ba8ba510), as `dsos:trl` pairs.
    const CWA_TRL_FROM_DSOS: &str = "
    -5:2 -4:4 -3:6 -2:7 -1:8 0:8 1:8 2:6 3:5 4:3 5:2 6:2 194:2 195:3 196:5 197:7 198:8 199:8
    200:8 201:7 202:5 203:4 204:3 205:2 294:3 295:4 296:5 297:8 298:8 299:8 300:7 301:7
    302:6 303:5 304:3 305:2 306:2 393:2 394:4 395:5 396:7 397:8 398:8 399:7 400:6 401:5
    402:4 403:3 404:2 492:2 493:3 494:5 495:6 496:8 497:8 498:7 499:7 500:5 501:4 502:3
    503:2 504:2 591:2 592:3 593:4 594:6 595:7 596:8 597:7 598:7 599:6 600:4 601:4 602:3
    603:2 690:2 691:3 692:4 693:5 694:6 695:7 696:7 697:7 698:6 699:5 700:4 701:3 702:2
    703:2 790:2 791:4 792:5 793:6 794:7 795:7 796:7 797:6 798:5 799:4 800:3 801:3 802:2
    803:2 889:2 890:3 891:4 892:5 893:6 894:7 895:7 896:6 897:5 898:5 899:4 900:3 901:2
    902:2 988:2 989:3 990:4 991:5 992:6 993:6 994:6 995:6 996:6 997:5 998:4 999:3 1000:3
    1001:2 1002:2 1087:2 1088:3 1089:4 1090:5 1091:5 1092:6 1093:6 1094:6 1095:5 1096:5
    1097:4 1098:4 1099:3 1100:2 1101:2 1102:2 1186:2 1187:3 1188:4 1189:4 1190:5 1191:6
    1192:6 1193:6 1194:5 1195:5 1196:4 1197:4 1198:3 1199:3 1200:2 1201:2 1286:2 1287:3
    1288:4 1289:5 1290:5 1291:5 1292:5 1293:5 1294:5 1295:5 1296:4 1297:3 1298:3 1299:2
    1300:2 1301:2 1386:3 1387:4 1388:5 1389:5 1390:5 1391:5 1392:5 1393:5 1394:5 1395:4
    1396:4 1397:3 1398:3 1399:2 1400:2 1486:4 1487:4 1488:5 1489:5 1490:5 1491:5 1492:5
    1493:4 1494:4 1495:4 1496:3 1497:3 1498:2 1499:2 1500:2 1586:4 1587:4 1588:5 1589:5
    1590:5 1591:5 1592:4 1593:4 1594:4 1595:3 1596:3 1597:3 1598:2 1599:2 1686:4 1687:4
    1688:5 1689:5 1690:4 1691:4 1692:4 1693:4 1694:4 1695:3 1696:3 1697:2 1698:2 1699:2
    1786:4 1787:4 1788:4 1789:4 1790:4 1791:4 1792:4 1793:4 1794:3 1795:3 1796:3 1797:2
    1798:2 1799:2 1992:2 1993:3 1994:5 1995:7 1996:8 1997:8 1998:8 1999:6 2000:5 2997:2
    2998:3 2999:4 3000:4 3992:2 3993:3 3994:4 3995:6 3996:7 3997:7 3998:7 3999:6 4000:5
";

    fn cwa_table() -> BTreeMap<i32, u8> {
        CWA_TRL_FROM_DSOS
            .split_whitespace()
            .map(|pair| {
                let (d, t) = pair.split_once(':').unwrap();
                (d.parse().unwrap(), t.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn trl_from_dsos_is_the_cwa_table_with_default_1() {
        let table = cwa_table();
        assert_eq!(table.len(), 274);
        for dsos in -100..=5000 {
            let expected = table.get(&dsos).copied().unwrap_or(1);
            assert_eq!(trl_from_dsos(dsos).get(), expected, "dsos {dsos}");
        }
        for dsos in [i32::MIN, -15, 7, 193, 206, 1985, 2001, 2996, 3001, 3991, 4001, i32::MAX] {
            assert_eq!(trl_from_dsos(dsos).get(), DEFAULT_TRL, "dsos {dsos}");
        }
    }

    #[test]
    fn dsos_from_trl_is_the_cwa_table() {
        let expected = [
            (1, 3986),
            (2, 3992),
            (3, 3993),
            (4, 3994),
            (5, 4000),
            (6, 3995),
            (7, 3996),
            (8, 3997),
        ];
        for (trl, dsos) in expected {
            assert_eq!(dsos_from_trl(trl), Some(dsos));
            // Each derived DSOS is in the "symptom status unknown" band and valid.
            assert!(VALID_DSOS.contains(&dsos));
        }
        for trl in [i32::MIN, -1, 0, 9, 0x7FFF_FFFF] {
            assert_eq!(dsos_from_trl(trl), None);
        }
    }

    #[test]
    fn normalize_follows_the_spec_rule() {
        let n = |trl, dsos| {
            normalize(trl, dsos).map(|r| (r.transmission_risk.get(), r.days_since_onset, r.derived))
        };
        assert_eq!(n(5, 2), Ok((5, 2, Derived::Nothing)));
        assert_eq!(n(0x7FFF_FFFF, 0), Ok((8, 0, Derived::TransmissionRisk)));
        assert_eq!(n(0, 3995), Ok((6, 3995, Derived::TransmissionRisk)));
        assert_eq!(n(0, 3000), Ok((4, 3000, Derived::TransmissionRisk)));
        assert_eq!(n(9, 10), Ok((1, 10, Derived::TransmissionRisk)));
        assert_eq!(n(4, 4001), Ok((4, 3994, Derived::DaysSinceOnset)));
        assert_eq!(n(7, -15), Ok((7, 3996, Derived::DaysSinceOnset)));
        assert_eq!(n(1, i32::MAX), Ok((1, 3986, Derived::DaysSinceOnset)));
        assert_eq!(
            normalize(0, 5000),
            Err(BothInvalid { transmission_risk: 0, days_since_onset: 5000 })
        );
        assert_eq!(
            normalize(0x7FFF_FFFF, -15).unwrap_err().to_string(),
            "transmission risk level 2147483647 and days since onset -15 are both invalid"
        );
    }

    proptest! {
        #[test]
        fn normalized_values_are_always_valid(trl in any::<i32>(), dsos in any::<i32>()) {
            match normalize(trl, dsos) {
                Ok(r) => {
                    prop_assert!(VALID_TRL.contains(&i32::from(r.transmission_risk.get())));
                    prop_assert!(VALID_DSOS.contains(&r.days_since_onset));
                    prop_assert!(VALID_TRL.contains(&trl) || VALID_DSOS.contains(&dsos));
                }
                Err(_) => prop_assert!(!VALID_TRL.contains(&trl) && !VALID_DSOS.contains(&dsos)),
            }
        }
    }
}
