"""The real clients, unchanged, against a dev exchange: taxii2-client 2.3.0 and stix2 3.0.2.

Usage: real_clients.py URL CA_PEM ORGS_DIR TESTDATA_DIR
Prints one JSON line of results; exits non-zero (with a traceback) on the first failure.
"""
import json
import sys

import stix2
from stix2 import Filter, TAXIICollectionSink, TAXIICollectionSource
import requests
from taxii2client.v21 import Collection, Server, as_pages

url, ca, orgs, testdata = sys.argv[1:5]


def creds(org):
    with open(f"{orgs}/{org}/token") as f:
        return org, f.read().strip()


def server(org):
    user, password = creds(org)
    return Server(f"{url}/taxii2/", user=user, password=password, verify=ca)


def collection(org, alias):
    api_root = server(org).api_roots[0]
    for c in api_root.collections:
        if c.alias == alias:
            user, password = creds(org)
            # A Collection of its own, as users of taxii2-client build one from a URL.
            return Collection(c.url, user=user, password=password, verify=ca)
    raise AssertionError(f"{org}: no collection {alias}")


results = {}
s = server("hospital-a")
results["title"] = s.title
root = s.api_roots[0]
assert root.versions == ["application/taxii+json;version=2.1"], root.versions
results["collections_of_hospital_a"] = [c.alias for c in root.collections]
sector = collection("hospital-a", "sector")
assert sector.can_read and sector.can_write

# add_objects with two threat reports (apt1 unmarked = AMBER, poisonivy as it is).
sent = []
for name in ["apt1", "poisonivy"]:
    with open(f"{testdata}/exchange/stix/examples/threat-reports/{name}.json") as f:
        bundle = json.load(f)
    status = sector.add_objects(json.dumps(bundle))
    assert status.status == "complete", status
    assert status.failure_count == 0, status.failures
    assert status.success_count == len(bundle["objects"]), status
    sent.extend(o["id"] for o in bundle["objects"])
results["added"] = len(sent)

# Pages with as_pages, objects and manifest, as a community peer (unmarked = AMBER: visible).
peer = collection("hospital-b", "sector")
served = []
pages = 0
for envelope in as_pages(peer.get_objects, per_request=50):
    pages += 1
    served.extend(envelope.get("objects", []))
ids = [o["id"] for o in served]
assert sorted(ids) == sorted(set(sent)), (len(ids), len(set(sent)))
results["object_pages"] = pages
manifest_ids = []
for manifest in as_pages(peer.get_manifest, per_request=40):
    manifest_ids.extend(r["id"] for r in manifest.get("objects", []))
assert sorted(manifest_ids) == sorted(ids)

# Every object served parses with stix2, no custom content allowed.
for o in served:
    stix2.parse(o, allow_custom=False)
results["parsed"] = len(served)

# get_object and object_versions.
first = ids[0]
got = peer.get_object(first)
assert got["objects"][0]["id"] == first
versions = peer.object_versions(first)
assert len(versions["versions"]) == 1, versions

# stix2's data store over TAXII: a sink (POSTs a bundle) and a source (queries with filters).
indicator = stix2.Indicator(
    name="ransomware C2",
    pattern="[ipv4-addr:value = '203.0.113.7']",
    pattern_type="stix",
    created_by_ref=open(f"{orgs}/hospital-a/identity").read().strip(),
    object_marking_refs=[stix2.TLP_GREEN],
)
TAXIICollectionSink(sector).add(indicator)
source = TAXIICollectionSource(peer)
found = source.query([Filter("type", "=", "indicator"), Filter("id", "=", indicator.id)])
assert [o.id for o in found] == [indicator.id], found
assert source.get(indicator.id).id == indicator.id
assert len(source.all_versions(indicator.id)) == 1
assert source.get("indicator--00000000-0000-4000-8000-000000000000") is None
results["sink_and_source"] = True

# The supplier reads the sector collection but AMBER and GREEN are not for it.
vendor = collection("vendor-x", "sector")
assert not vendor.can_write
vendor_seen = [o["id"] for env in as_pages(vendor.get_objects, per_request=50) for o in env.get("objects", [])]
results["vendor_sees"] = len(vendor_seen)
assert indicator.id not in vendor_seen

# Bearer tokens work as well as Basic.
class Bearer(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


_, token = creds("hospital-b")
bearer = Server(f"{url}/taxii2/", auth=Bearer(token), verify=ca)
assert bearer.api_roots[0].collections

# mTLS: the organisation's client certificate from the dev CA, no token at all (requests' `cert`).
mtls = Server(f"{url}/taxii2/", cert=(f"{orgs}/hospital-c/client.pem", f"{orgs}/hospital-c/client.key.pem"), verify=ca)
mtls_sector = [c for c in mtls.api_roots[0].collections if c.alias == "sector"][0]
mtls_seen = [o["id"] for env in as_pages(mtls_sector.get_objects, per_request=100) for o in env.get("objects", [])]
# hospital-c is a community peer of hospital-a: it sees what hospital-a's peers see.
assert indicator.id in mtls_seen, "hospital-c over mTLS sees the GREEN indicator"
results["mtls_collections"] = [c.alias for c in mtls.api_roots[0].collections]
# Without a certificate or token: 401.
try:
    Server(f"{url}/taxii2/", verify=ca).title
    raise AssertionError("no credentials must be refused")
except requests.exceptions.HTTPError as e:
    assert e.response.status_code == 401, e.response.status_code
    results["no_credentials"] = 401

# A body over max_content_length (10 MiB in dev): requests sends all of it before it reads the
# answer, and still sees the 413 (the server reads the refused body to its end).
user, password = creds("hospital-a")
big = b'{"objects":[' + b" " * (11 << 20) + b"]}"
oversize = requests.post(
    f"{sector.url}objects/",
    data=big,
    auth=(user, password),
    verify=ca,
    headers={"Content-Type": "application/taxii+json;version=2.1", "Accept": "application/taxii+json;version=2.1"},
)
assert oversize.status_code == 413, oversize.status_code
results["oversize"] = oversize.json()["http_status"]

print(json.dumps(results, sort_keys=True))
