//! Mirror and source configs: JSON as nats-server writes it, and the errors `checkStreamCfg`
//! gives for bad ones (through `StreamConfig::validated`, as a stream create sees them).

use serde_json::json;

use crate::core::error::{ApiError, ErrorKind};
use crate::core::sourcing::{ExternalStream, StreamSource, StreamSourceInfo};
use crate::core::stream::{StreamConfig, SubjectTransformConfig};

fn from_json(value: serde_json::Value) -> StreamConfig {
    serde_json::from_value(value).expect("config JSON")
}

#[track_caller]
fn refused(value: serde_json::Value, kind: ErrorKind, text: &str) {
    let err = from_json(value).validated().expect_err("refused");
    assert_eq!(
        (err.code, err.err_code, err.description.as_str()),
        (kind.code(), kind.err_code(), text),
        "{err:?}"
    );
}

fn transform(src: &str, dest: &str) -> SubjectTransformConfig {
    SubjectTransformConfig {
        src: src.into(),
        dest: dest.into(),
    }
}

#[test]
fn source_json_round_trips_in_nats_server_spelling() {
    let text = json!({
        "name": "ORDERS",
        "opt_start_seq": 5,
        "opt_start_time": "2024-01-02T03:04:05.000000006Z",
        "filter_subject": "orders.>",
        "external": {"api": "$JS.hub.API", "deliver": "dlv"}
    });
    let source: StreamSource = serde_json::from_value(text.clone()).expect("source");
    assert_eq!(source.opt_start_seq, 5);
    assert_eq!(source.opt_start_time, Some(1_704_164_645_000_000_006));
    assert_eq!(serde_json::to_value(&source).expect("json"), text);
    // Empty fields are left out; null reads as empty.
    let bare: StreamSource =
        serde_json::from_value(json!({"name": "O", "filter_subject": null})).expect("bare");
    assert_eq!(
        serde_json::to_value(&bare).expect("json"),
        json!({"name": "O"})
    );
}

#[test]
fn domain_becomes_the_external_api_and_is_not_written_back() {
    let mut source: StreamSource =
        serde_json::from_value(json!({"name": "O", "domain": "hub"})).expect("source");
    source.resolve_domain().expect("resolves");
    assert_eq!(
        source.external,
        Some(ExternalStream {
            api: "$JS.hub.API".into(),
            deliver: String::new()
        })
    );
    assert_eq!(
        serde_json::to_value(&source).expect("json"),
        json!({"name": "O", "external": {"api": "$JS.hub.API", "deliver": ""}})
    );
    refused(
        json!({"name": "M", "mirror": {"name": "O", "domain": "hub", "external": {"api": "$JS.x.API"}}}),
        ErrorKind::StreamInvalidConfig,
        "domain and external are both set",
    );
}

#[test]
fn source_info_json_matches_stream_info() {
    let info = StreamSourceInfo {
        name: "O".into(),
        active: -1,
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&info).expect("json"),
        json!({"name": "O", "lag": 0, "active": -1})
    );
    let info = StreamSourceInfo {
        name: "O".into(),
        external: Some(ExternalStream {
            api: "$JS.hub.API".into(),
            deliver: String::new(),
        }),
        lag: 3,
        active: 1_500_000,
        error: Some(ApiError::new(ErrorKind::StreamNotFound)),
        filter_subject: "a.>".into(),
        subject_transforms: vec![transform("a.>", "b.>")],
    };
    assert_eq!(
        serde_json::to_value(&info).expect("json"),
        json!({
            "name": "O", "external": {"api": "$JS.hub.API", "deliver": ""}, "lag": 3,
            "active": 1_500_000,
            "error": {"code": 404, "err_code": 10059, "description": "stream not found"},
            "filter_subject": "a.>", "subject_transforms": [{"src": "a.>", "dest": "b.>"}]
        })
    );
}

#[test]
fn a_mirror_has_no_subjects_sources_or_first_sequence() {
    refused(
        json!({"name": "M", "subjects": ["m"], "mirror": {"name": "O"}}),
        ErrorKind::MirrorWithSubjects,
        "stream mirrors can not contain subjects",
    );
    refused(
        json!({"name": "M", "mirror": {"name": "O"}, "sources": [{"name": "P"}]}),
        ErrorKind::MirrorWithSources,
        "stream mirrors can not also contain other sources",
    );
    refused(
        json!({"name": "M", "first_seq": 5, "mirror": {"name": "O"}}),
        ErrorKind::MirrorWithFirstSeq,
        "stream mirrors can not have first sequence configured",
    );
    refused(
        json!({"name": "M", "mirror": {"name": "a.b"}}),
        ErrorKind::MirrorInvalidStreamName,
        "mirrored stream name is invalid",
    );
}

