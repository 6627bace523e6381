//! TLP 2.0 as the exchange enforces it (spec exchange.md §4): which marking an object carries,
//! who may read it, and the rule that an object is never less restricted than what it
//! references.
//!
//! Only the published TLP marking-definitions count (TLP 2.0 and their TLP 1.0 equivalents,
//! WHITE = CLEAR); any other marking is not TLP. An object without a TLP marking is **AMBER**;
//! an object with several is as strict as the strictest.

use serde_json::{Map, Value};

use crate::StixError;
use crate::id::StixId;

/// A TLP level, from the least to the most restricted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    /// TLP:CLEAR (TLP 1.0: WHITE): every reader of the collection.
    Clear,
    /// TLP:GREEN: the author's communities.
    Green,
    /// TLP:AMBER: the author's communities, passed on inside the reader's organisation only.
    Amber,
    /// TLP:AMBER+STRICT: the author's organisation (and the operator) only.
    AmberStrict,
    /// TLP:RED: the organisations named in the herald recipients extension.
    Red,
}

impl Tlp {
    /// Every level, least restricted first.
    pub const ALL: [Tlp; 5] = [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict, Tlp::Red];

    /// The label FIRST prescribes (`TLP:AMBER+STRICT`).
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }

    /// A small integer for storage (0 = CLEAR … 4 = RED), ordered as the levels are.
    pub fn code(self) -> u8 {
        match self {
            Tlp::Clear => 0,
            Tlp::Green => 1,
            Tlp::Amber => 2,
            Tlp::AmberStrict => 3,
            Tlp::Red => 4,
        }
    }

    /// The level of a stored [`Tlp::code`].
    pub fn from_code(code: u8) -> Option<Tlp> {
        Tlp::ALL.get(usize::from(code)).copied()
    }

    /// The TLP 2.0 marking-definition of this level.
    pub fn marking_id(self) -> &'static str {
        match self {
            Tlp::Clear => TLP2_CLEAR,
            Tlp::Green => TLP2_GREEN,
            Tlp::Amber => TLP2_AMBER,
            Tlp::AmberStrict => TLP2_AMBER_STRICT,
            Tlp::Red => TLP2_RED,
        }
    }

    /// The level a marking-definition id stands for, if it is a TLP 2.0 or 1.0 one.
    pub fn of_marking(id: &str) -> Option<Tlp> {
        Some(match id {
            TLP2_CLEAR | TLP1_WHITE => Tlp::Clear,
            TLP2_GREEN | TLP1_GREEN => Tlp::Green,
            TLP2_AMBER | TLP1_AMBER => Tlp::Amber,
            TLP2_AMBER_STRICT => Tlp::AmberStrict,
            TLP2_RED | TLP1_RED => Tlp::Red,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Tlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// TLP 2.0 CLEAR.
pub const TLP2_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
/// TLP 2.0 GREEN.
pub const TLP2_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
/// TLP 2.0 AMBER.
pub const TLP2_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
/// TLP 2.0 AMBER+STRICT.
pub const TLP2_AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
/// TLP 2.0 RED.
pub const TLP2_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
/// TLP 1.0 WHITE (= TLP 2.0 CLEAR).
pub const TLP1_WHITE: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
/// TLP 1.0 GREEN.
pub const TLP1_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
/// TLP 1.0 AMBER.
pub const TLP1_AMBER: &str = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
/// TLP 1.0 RED.
pub const TLP1_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
/// The TLP 2.0 extension-definition that the TLP 2.0 marking-definitions use.
pub const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// herald's property-extension naming the recipients of a TLP:RED object:
/// `"extensions": {RECIPIENTS_EXTENSION: {"extension_type": "property-extension",
/// "recipients": ["identity--…", …]}}`.
pub const RECIPIENTS_EXTENSION: &str = "extension-definition--3f6c8e1a-5d2b-4c7e-9a41-6b0d2e8f7c35";

/// The public objects of the TLP standard itself, readable by everyone whatever their markings.
pub fn is_tlp_definition(id: &str) -> bool {
    Tlp::of_marking(id).is_some() || id == TLP2_EXTENSION
}

/// The TLP of an object: the strictest TLP marking among `object_marking_refs` and the
/// `marking_ref`s of its `granular_markings` (the exchange serves whole objects, so a marked
/// part marks the whole); AMBER when there is none. The TLP marking-definitions themselves
/// are CLEAR.
pub fn tlp_of(object: &Map<String, Value>) -> Tlp {
    if object.get("id").and_then(Value::as_str).is_some_and(is_tlp_definition) {
        return Tlp::Clear;
    }
    let top = object
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let granular = object
        .get("granular_markings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("marking_ref").and_then(Value::as_str));
    top.chain(granular).filter_map(Tlp::of_marking).max().unwrap_or(Tlp::Amber)
}

/// The organisations (their STIX identities) named in the recipients extension, in order and
/// without repeats; empty when the extension is absent.
pub fn recipients(object: &Map<String, Value>) -> Result<Vec<StixId>, StixError> {
    let Some(ext) = object.get("extensions").and_then(|e| e.get(RECIPIENTS_EXTENSION)) else {
        return Ok(Vec::new());
    };
    let bad = |reason| StixError::Recipients(reason);
    if ext.get("extension_type").and_then(Value::as_str) != Some("property-extension") {
        return Err(bad("its extension_type must be \"property-extension\""));
    }
    let list = ext
        .get("recipients")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("it needs a \"recipients\" list of identity ids"))?;
    let mut out: Vec<StixId> = Vec::with_capacity(list.len());
    for item in list {
        let id = item
            .as_str()
            .and_then(|s| StixId::parse(s).ok())
            .filter(|id| id.kind() == "identity")
            .ok_or_else(|| bad("every recipient must be an identity id"))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// How a reader stands to an object's author (the collection's read right is checked before).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts; a reader may be several at once"
)]
pub struct Relation {
    /// The reader is the author's organisation.
    pub same_org: bool,
    /// The reader is the operator (the sector CERT).
    pub operator: bool,
    /// The reader shares a community with the author's organisation.
    pub shares_community: bool,
    /// The reader's organisation is named in the object's recipients extension.
    pub named_recipient: bool,
}

/// Spec §4's table: who besides the author's organisation and the operator may read an object.
pub fn may_read(tlp: Tlp, relation: Relation) -> bool {
    if relation.same_org || relation.operator {
        return true;
    }
    match tlp {
        Tlp::Clear => true,
        Tlp::Green | Tlp::Amber => relation.shares_community,
        Tlp::AmberStrict => false,
        Tlp::Red => relation.named_recipient,
    }
}

/// The properties whose references the TLP reference rule checks: every top-level `*_ref` and
/// `*_refs` except `created_by_ref` and `object_marking_refs` (who wrote an object and how it is
/// marked do not disclose what it points at).
pub fn referenced_ids(object: &Map<String, Value>) -> Vec<&str> {
    let mut out = Vec::new();
    for (key, value) in object {
        if key == "created_by_ref" || key == "object_marking_refs" {
            continue;
        }
        if key.ends_with("_ref") {
            out.extend(value.as_str());
        } else if key.ends_with("_refs") {
            out.extend(value.as_array().into_iter().flatten().filter_map(Value::as_str));
        }
    }
    out
}

/// The reference rule: an object marked `tlp` may not reference an object that is more
/// restricted. `referenced` holds the references the exchange knows, with their TLP.
pub fn check_refs<'a>(
    tlp: Tlp,
    referenced: impl IntoIterator<Item = (&'a str, Tlp)>,
) -> Result<(), StixError> {
    for (id, theirs) in referenced {
        if theirs > tlp {
            return Err(StixError::LessRestricted {
                referenced: crate::error::clip(id),
                ours: tlp,
                theirs,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: &Value) -> &Map<String, Value> {
        v.as_object().unwrap()
    }

    #[test]
    fn unmarked_is_amber_and_the_strictest_marking_wins() {
        assert_eq!(tlp_of(obj(&json!({"type": "indicator"}))), Tlp::Amber);
        assert_eq!(tlp_of(obj(&json!({"object_marking_refs": [TLP1_WHITE]}))), Tlp::Clear);
        assert_eq!(
            tlp_of(obj(
                &json!({"object_marking_refs": [TLP2_CLEAR, TLP2_AMBER_STRICT, TLP2_GREEN]})
            )),
            Tlp::AmberStrict
        );
        assert_eq!(
            tlp_of(obj(&json!({"object_marking_refs": [TLP2_GREEN],
                "granular_markings": [{"marking_ref": TLP2_RED, "selectors": ["description"]}]}))),
            Tlp::Red
        );
        // A marking that is not TLP does not lower anything: still AMBER.
        assert_eq!(
            tlp_of(obj(&json!({"object_marking_refs":
                ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41db"]}))),
            Tlp::Amber
        );
        assert_eq!(tlp_of(obj(&json!({"id": TLP2_RED, "type": "marking-definition"}))), Tlp::Clear);
    }

    #[test]
    fn the_table_of_spec_section_4() {
        let author = Relation { same_org: true, ..Relation::default() };
        let operator = Relation { operator: true, ..Relation::default() };
        let peer = Relation { shares_community: true, ..Relation::default() };
        let recipient = Relation { named_recipient: true, ..Relation::default() };
        let outsider = Relation::default();
        let table = [
            (Tlp::Clear, [true, true, true, true, true]),
            (Tlp::Green, [true, true, true, false, false]),
            (Tlp::Amber, [true, true, true, false, false]),
            (Tlp::AmberStrict, [true, true, false, false, false]),
            (Tlp::Red, [true, true, false, true, false]),
        ];
        for (tlp, row) in table {
            let got = [author, operator, peer, recipient, outsider].map(|r| may_read(tlp, r));
            assert_eq!(got, row, "{tlp}");
        }
    }

    #[test]
    fn references_may_not_be_more_restricted() {
        let report = json!({"type": "report", "created_by_ref": "identity--1",
            "object_marking_refs": [TLP2_GREEN], "object_refs": ["indicator--a", "malware--b"],
            "sighting_of_ref": "indicator--c"});
        let mut refs = referenced_ids(obj(&report));
        refs.sort_unstable();
        assert_eq!(refs, ["indicator--a", "indicator--c", "malware--b"]);
        assert!(check_refs(Tlp::Green, [("indicator--a", Tlp::Clear), ("x", Tlp::Green)]).is_ok());
        let err = check_refs(Tlp::Green, [("indicator--a", Tlp::Amber)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "an object marked TLP:GREEN may not reference indicator--a, which is marked TLP:AMBER"
        );
    }

    #[test]
    fn recipients_are_identities() {
        let a = "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
        let v = json!({"extensions": {RECIPIENTS_EXTENSION:
            {"extension_type": "property-extension", "recipients": [a, a]}}});
        assert_eq!(recipients(obj(&v)).unwrap().len(), 1);
        let v = json!({"extensions": {RECIPIENTS_EXTENSION:
            {"extension_type": "property-extension", "recipients": ["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}}});
        assert!(recipients(obj(&v)).is_err());
        assert!(recipients(obj(&json!({}))).unwrap().is_empty());
    }

    #[test]
    fn codes_round_trip_in_order() {
        for (i, tlp) in Tlp::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(tlp.code()), i);
            assert_eq!(Tlp::from_code(tlp.code()), Some(tlp));
            assert_eq!(Tlp::of_marking(tlp.marking_id()), Some(tlp));
        }
        assert_eq!(Tlp::from_code(5), None);
    }
}
