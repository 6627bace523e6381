//! The storage contract, on SQLite and PostgreSQL.

use herald_db::testing::{Backend, TestDb};
use herald_exchange::store::{
    AuditCheck, AuditEntry, DeleteOutcome, Grant, Ingest, NewClientCert, NewCollection, NewObject,
    NewOrg, NewToken, ObjectQuery, OrgKind, Reader, StatusEntry, Store, Versions,
};
use herald_stix::tlp::Tlp;

const NOW: i64 = 1_796_000_000_000_000;

async fn fresh(backend: Backend) -> Option<(TestDb, Store)> {
    let db = backend.fresh().await?;
    let store = Store::open(&db.url).await.unwrap();
    assert_eq!(store.backend(), backend.name());
    Some((db, store))
}

herald_db::on_both!(
    orgs_tokens_collections_and_grants,
    objects_are_stored_once_per_version_with_their_flags,
    pages_follow_date_added_and_never_skip,
    tlp_is_applied_in_the_query,
    the_reference_rule_uses_what_is_stored,
    deletes_only_by_the_author_or_the_operator,
    the_audit_chain_finds_edits_and_gaps,
    status_is_only_for_the_poster,
    client_certificates_and_token_listings,
);

/// The dev world's shape: an operator, three hospitals in `health`, a supplier in none.
struct World {
    cert: i64,
    a: i64,
    b: i64,
    vendor: i64,
}

fn identity(n: u8) -> String {
    format!("identity--{n:08x}-0000-4000-8000-000000000000")
}

async fn world(store: &Store) -> World {
    let mut ids = Vec::new();
    for (n, (name, kind)) in [
        ("cert", OrgKind::Operator),
        ("hospital-a", OrgKind::Member),
        ("hospital-b", OrgKind::Member),
        ("vendor-x", OrgKind::Supplier),
    ]
    .into_iter()
    .enumerate()
    {
        let org =
            NewOrg { name: name.into(), identity_id: identity(u8::try_from(n).unwrap()), kind };
        ids.push(store.add_org(&org).await.unwrap().unwrap());
    }
    let w = World { cert: ids[0], a: ids[1], b: ids[2], vendor: ids[3] };
    store.join_community("health", w.a).await.unwrap();
    store.join_community("health", w.b).await.unwrap();
    let sector = NewCollection {
        id: "c0000000-0000-4000-8000-000000000001".into(),
        alias: Some("sector".into()),
        title: "Sector".into(),
        description: None,
    };
    assert!(store.add_collection(&sector).await.unwrap());
    for org in [w.cert, w.a, w.b, w.vendor] {
        let grant = Grant { can_read: true, can_write: org != w.vendor };
        assert!(store.grant(&sector.id, org, grant).await.unwrap());
    }
    w
}

const SECTOR: &str = "c0000000-0000-4000-8000-000000000001";

fn object<'a>(
    index: usize,
    id: &'a str,
    version: Option<i64>,
    tlp: Tlp,
    body: &'a str,
) -> NewObject<'a> {
    NewObject {
        index,
        object_id: id,
        kind: id.split("--").next().unwrap(),
        version_us: version,
        spec_version: "2.1",
        tlp,
        recipients: Vec::new(),
        refs: Vec::new(),
        body,
    }
}

fn post<'a>(author: i64, now: i64, status: &'a str, objects: Vec<NewObject<'a>>) -> Ingest<'a> {
    Ingest {
        collection: SECTOR,
        author,
        now_us: now,
        status_id: status,
        objects,
        refused: Vec::new(),
    }
}

fn query(reader: Reader, versions: &Versions) -> ObjectQuery<'_> {
    ObjectQuery {
        collection: SECTOR,
        reader,
        object_id: None,
        ids: &[],
        types: &[],
        versions,
        spec_versions: &[],
        added_after_us: None,
        after: None,
        limit: 1000,
        with_body: true,
    }
}

fn reader(org: i64) -> Reader {
    Reader { org, operator: false }
}

