//! Tables generated from stix2 3.0.2's registered v21 classes (`stix2.registry.STIX2_OBJ_MAPS`):
//! each class's `_properties`, and each `ReferenceProperty`'s `valid_types`/`invalid_types`
//! (`auth_type`, `generics`, `specifics`), with the common properties left out.

use super::{Class, Rule};

/// Each type stix2 3.0.2 registers (the bundle aside): its class and its properties, generated
/// from the library's `_properties` (see the module docs).
pub(super) const TYPES: [(&str, Class, &str); 42] = [
    (
        "artifact",
        Class::Sco,
        "mime_type payload_bin url hashes encryption_algorithm decryption_key defanged extensions",
    ),
    (
        "attack-pattern",
        Class::Sdo,
        "created_by_ref created modified name description aliases kill_chain_phases revoked labels confidence lang external_references extensions",
    ),
    ("autonomous-system", Class::Sco, "number name rir defanged extensions"),
    (
        "campaign",
        Class::Sdo,
        "created_by_ref created modified name description aliases first_seen last_seen objective revoked labels confidence lang external_references extensions",
    ),
    (
        "course-of-action",
        Class::Sdo,
        "created_by_ref created modified name description revoked labels confidence lang external_references extensions",
    ),
    ("directory", Class::Sco, "path path_enc ctime mtime atime contains_refs defanged extensions"),
    ("domain-name", Class::Sco, "value resolves_to_refs defanged extensions"),
    ("email-addr", Class::Sco, "value display_name belongs_to_ref defanged extensions"),
    (
        "email-message",
        Class::Sco,
        "is_multipart date content_type from_ref sender_ref to_refs cc_refs bcc_refs message_id subject received_lines additional_header_fields body body_multipart raw_email_ref defanged extensions",
    ),
    (
        "extension-definition",
        Class::Sdo,
        "created_by_ref created modified name description schema version extension_types extension_properties revoked labels external_references",
    ),
    (
        "file",
        Class::Sco,
        "hashes size name name_enc magic_number_hex mime_type ctime mtime atime parent_directory_ref contains_refs content_ref defanged extensions",
    ),
    (
        "grouping",
        Class::Sdo,
        "created_by_ref created modified name description context object_refs revoked labels confidence lang external_references extensions",
    ),
    (
        "identity",
        Class::Sdo,
        "created_by_ref created modified name description roles identity_class sectors contact_information revoked labels confidence lang external_references extensions",
    ),
    (
        "incident",
        Class::Sdo,
        "created_by_ref created modified name description kill_chain_phases revoked labels confidence lang external_references extensions",
    ),
    (
        "indicator",
        Class::Sdo,
        "created_by_ref created modified name description indicator_types pattern pattern_type pattern_version valid_from valid_until kill_chain_phases revoked labels confidence lang external_references extensions",
    ),
    (
        "infrastructure",
        Class::Sdo,
        "created_by_ref created modified name description infrastructure_types aliases kill_chain_phases first_seen last_seen revoked labels confidence lang external_references extensions",
    ),
    (
        "intrusion-set",
        Class::Sdo,
        "created_by_ref created modified name description aliases first_seen last_seen goals resource_level primary_motivation secondary_motivations revoked labels confidence lang external_references extensions",
    ),
    ("ipv4-addr", Class::Sco, "value resolves_to_refs belongs_to_refs defanged extensions"),
    ("ipv6-addr", Class::Sco, "value resolves_to_refs belongs_to_refs defanged extensions"),
    (
        "language-content",
        Class::Meta,
        "created_by_ref created modified object_ref object_modified contents revoked labels confidence external_references extensions",
    ),
    (
        "location",
        Class::Sdo,
        "created_by_ref created modified name description latitude longitude precision region country administrative_area city street_address postal_code revoked labels confidence lang external_references extensions",
    ),
    ("mac-addr", Class::Sco, "value defanged extensions"),
    (
        "malware",
        Class::Sdo,
        "created_by_ref created modified name description malware_types is_family aliases kill_chain_phases first_seen last_seen operating_system_refs architecture_execution_envs implementation_languages capabilities sample_refs revoked labels confidence lang external_references extensions",
    ),
    (
        "malware-analysis",
        Class::Sdo,
        "created_by_ref created modified product version host_vm_ref operating_system_ref installed_software_refs configuration_version modules analysis_engine_version analysis_definition_version submitted analysis_started analysis_ended result_name result analysis_sco_refs sample_ref revoked labels confidence lang external_references extensions",
    ),
    (
        "marking-definition",
        Class::Meta,
        "created_by_ref created definition_type name definition external_references extensions",
    ),
    ("mutex", Class::Sco, "name defanged extensions"),
    (
        "network-traffic",
        Class::Sco,
        "start end is_active src_ref dst_ref src_port dst_port protocols src_byte_count dst_byte_count src_packets dst_packets ipfix src_payload_ref dst_payload_ref encapsulates_refs encapsulated_by_ref defanged extensions",
    ),
    (
        "note",
        Class::Sdo,
        "created_by_ref created modified abstract content authors object_refs revoked labels confidence lang external_references extensions",
    ),
    (
        "observed-data",
        Class::Sdo,
        "created_by_ref created modified first_observed last_observed number_observed objects object_refs revoked labels confidence lang external_references extensions",
    ),
    (
        "opinion",
        Class::Sdo,
        "created_by_ref created modified explanation authors opinion object_refs revoked labels confidence lang external_references extensions",
    ),
    (
        "process",
        Class::Sco,
        "is_hidden pid created_time cwd command_line environment_variables opened_connection_refs creator_user_ref image_ref parent_ref child_refs defanged extensions",
    ),
    (
        "relationship",
        Class::Sro,
        "created_by_ref created modified relationship_type description source_ref target_ref start_time stop_time revoked labels confidence lang external_references extensions",
    ),
    (
        "report",
        Class::Sdo,
        "created_by_ref created modified name description report_types published object_refs revoked labels confidence lang external_references extensions",
    ),
    (
        "sighting",
        Class::Sro,
        "created_by_ref created modified description first_seen last_seen count sighting_of_ref observed_data_refs where_sighted_refs summary revoked labels confidence lang external_references extensions",
    ),
    ("software", Class::Sco, "name cpe swid languages vendor version defanged extensions"),
    (
        "threat-actor",
        Class::Sdo,
        "created_by_ref created modified name description threat_actor_types aliases first_seen last_seen roles goals sophistication resource_level primary_motivation secondary_motivations personal_motivations revoked labels confidence lang external_references extensions",
    ),
    (
        "tool",
        Class::Sdo,
        "created_by_ref created modified name description tool_types aliases kill_chain_phases tool_version revoked labels confidence lang external_references extensions",
    ),
    ("url", Class::Sco, "value defanged extensions"),
    (
        "user-account",
        Class::Sco,
        "user_id credential account_login account_type display_name is_service_account is_privileged can_escalate_privs is_disabled account_created account_expires credential_last_changed account_first_login account_last_login defanged extensions",
    ),
    (
        "vulnerability",
        Class::Sdo,
        "created_by_ref created modified name description revoked labels confidence lang external_references extensions",
    ),
    (
        "windows-registry-key",
        Class::Sco,
        "key values modified_time creator_user_ref number_of_subkeys defanged extensions",
    ),
    (
        "x509-certificate",
        Class::Sco,
        "is_self_signed hashes version serial_number signature_algorithm issuer validity_not_before validity_not_after subject subject_public_key_algorithm subject_public_key_modulus subject_public_key_exponent x509_v3_extensions defanged extensions",
    ),
];
/// stix2's ReferenceProperty rules (created_by_ref and object_marking_refs aside): type, property,
/// allow-list or deny-list, the types or classes (SDO, SCO, SRO) listed.
pub(super) const REFS: [(&str, &str, Rule, &str); 46] = [
    ("directory", "contains_refs", Rule::Only, "directory file"),
    ("domain-name", "resolves_to_refs", Rule::Only, "domain-name ipv4-addr ipv6-addr"),
    ("email-addr", "belongs_to_ref", Rule::Only, "user-account"),
    ("email-message", "from_ref", Rule::Only, "email-addr"),
    ("email-message", "sender_ref", Rule::Only, "email-addr"),
    ("email-message", "to_refs", Rule::Only, "email-addr"),
    ("email-message", "cc_refs", Rule::Only, "email-addr"),
    ("email-message", "bcc_refs", Rule::Only, "email-addr"),
    ("email-message", "raw_email_ref", Rule::Only, "artifact"),
    ("file", "parent_directory_ref", Rule::Only, "directory"),
    ("file", "contains_refs", Rule::Only, "SCO"),
    ("file", "content_ref", Rule::Only, "artifact"),
    ("grouping", "object_refs", Rule::Only, "SCO SDO SRO"),
    ("ipv4-addr", "resolves_to_refs", Rule::Only, "mac-addr"),
    ("ipv4-addr", "belongs_to_refs", Rule::Only, "autonomous-system"),
    ("ipv6-addr", "resolves_to_refs", Rule::Only, "mac-addr"),
    ("ipv6-addr", "belongs_to_refs", Rule::Only, "autonomous-system"),
    ("language-content", "object_ref", Rule::Only, "SCO SDO SRO"),
    ("malware", "operating_system_refs", Rule::Only, "software"),
    ("malware", "sample_refs", Rule::Only, "artifact file"),
    ("malware-analysis", "host_vm_ref", Rule::Only, "software"),
    ("malware-analysis", "operating_system_ref", Rule::Only, "software"),
    ("malware-analysis", "installed_software_refs", Rule::Only, "software"),
    ("malware-analysis", "analysis_sco_refs", Rule::Only, "SCO"),
    ("malware-analysis", "sample_ref", Rule::Only, "SCO"),
    ("network-traffic", "src_ref", Rule::Only, "domain-name ipv4-addr ipv6-addr mac-addr"),
    ("network-traffic", "dst_ref", Rule::Only, "domain-name ipv4-addr ipv6-addr mac-addr"),
    ("network-traffic", "src_payload_ref", Rule::Only, "artifact"),
    ("network-traffic", "dst_payload_ref", Rule::Only, "artifact"),
    ("network-traffic", "encapsulates_refs", Rule::Only, "network-traffic"),
    ("network-traffic", "encapsulated_by_ref", Rule::Only, "network-traffic"),
    ("note", "object_refs", Rule::Only, "SCO SDO SRO"),
    ("observed-data", "object_refs", Rule::Only, "SCO SRO"),
    ("opinion", "object_refs", Rule::Only, "SCO SDO SRO"),
    ("process", "opened_connection_refs", Rule::Only, "network-traffic"),
    ("process", "creator_user_ref", Rule::Only, "user-account"),
    ("process", "image_ref", Rule::Only, "file"),
    ("process", "parent_ref", Rule::Only, "process"),
    ("process", "child_refs", Rule::Only, "process"),
    (
        "relationship",
        "source_ref",
        Rule::Not,
        "bundle language-content marking-definition relationship sighting",
    ),
    (
        "relationship",
        "target_ref",
        Rule::Not,
        "bundle language-content marking-definition relationship sighting",
    ),
    ("report", "object_refs", Rule::Only, "SCO SDO SRO"),
    ("sighting", "sighting_of_ref", Rule::Only, "SDO"),
    ("sighting", "observed_data_refs", Rule::Only, "observed-data"),
    ("sighting", "where_sighted_refs", Rule::Only, "identity location"),
    ("windows-registry-key", "creator_user_ref", Rule::Only, "user-account"),
];

/// The same for references inside predefined extensions (by extension name) and inside
/// `body_multipart` items: container, property, rule, types.
pub(super) const NESTED_REFS: [(&str, &str, Rule, &str); 4] = [
    ("archive-ext", "contains_refs", Rule::Only, "directory file"),
    ("http-request-ext", "message_body_data_ref", Rule::Only, "artifact"),
    ("windows-service-ext", "service_dll_refs", Rule::Only, "file"),
    ("body_multipart", "body_raw_ref", Rule::Only, "artifact file"),
];
