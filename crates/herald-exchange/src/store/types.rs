//! The values the store takes and gives (its own row types; STYLE rule 3).

use herald_stix::tlp::Tlp;

/// What an organisation is to the exchange (spec §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgKind {
    /// The sector CERT that runs the exchange: reads everything, receives reports.
    Operator,
    /// A hospital, region, municipality or GP practice.
    Member,
    /// A vendor of medical devices or health IT.
    Supplier,
}

impl OrgKind {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Member => "member",
            Self::Supplier => "supplier",
        }
    }

    /// From the column value (or a command line).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "operator" => Some(Self::Operator),
            "member" => Some(Self::Member),
            "supplier" => Some(Self::Supplier),
            _ => None,
        }
    }
}

/// An organisation to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrg {
    /// Its unique name (the HTTP Basic user name).
    pub name: String,
    /// Its STIX identity id.
    pub identity_id: String,
    /// What it is.
    pub kind: OrgKind,
}

/// A stored organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// STIX identity id.
    pub identity_id: String,
    /// What it is.
    pub kind: OrgKind,
    /// A disabled organisation's credentials are refused.
    pub disabled: bool,
}

impl Org {
    /// How it reads (the operator reads everything).
    pub fn reader(&self) -> Reader {
        Reader { org: self.id, operator: self.kind == OrgKind::Operator }
    }
}

/// An API token to store (only its keyed hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// The organisation it authenticates.
    pub org: i64,
    /// Its name, unique per organisation (logged instead of the token).
    pub name: String,
    /// HMAC-SHA256 of the token under the token key.
    pub hash: [u8; 32],
    /// When it was issued (µs).
    pub created_us: i64,
}

/// An mTLS client certificate to register to an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClientCert {
    /// The organisation it authenticates.
    pub org: i64,
    /// SHA-256 of the certificate's DER.
    pub thumbprint: [u8; 32],
    /// Its subject, for listings.
    pub subject: String,
    /// When it was registered (µs).
    pub created_us: i64,
}

/// A registered client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// SHA-256 of the certificate's DER.
    pub thumbprint: [u8; 32],
    /// Its subject.
    pub subject: String,
    /// When it was registered (µs).
    pub created_us: i64,
}

/// An API token as listings show it (never the token or its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Its name.
    pub name: String,
    /// When it was issued (µs).
    pub created_us: i64,
    /// Whether it is revoked.
    pub revoked: bool,
}

/// A collection to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCollection {
    /// Its TAXII id (a UUID).
    pub id: String,
    /// Its TAXII alias, unique.
    pub alias: Option<String>,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: Option<String>,
}

/// A stored collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// TAXII id.
    pub id: String,
    /// TAXII alias.
    pub alias: Option<String>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
}

/// An organisation's rights on a collection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grant {
    /// May read (still subject to TLP).
    pub can_read: bool,
    /// May add objects.
    pub can_write: bool,
}

/// Who reads: the organisation, and whether it is the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    /// Organisation row id.
    pub org: i64,
    /// The operator reads every object of the collections it may read.
    pub operator: bool,
}

/// One valid object of a POST, ready to store.
#[derive(Debug, Clone)]
pub struct NewObject<'a> {
    /// Its position in the POST (orders the status).
    pub index: usize,
    /// STIX id.
    pub object_id: &'a str,
    /// STIX type.
    pub kind: &'a str,
    /// `modified`, else `created` (µs); `None` for an object with neither (an SCO).
    pub version_us: Option<i64>,
    /// `spec_version`.
    pub spec_version: &'a str,
    /// Its TLP.
    pub tlp: Tlp,
    /// For TLP:RED, the identities of the organisations that may read it.
    pub recipients: Vec<&'a str>,
    /// The ids the TLP reference rule applies to.
    pub refs: Vec<&'a str>,
    /// The exact JSON text accepted.
    pub body: &'a str,
}