#[test]
fn mirror_filters_and_transforms_follow_nats_server_rules() {
    refused(
        json!({"name": "M", "mirror": {"name": "O", "filter_subject": "a",
            "subject_transforms": [{"src": "b", "dest": "c"}]}}),
        ErrorKind::MirrorMultipleFiltersNotAllowed,
        "mirror with multiple subject transforms cannot also have a single subject filter",
    );
    refused(
        json!({"name": "M", "mirror": {"name": "O",
            "subject_transforms": [{"src": "a..b", "dest": "c"}]}}),
        ErrorKind::MirrorInvalidSubjectFilter,
        "mirror transform source: invalid subject a..b",
    );
    refused(
        json!({"name": "M", "mirror": {"name": "O",
            "subject_transforms": [{"src": "a.*", "dest": "b.{{wildcard(2)}}"}]}}),
        ErrorKind::MirrorInvalidTransformDestination,
        "mirror transform: invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]",
    );
    refused(
        json!({"name": "M", "mirror": {"name": "O",
            "subject_transforms": [{"src": "a.*", "dest": "x.{{wildcard(1)}}"},
                {"src": "*.b", "dest": "y.{{wildcard(1)}}"}]}}),
        ErrorKind::MirrorOverlappingSubjectFilters,
        "mirror subject filters can not overlap",
    );
}

#[test]
fn source_filters_and_transforms_follow_nats_server_rules() {
    refused(
        json!({"name": "S", "sources": [{"name": "a b"}]}),
        ErrorKind::SourceInvalidStreamName,
        "sourced stream name is invalid",
    );
    refused(
        json!({"name": "S", "sources": [{"name": "O", "filter_subject": "a"}, {"name": "O", "filter_subject": "a"}]}),
        ErrorKind::SourceDuplicateDetected,
        "duplicate source configuration detected",
    );
    refused(
        json!({"name": "S", "sources": [{"name": "O", "filter_subject": "a",
            "subject_transforms": [{"src": "b", "dest": "c"}]}]}),
        ErrorKind::SourceMultipleFiltersNotAllowed,
        "source with multiple subject transforms cannot also have a single subject filter",
    );
    refused(
        json!({"name": "S", "sources": [{"name": "O",
            "subject_transforms": [{"src": "a.>.b", "dest": "c"}]}]}),
        ErrorKind::SourceInvalidSubjectFilter,
        "source transform source: invalid subject a.>.b",
    );
    refused(
        json!({"name": "S", "sources": [{"name": "O",
            "subject_transforms": [{"src": "a.*", "dest": "b.{{nope(1)}}"}]}]}),
        ErrorKind::SourceInvalidTransformDestination,
        "source transform: invalid mapping destination: unknown function in {{nope(1)}}",
    );
    refused(
        json!({"name": "S", "sources": [{"name": "O",
            "subject_transforms": [{"src": "a.>", "dest": "x.>"}, {"src": "a.b", "dest": "y"}]}]}),
        ErrorKind::SourceOverlappingSubjectFilters,
        "source filters can not overlap",
    );
}

#[test]
fn external_prefixes_are_checked() {
    refused(
        json!({"name": "M", "mirror": {"name": "O", "external": {"api": "$JS.API"}}}),
        ErrorKind::StreamExternalApiOverlap,
        "stream external api prefix $JS.API must not overlap with $JS.API",
    );
    refused(
        json!({"name": "M", "mirror": {"name": "O", "external": {"api": "$JS.*.API"}}}),
        ErrorKind::StreamInvalidConfig,
        "stream external api prefix \"$JS.*.API\" must be a valid subject without wildcards",
    );
    refused(
        json!({"name": "S", "sources": [{"name": "O", "external": {"api": "$JS.hub.API", "deliver": "d.>"}}]}),
        ErrorKind::StreamInvalidExternalDeliverySubj,
        "stream external delivery prefix d.> must not contain wildcards",
    );
}

#[test]
fn valid_mirrors_and_sources_are_accepted_with_domain_resolved() {
    let mirror = from_json(
        json!({"name": "M", "mirror": {"name": "O", "domain": "hub", "filter_subject": "a.>"}}),
    )
    .validated()
    .expect("a valid mirror");
    let external = mirror.mirror.and_then(|m| m.external).map(|e| e.api);
    assert_eq!(external.as_deref(), Some("$JS.hub.API"));
    assert!(
        mirror.subjects.is_empty(),
        "a mirror gets no default subject"
    );
    let sources = from_json(
        json!({"name": "S", "sources": [{"name": "O"}, {"name": "O", "filter_subject": "a.>"},
            {"name": "P", "subject_transforms": [{"src": "a.*", "dest": "b.{{wildcard(1)}}"}]}]}),
    )
    .validated()
    .expect("valid sources");
    assert_eq!(sources.sources.len(), 3);
}