async fn orgs_tokens_collections_and_grants(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let w = world(&store).await;
    // Names and identities are unique.
    let dup = NewOrg { name: "cert".into(), identity_id: identity(99), kind: OrgKind::Member };
    assert_eq!(store.add_org(&dup).await.unwrap(), None);
    let dup = NewOrg { name: "other".into(), identity_id: identity(0), kind: OrgKind::Member };
    assert_eq!(store.add_org(&dup).await.unwrap(), None);
    assert_eq!(store.orgs().await.unwrap().len(), 4);
    // Tokens: by hash, not when revoked or disabled.
    let token = NewToken { org: w.a, name: "t1".into(), hash: [7; 32], created_us: NOW };
    assert!(store.add_token(&token).await.unwrap());
    assert!(!store.add_token(&token).await.unwrap());
    assert_eq!(store.org_by_token(&[7; 32]).await.unwrap().unwrap().name, "hospital-a");
    assert!(store.set_org_disabled("hospital-a", true).await.unwrap());
    assert_eq!(store.org_by_token(&[7; 32]).await.unwrap(), None);
    assert!(store.set_org_disabled("hospital-a", false).await.unwrap());
    assert!(store.revoke_token(w.a, "t1").await.unwrap());
    assert_eq!(store.org_by_token(&[7; 32]).await.unwrap(), None);
    // Collections: in a fixed order, by id or alias, only with a grant.
    let inbox = NewCollection {
        id: "c0000000-0000-4000-8000-000000000002".into(),
        alias: Some("cert-inbox".into()),
        title: "Inbox".into(),
        description: Some("reports to the CERT".into()),
    };
    assert!(store.add_collection(&inbox).await.unwrap());
    assert!(!store.add_collection(&inbox).await.unwrap());
    store.grant(&inbox.id, w.a, Grant { can_read: false, can_write: true }).await.unwrap();
    store.grant(&inbox.id, w.cert, Grant { can_read: true, can_write: false }).await.unwrap();
    let mine: Vec<String> =
        store.collections_of(w.a).await.unwrap().into_iter().map(|(c, _)| c.title).collect();
    assert_eq!(mine, ["Sector", "Inbox"]);
    assert_eq!(store.collections_of(w.vendor).await.unwrap().len(), 1);
    let (c, g) = store.collection_for("cert-inbox", w.a).await.unwrap().unwrap();
    assert_eq!((c.id.as_str(), g), (inbox.id.as_str(), Grant { can_read: false, can_write: true }));
    assert_eq!(store.collection_for("cert-inbox", w.vendor).await.unwrap(), None);
    assert_eq!(store.collection_for("nope", w.a).await.unwrap(), None);
    // Both rights off removes the grant.
    store.grant(&inbox.id, w.a, Grant::default()).await.unwrap();
    assert_eq!(store.collection_for(&inbox.id, w.a).await.unwrap(), None);
    assert!(!store.grant("missing", w.a, Grant { can_read: true, can_write: true }).await.unwrap());
}