/// A POST to store.
#[derive(Debug, Clone)]
pub struct Ingest<'a> {
    /// Collection id.
    pub collection: &'a str,
    /// The posting organisation.
    pub author: i64,
    /// The request time (µs); date_added is at least this.
    pub now_us: i64,
    /// The new status id.
    pub status_id: &'a str,
    /// The valid objects.
    pub objects: Vec<NewObject<'a>>,
    /// The objects refused before storage, with their reasons.
    pub refused: Vec<StatusEntry>,
}

/// One object's outcome in a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// Its position in the POST.
    pub index: usize,
    /// Its id as sent (`<object N>` when unreadable).
    pub object_id: String,
    /// Its version as TAXII writes it, when known.
    pub version: Option<String>,
    /// Stored (or already present).
    pub ok: bool,
    /// Why it failed, or "already present".
    pub message: Option<String>,
}

/// A stored status resource (always complete: a POST answers after its commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Status id.
    pub id: String,
    /// Collection id.
    pub collection: String,
    /// When the request came (µs).
    pub request_us: i64,
    /// Every object's outcome, in POST order.
    pub entries: Vec<StatusEntry>,
}

impl Status {
    /// The successes.
    pub fn successes(&self) -> impl Iterator<Item = &StatusEntry> {
        self.entries.iter().filter(|e| e.ok)
    }

    /// The failures.
    pub fn failures(&self) -> impl Iterator<Item = &StatusEntry> {
        self.entries.iter().filter(|e| !e.ok)
    }
}

/// `match[version]`: any combination of the first, the last, all, or given versions (µs);
/// nothing chosen means the last (TAXII 2.1 §3.4.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versions {
    /// Every version.
    pub all: bool,
    /// The oldest.
    pub first: bool,
    /// The newest.
    pub last: bool,
    /// These versions.
    pub at: Vec<i64>,
}

/// A read (objects, manifest, one object, its versions) or a delete.
#[derive(Debug, Clone)]
pub struct ObjectQuery<'a> {
    /// Collection id.
    pub collection: &'a str,
    /// Who asks.
    pub reader: Reader,
    /// One object only (object, versions and delete endpoints).
    pub object_id: Option<&'a str>,
    /// `match[id]`.
    pub ids: &'a [String],
    /// `match[type]`.
    pub types: &'a [String],
    /// `match[version]`.
    pub versions: &'a Versions,
    /// `match[spec_version]` (empty: any).
    pub spec_versions: &'a [String],
    /// `added_after` (µs, exclusive).
    pub added_after_us: Option<i64>,
    /// A cursor's position `(date_added, seq)`: rows strictly after it.
    pub after: Option<(i64, i64)>,
    /// Rows per page.
    pub limit: u32,
    /// Whether to load bodies (not for manifests and versions).
    pub with_body: bool,
}

/// One stored object version as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRow {
    /// Row sequence (the cursor's tie-break).
    pub seq: i64,
    /// STIX id.
    pub object_id: String,
    /// date_added (µs).
    pub date_added_us: i64,
    /// The version (µs): modified, created or date_added.
    pub version_us: i64,
    /// spec_version.
    pub spec_version: String,
    /// Its TLP.
    pub tlp: Tlp,
    /// The organisation that posted it.
    pub author_org: i64,
    /// The exact JSON accepted (empty unless asked for).
    pub body: Vec<u8>,
}

/// A page of rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The rows, oldest first.
    pub rows: Vec<ObjectRow>,
    /// Whether more rows follow.
    pub more: bool,
}

/// A page of objects as one TAXII envelope needs it: their stored bodies joined with commas
/// (the JSON array's inside, in page order), read in one statement rather than row by row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyPage {
    /// How many objects the page holds.
    pub count: usize,
    /// Their bodies, comma-separated, oldest first.
    pub bodies: Vec<u8>,
    /// Whether more rows follow.
    pub more: bool,
    /// `date_added` (µs) of the first and of the last object of the page.
    pub added: Option<(i64, i64)>,
    /// The cursor position after the page when more follow: the last row's `date_added` (µs)
    /// and sequence.
    pub after: Option<(i64, i64)>,
    /// The ids of the page's RED and AMBER+STRICT objects from another organisation than the
    /// reader's (their reads are audited, spec §8).
    pub restricted: Vec<String>,
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// This many versions were deleted.
    Deleted(u64),
    /// Nothing the reader may see matched (404).
    NotFound,
    /// The reader may see it but is neither its author's organisation nor the operator (403).
    NotAuthor,
}

/// An audit entry to append. Never a token, a body or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When (µs).
    pub at_us: i64,
    /// The acting organisation, if any.
    pub actor_org: Option<i64>,
    /// What happened (`post`, `delete`, `read-restricted`, `org-add`, …).
    pub action: String,
    /// What it happened to (a collection, an object, an organisation).
    pub subject: String,
    /// Counts, ids and hashes; nothing secret.
    pub detail: String,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// The entry.
    pub entry: AuditEntry,
    /// The previous entry's hash (zeros for the first).
    pub prev_hash: [u8; 32],
    /// This entry's hash.
    pub hash: [u8; 32],
}

/// The result of walking the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditCheck {
    /// Every entry links to the one before and the head names the last.
    Intact {
        /// Entries checked.
        entries: i64,
    },
    /// The first break.
    Broken {
        /// The entry where the chain breaks.
        seq: i64,
        /// What is wrong there.
        reason: String,
    },
}

/// A new incident of the mandatory track.
#[derive(Debug, Clone, Copy)]
pub struct NewIncident<'a> {
    /// Its id (a random UUID).
    pub id: &'a str,
    /// The reporting organisation.
    pub org: i64,
    /// A short title.
    pub title: &'a str,
    /// What happened.
    pub summary: &'a str,
    /// When the organisation became aware (µs).
    pub aware_at_us: i64,
    /// Significant under NIS2 Art. 23(3).
    pub significant: bool,
    /// Personal data breached (GDPR Art. 33).
    pub personal_data: bool,
    /// When it was opened (µs).
    pub created_us: i64,
}

/// A stage submitted for an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The stage's name (`early_warning`, …).
    pub stage: String,
    /// When (µs).
    pub submitted_us: i64,
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Its id.
    pub id: String,
    /// The reporting organisation.
    pub org: i64,
    /// Its name.
    pub org_name: String,
    /// A short title.
    pub title: String,
    /// What happened.
    pub summary: String,
    /// When the organisation became aware (µs).
    pub aware_at_us: i64,
    /// Significant under NIS2 Art. 23(3).
    pub significant: bool,
    /// Personal data breached.
    pub personal_data: bool,
    /// When the organisation says it was handled (µs).
    pub handled_at_us: Option<i64>,
    /// When it was opened (µs).
    pub created_us: i64,
    /// The stages submitted so far, oldest first.
    pub submitted: Vec<Submitted>,
}

/// A report submitted for one stage of an incident.
#[derive(Debug, Clone, Copy)]
pub struct StageSubmission<'a> {
    /// The incident.
    pub incident: &'a str,
    /// The organisation submitting (it must own the incident).
    pub org: i64,
    /// The stage's name.
    pub stage: &'a str,
    /// When (µs).
    pub submitted_us: i64,
    /// The report's content (JSON).
    pub content: &'a str,
    /// Hex SHA-256 of the request body (what the receipt names).
    pub body_sha256: &'a str,
    /// When the incident was handled, when the report says so (µs).
    pub handled_at_us: Option<i64>,
}

/// What a stage submission did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Stored; the incident as it is now.
    Stored(Incident),
    /// No such incident of this organisation.
    NotFound,
    /// The stage was submitted before, at this time (µs).
    AlreadySubmitted(i64),
}