async fn objects_are_stored_once_per_version_with_their_flags(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let w = world(&store).await;
    let id = "indicator--00000000-0000-4000-8000-000000000001";
    let sco = "ipv4-addr--00000000-0000-5000-8000-000000000001";
    let v1 = r#"{"v": 1}"#;
    let v2 = r#"{"v":  2}"#;
    let objs = vec![
        object(0, id, Some(10), Tlp::Green, v2),
        object(1, id, Some(5), Tlp::Green, v1),
        object(2, sco, None, Tlp::Clear, r#"{"ip": 1}"#),
    ];
    let status = store.ingest(&post(w.a, NOW, "s1", objs)).await.unwrap();
    assert_eq!(status.entries.iter().filter(|e| e.ok && e.message.is_none()).count(), 3);
    // Again: every one already present, nothing new (an SCO has one version per collection).
    let objs = vec![
        object(0, id, Some(10), Tlp::Green, v2),
        object(1, sco, None, Tlp::Clear, r#"{"ip": 2}"#),
    ];
    let status = store.ingest(&post(w.a, NOW + 1, "s2", objs)).await.unwrap();
    assert!(status.entries.iter().all(|e| e.ok && e.message.as_deref() == Some("already present")));
    let all = Versions { all: true, ..Versions::default() };
    let page = store.page(&query(reader(w.a), &all)).await.unwrap();
    assert_eq!(page.rows.len(), 3);
    // Bodies come back byte for byte.
    assert_eq!(page.rows.iter().find(|r| r.version_us == 10).unwrap().body, v2.as_bytes());
    let last = Versions::default();
    let ids: Vec<i64> = store
        .page(&query(reader(w.a), &last))
        .await
        .unwrap()
        .rows
        .iter()
        .filter(|r| r.object_id == id)
        .map(|r| r.version_us)
        .collect();
    assert_eq!(ids, [10]);
    let first = Versions { first: true, ..Versions::default() };
    let q = ObjectQuery { object_id: Some(id), ..query(reader(w.a), &first) };
    assert_eq!(store.page(&q).await.unwrap().rows[0].version_us, 5);
    let both = Versions { first: true, last: true, ..Versions::default() };
    let q = ObjectQuery { object_id: Some(id), ..query(reader(w.a), &both) };
    assert_eq!(store.page(&q).await.unwrap().rows.len(), 2);
    let at = Versions { at: vec![5], ..Versions::default() };
    let q = ObjectQuery { object_id: Some(id), ..query(reader(w.a), &at) };
    assert_eq!(store.page(&q).await.unwrap().rows[0].body, v1.as_bytes());
    // A later POST with a newer and an older version moves both flags off the stored rows.
    let objs = vec![
        object(0, id, Some(15), Tlp::Green, r#"{"v": 15}"#),
        object(1, id, Some(1), Tlp::Green, r#"{"v": 0}"#),
        object(2, id, Some(10), Tlp::Green, v2),
    ];
    let status = store.ingest(&post(w.a, NOW + 2, "s2b", objs)).await.unwrap();
    let new: Vec<_> = status.entries.iter().map(|e| e.message.is_none()).collect();
    assert_eq!(new, [true, true, false]);
    let flagged = |versions: Versions| {
        let store = store.clone();
        async move {
            let q = ObjectQuery { object_id: Some(id), ..query(reader(w.a), &versions) };
            store.page(&q).await.unwrap().rows.iter().map(|r| r.version_us).collect::<Vec<_>>()
        }
    };
    assert_eq!(flagged(Versions::default()).await, [15]);
    assert_eq!(flagged(Versions { first: true, ..Versions::default() }).await, [1]);
    // A newer version takes over "last".
    let status = store
        .ingest(&post(w.a, NOW + 2, "s3", vec![object(0, id, Some(20), Tlp::Green, "{}")]))
        .await
        .unwrap();
    assert!(status.entries[0].ok);
    let q = ObjectQuery { object_id: Some(id), ..query(reader(w.a), &last) };
    assert_eq!(store.page(&q).await.unwrap().rows[0].version_us, 20);
    // The filters: type, id, spec_version, added_after.
    let types = ["ipv4-addr".to_owned()];
    let q = ObjectQuery { types: &types, ..query(reader(w.a), &all) };
    assert_eq!(store.page(&q).await.unwrap().rows.len(), 1);
    let spec = ["2.0".to_owned()];
    let q = ObjectQuery { spec_versions: &spec, ..query(reader(w.a), &all) };
    assert!(store.page(&q).await.unwrap().rows.is_empty());
    // Added after NOW + 1: the two versions of "s2b" and the one of "s3".
    let q = ObjectQuery { added_after_us: Some(NOW + 1), ..query(reader(w.a), &all) };
    assert_eq!(store.page(&q).await.unwrap().rows.len(), 3);
}

async fn pages_follow_date_added_and_never_skip(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let w = world(&store).await;
    let ids: Vec<String> =
        (0..25).map(|i| format!("indicator--00000000-0000-4000-8000-{i:012}")).collect();
    // Five POSTs of five; the clock goes backwards on the fourth: date_added still grows.
    for (n, chunk) in ids.chunks(5).enumerate() {
        let now = if n == 3 { NOW - 1_000_000 } else { NOW + i64::try_from(n).unwrap() };
        let objs = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| object(i, id, Some(1), Tlp::Clear, "{}"))
            .collect();
        store.ingest(&post(w.a, now, &format!("s{n}"), objs)).await.unwrap();
    }
    let last = Versions::default();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let q = ObjectQuery { after, limit: 7, with_body: false, ..query(reader(w.b), &last) };
        let page = store.page(&q).await.unwrap();
        assert!(page.rows.iter().all(|r| r.body.is_empty()));
        // The one-statement page of an envelope is the same page, bodies joined in order.
        let with_bodies = store.page(&ObjectQuery { with_body: true, ..q.clone() }).await.unwrap();
        let joined = store.body_page(&q).await.unwrap();
        let bodies: Vec<&[u8]> = with_bodies.rows.iter().map(|r| r.body.as_slice()).collect();
        assert_eq!(joined.bodies, bodies.join(&b","[..]));
        assert_eq!((joined.count, joined.more), (page.rows.len(), page.more));
        let (first, tail) = (page.rows.first(), page.rows.last());
        let added = first.zip(tail).map(|(f, t)| (f.date_added_us, t.date_added_us));
        assert_eq!(joined.added, added);
        let position = tail.filter(|_| page.more).map(|t| (t.date_added_us, t.seq));
        assert_eq!(joined.after, position);
        assert!(joined.restricted.is_empty());
        seen.extend(page.rows.iter().map(|r| (r.date_added_us, r.seq, r.object_id.clone())));
        let Some(tail) = page.rows.last() else { break };
        after = Some((tail.date_added_us, tail.seq));
        if !page.more {
            break;
        }
    }
    assert_eq!(seen.iter().map(|s| s.2.clone()).collect::<Vec<_>>(), ids);
    assert!(seen.windows(2).all(|p| (p[0].0, p[0].1) < (p[1].0, p[1].1)));
    // One POST shares one date_added.
    assert_eq!(seen[0].0, seen[4].0);
}

async fn tlp_is_applied_in_the_query(backend: Backend) {
    use Tlp::{Amber, AmberStrict, Clear, Green, Red};
    let Some((_db, store)) = fresh(backend).await else { return };
    let w = world(&store).await;
    let id = |n: u8| format!("note--00000000-0000-4000-8000-0000000000{n:02}");
    let ids: Vec<String> = (0..6).map(id).collect();
    let mut objs: Vec<NewObject<'_>> = Tlp::ALL
        .into_iter()
        .enumerate()
        .map(|(i, tlp)| object(i, &ids[i], Some(1), tlp, "{}"))
        .collect();
    let b_identity = identity(2);
    objs[4].recipients = vec![b_identity.as_str()];
    // A second RED object that names nobody.
    objs.push(object(5, &ids[5], Some(1), Tlp::Red, "{}"));
    let status = store.ingest(&post(w.a, NOW, "s", objs)).await.unwrap();
    assert!(status.entries.iter().all(|e| e.ok), "{status:?}");
    let last = Versions::default();
    let visible = |r: Reader| {
        let store = store.clone();
        async move {
            let page = store.page(&query(r, &Versions::default())).await.unwrap();
            page.rows.iter().map(|row| row.tlp).collect::<Vec<_>>()
        }
    };
    let _ = &last;
    assert_eq!(visible(reader(w.a)).await, [Clear, Green, Amber, AmberStrict, Red, Red]);
    assert_eq!(visible(Reader { org: w.cert, operator: true }).await.len(), 6);
    // The peer shares `health` and is named on the first RED object.
    assert_eq!(visible(reader(w.b)).await, [Clear, Green, Amber, Red]);
    assert_eq!(visible(reader(w.vendor)).await, [Clear]);
    // The recipient must be an organisation of the exchange.
    let unknown = identity(77);
    let mut red = object(0, "note--00000000-0000-4000-8000-000000000099", Some(1), Red, "{}");
    red.recipients = vec![unknown.as_str()];
    let status = store.ingest(&post(w.a, NOW, "s2", vec![red])).await.unwrap();
    assert!(status.entries[0].message.as_deref().unwrap().contains("is not an organisation"));
}

async fn the_reference_rule_uses_what_is_stored(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let w = world(&store).await;
    let amber = "indicator--00000000-0000-4000-8000-000000000001";
    store
        .ingest(&post(w.a, NOW, "s1", vec![object(0, amber, Some(1), Tlp::Amber, "{}")]))
        .await
        .unwrap();
    let mut green =
        object(0, "report--00000000-0000-4000-8000-000000000001", Some(1), Tlp::Green, "{}");
    green.refs = vec![amber];
    let mut in_batch =
        object(1, "report--00000000-0000-4000-8000-000000000002", Some(1), Tlp::Clear, "{}");
    let green_id = "malware--00000000-0000-4000-8000-000000000003";
    in_batch.refs = vec![green_id];
    let objs = vec![green, in_batch, object(2, green_id, Some(1), Tlp::Green, "{}")];
    let status = store.ingest(&post(w.a, NOW, "s2", objs)).await.unwrap();
    let messages: Vec<_> = status.entries.iter().map(|e| e.message.clone()).collect();
    assert_eq!(
        messages[0].as_deref(),
        Some(
            "an object marked TLP:GREEN may not reference indicator--00000000-0000-4000-8000-000000000001, which is marked TLP:AMBER"
        )
    );
    assert!(messages[1].as_deref().unwrap().contains("which is marked TLP:GREEN"));
    assert_eq!(messages[2], None);
    // A reference to something the exchange does not hold is accepted.
    let mut loose =
        object(0, "report--00000000-0000-4000-8000-000000000009", Some(1), Tlp::Clear, "{}");
    loose.refs = vec!["malware--00000000-0000-4000-8000-0000000000ff"];
    assert!(store.ingest(&post(w.a, NOW, "s3", vec![loose])).await.unwrap().entries[0].ok);
}

async fn deletes_only_by_the_author_or_the_operator(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let w = world(&store).await;
    let id = "indicator--00000000-0000-4000-8000-000000000001";
    let objs =
        vec![object(0, id, Some(1), Tlp::Green, "{}"), object(1, id, Some(2), Tlp::Green, "{}")];
    store.ingest(&post(w.a, NOW, "s", objs)).await.unwrap();
    let all = Versions { all: true, ..Versions::default() };
    let one = |r: Reader| ObjectQuery { object_id: Some(id), ..query(r, &all) };
    assert_eq!(store.delete(&one(reader(w.vendor)), NOW).await.unwrap(), DeleteOutcome::NotFound);
    assert_eq!(store.delete(&one(reader(w.b)), NOW).await.unwrap(), DeleteOutcome::NotAuthor);
    // Deleting the newest version hands "last" back to the older one.
    let newest = Versions { at: vec![2], ..Versions::default() };
    let q = ObjectQuery { object_id: Some(id), ..query(reader(w.a), &newest) };
    assert_eq!(store.delete(&q, NOW).await.unwrap(), DeleteOutcome::Deleted(1));
    let last = Versions::default();
    let q = ObjectQuery { object_id: Some(id), ..query(reader(w.a), &last) };
    assert_eq!(store.page(&q).await.unwrap().rows[0].version_us, 1);
    let op = Reader { org: w.cert, operator: true };
    assert_eq!(store.delete(&one(op), NOW).await.unwrap(), DeleteOutcome::Deleted(1));
    assert!(store.page(&one(reader(w.a))).await.unwrap().rows.is_empty());
    assert!(matches!(store.verify_audit().await.unwrap(), AuditCheck::Intact { entries: 3 }));
}

async fn the_audit_chain_finds_edits_and_gaps(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    let w = world(&store).await;
    for n in 0..5 {
        let entry = AuditEntry {
            at_us: NOW + n,
            actor_org: if n == 2 { None } else { Some(w.a) },
            action: "test".into(),
            subject: format!("thing {n}"),
            detail: String::new(),
        };
        assert_eq!(store.audit(&entry).await.unwrap(), n + 1);
    }
    assert_eq!(store.verify_audit().await.unwrap(), AuditCheck::Intact { entries: 5 });
    let rows = store.audit_entries(0, 100).await.unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[1].prev_hash, rows[0].hash);
    db.execute("UPDATE audit_log SET subject = 'thing X' WHERE seq = 3").await;
    let AuditCheck::Broken { seq, reason } = store.verify_audit().await.unwrap() else { panic!() };
    assert_eq!((seq, reason.contains("edited")), (3, true));
    db.execute("UPDATE audit_log SET subject = 'thing 2' WHERE seq = 3").await;
    assert_eq!(store.verify_audit().await.unwrap(), AuditCheck::Intact { entries: 5 });
    db.execute("DELETE FROM audit_log WHERE seq = 4").await;
    let AuditCheck::Broken { seq, reason } = store.verify_audit().await.unwrap() else { panic!() };
    assert_eq!((seq, reason.contains("missing")), (4, true), "{reason}");
    db.execute("DELETE FROM audit_log WHERE seq = 5").await;
    // The tail removed: the head still names entry 5.
    let AuditCheck::Broken { reason, .. } = store.verify_audit().await.unwrap() else { panic!() };
    assert!(reason.contains("the head names entry 5"), "{reason}");
}

async fn status_is_only_for_the_poster(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let w = world(&store).await;
    let refused = vec![StatusEntry {
        index: 1,
        object_id: "<object 1>".into(),
        version: None,
        ok: false,
        message: Some("not JSON".into()),
    }];
    let objs =
        vec![object(0, "note--00000000-0000-4000-8000-000000000001", Some(1), Tlp::Green, "{}")];
    let ingest = Ingest { refused, ..post(w.a, NOW, "s-1", objs) };
    let status = store.ingest(&ingest).await.unwrap();
    assert_eq!(store.status("s-1", w.a).await.unwrap().as_ref(), Some(&status));
    assert_eq!(status.entries.len(), 2);
    assert_eq!(status.successes().count(), 1);
    assert_eq!(status.entries[1].object_id, "<object 1>");
    assert_eq!(store.status("s-1", w.b).await.unwrap(), None);
    assert_eq!(store.status("s-2", w.a).await.unwrap(), None);
    let counts = store.counts().await.unwrap();
    assert!(counts.contains(&("status_entry", 2)), "{counts:?}");
}

async fn client_certificates_and_token_listings(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let w = world(&store).await;
    let cert = NewClientCert {
        org: w.a,
        thumbprint: [3; 32],
        subject: "CN=hospital-a".into(),
        created_us: NOW,
    };
    assert!(store.add_client_cert(&cert).await.unwrap());
    // One certificate names one organisation: registering it again, to anyone, is refused.
    assert!(!store.add_client_cert(&NewClientCert { org: w.b, ..cert.clone() }).await.unwrap());
    assert_eq!(store.org_by_cert(&[3; 32]).await.unwrap().unwrap().id, w.a);
    assert_eq!(store.org_by_cert(&[4; 32]).await.unwrap(), None);
    let listed = store.client_certs(w.a).await.unwrap();
    assert_eq!((listed.len(), listed[0].subject.as_str()), (1, "CN=hospital-a"));
    assert!(store.client_certs(w.b).await.unwrap().is_empty());
    // A disabled organisation's certificate authenticates nobody.
    assert!(store.set_org_disabled("hospital-a", true).await.unwrap());
    assert_eq!(store.org_by_cert(&[3; 32]).await.unwrap(), None);
    assert!(store.set_org_disabled("hospital-a", false).await.unwrap());
    // Removal is per organisation.
    assert!(!store.remove_client_cert(w.b, &[3; 32]).await.unwrap());
    assert!(store.remove_client_cert(w.a, &[3; 32]).await.unwrap());
    assert_eq!(store.org_by_cert(&[3; 32]).await.unwrap(), None);
    // Token listings: names, dates and state, by name; never the hash.
    for (name, hash) in [("b-token", [1; 32]), ("a-token", [2; 32])] {
        let token = NewToken { org: w.vendor, name: name.into(), hash, created_us: NOW };
        assert!(store.add_token(&token).await.unwrap());
    }
    assert!(store.revoke_token(w.vendor, "b-token").await.unwrap());
    let tokens = store.tokens_of(w.vendor).await.unwrap();
    let shown: Vec<_> = tokens.iter().map(|t| (t.name.as_str(), t.revoked)).collect();
    assert_eq!(shown, [("a-token", false), ("b-token", true)]);
    assert!(store.tokens_of(w.cert).await.unwrap().is_empty());
}
