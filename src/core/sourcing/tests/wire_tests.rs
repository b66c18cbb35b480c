//! Hashes, consumer create requests, ack replies and `Nats-Stream-Source`, checked against
//! what nats-server 2.14 was seen sending (a server with JetStream domain `hub`, account `$G`).

use serde_json::{json, Value};

use crate::core::headers::Headers;
use crate::core::sourcing::hash::{get_hash, source_consumer_hash, stable_consumer_hash};
use crate::core::sourcing::request::{
    create_request, deliver_subject, RequestForm, RequestParams, StartAt,
};
use crate::core::sourcing::wire::{parse_ack_reply, parse_source_header, source_header};
use crate::core::sourcing::{resume_points, ExternalStream, StreamSource};
use crate::core::stream::SubjectTransformConfig;

fn origin(name: &str) -> StreamSource {
    StreamSource {
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn consumer_names_hash_like_nats_server() {
    // Observed: mirrors M, M2, M3 and source S3 on a server with domain hub.
    assert_eq!(stable_consumer_hash("M", "$G", "hub"), "CLWpCkl6");
    assert_eq!(stable_consumer_hash("M2", "$G", "hub"), "z8vzXE3v");
    assert_eq!(stable_consumer_hash("M3", "$G", "hub"), "O30J3roU");
    let s3 = stable_consumer_hash("S3", "$G", "hub");
    assert_eq!(source_consumer_hash(&s3, "ignored", false), "JXOzaAqN");
    assert_ne!(
        source_consumer_hash(&s3, "O > >", true),
        source_consumer_hash(&s3, "O a >", true)
    );
    assert_eq!(get_hash("x").len(), 8);
}

fn metadata(kind: &str, stream: &str) -> Vec<(String, String)> {
    vec![
        (format!("_nats.{kind}.stream"), stream.into()),
        (format!("_nats.{kind}.acc"), "$G".into()),
        (format!("_nats.{kind}.domain"), "hub".into()),
    ]
}

#[test]
fn mirror_create_request_is_what_nats_server_sends() {
    let source = origin("O");
    let request = create_request(&RequestParams {
        source: &source,
        is_mirror: true,
        hash: "CLWpCkl6",
        form: RequestForm::Sourcing,
        legacy_suffix: "",
        deliver_subject: "$JS.M.2f8qb70U",
        start: StartAt::All,
        metadata: metadata("mirror", "M"),
    });
    assert_eq!(request.subject, "$JS.API.CONSUMER.CREATE.O");
    assert_eq!(
        request.headers,
        Some(vec![("Nats-Required-Api-Level".into(), "4".into())])
    );
    // Byte for byte the body nats-server 2.14 sent.
    assert_eq!(
        request.body,
        r#"{"stream_name":"O","config":{"name":"JS_MIRROR_CLWpCkl6","deliver_policy":"all","ack_policy":"none","ack_wait":79200000000000,"max_deliver":1,"replay_policy":"instant","flow_control":true,"deliver_subject":"$JS.M.2f8qb70U","idle_heartbeat":1000000000,"inactive_threshold":10000000000,"num_replicas":0,"direct":true,"sourcing":true,"metadata":{"_nats.mirror.acc":"$G","_nats.mirror.domain":"hub","_nats.mirror.stream":"M"}},"action":""}"#
    );
}

#[test]
fn source_with_one_transform_uses_the_extended_subject_under_the_external_prefix() {
    let mut source = origin("O");
    source.external = Some(ExternalStream {
        api: "$JS.hub.API".into(),
        deliver: "dl".into(),
    });
    source.subject_transforms = vec![SubjectTransformConfig {
        src: "o.*".into(),
        dest: "x.{{wildcard(1)}}".into(),
    }];
    assert_eq!(deliver_subject(&source, false, "iUUix3Cu"), "dl.S.iUUix3Cu");
    let request = create_request(&RequestParams {
        source: &source,
        is_mirror: false,
        hash: "JXOzaAqN",
        form: RequestForm::Sourcing,
        legacy_suffix: "",
        deliver_subject: "dl.S.iUUix3Cu",
        start: StartAt::All,
        metadata: metadata("src", "S3"),
    });
    assert_eq!(
        request.subject,
        "$JS.hub.API.CONSUMER.CREATE.O.JS_SRC_JXOzaAqN.o.*"
    );
    assert_eq!(
        request.body,
        r#"{"stream_name":"O","config":{"name":"JS_SRC_JXOzaAqN","deliver_policy":"all","ack_policy":"none","ack_wait":79200000000000,"max_deliver":1,"filter_subject":"o.*","replay_policy":"instant","flow_control":true,"deliver_subject":"dl.S.iUUix3Cu","idle_heartbeat":1000000000,"inactive_threshold":10000000000,"num_replicas":0,"direct":true,"sourcing":true,"metadata":{"_nats.src.acc":"$G","_nats.src.domain":"hub","_nats.src.stream":"S3"}},"action":""}"#
    );
}

#[test]
fn legacy_form_and_start_positions() {
    let mut source = origin("O");
    source.subject_transforms = ["a.>", "b.>"]
        .iter()
        .map(|s| SubjectTransformConfig {
            src: s.to_string(),
            dest: String::new(),
        })
        .collect();
    let params = |start| RequestParams {
        source: &source,
        is_mirror: false,
        hash: "HASHHASH",
        form: RequestForm::Legacy,
        legacy_suffix: "rnd12345",
        deliver_subject: "$JS.S.abc",
        start,
        metadata: Vec::new(),
    };
    let request = create_request(&params(StartAt::Sequence(42)));
    assert_eq!(request.subject, "$JS.API.CONSUMER.CREATE.O");
    assert_eq!(request.headers, None);
    assert_eq!(request.consumer_name, "JS_SRC_HASHHASH_rnd12345");
    let body: Value = serde_json::from_str(&request.body).expect("json");
    assert_eq!(body["config"]["deliver_policy"], "by_start_sequence");
    assert_eq!(body["config"]["opt_start_seq"], 42);
    assert_eq!(body["config"]["filter_subjects"], json!(["a.>", "b.>"]));
    assert_eq!(body["config"].get("sourcing"), None);
    let request = create_request(&params(StartAt::Time(1_704_164_645_000_000_006)));
    let body: Value = serde_json::from_str(&request.body).expect("json");
    assert_eq!(body["config"]["deliver_policy"], "by_start_time");
    assert_eq!(
        body["config"]["opt_start_time"],
        "2024-01-02T03:04:05.000000006Z"
    );
}

#[test]
fn ack_replies_parse_in_both_forms() {
    // Observed from nats-server 2.14.
    let ack = parse_ack_reply("$JS.ACK.O.JS_MIRROR_O30J3roU-7c3cg6DV.1.2.2.1796286348565625949.1")
        .expect("v1");
    assert_eq!(
        (
            ack.stream,
            ack.consumer,
            ack.delivered,
            ack.stream_seq,
            ack.consumer_seq
        ),
        ("O", "JS_MIRROR_O30J3roU-7c3cg6DV", 1, 2, 2)
    );
    assert_eq!((ack.timestamp, ack.pending), (1796286348565625949, 1));
    let ack = parse_ack_reply("$JS.ACK.hub.ACCHASH.O.C.1.7.5.100.3.rnd").expect("v2");
    assert_eq!(
        (ack.stream, ack.consumer, ack.stream_seq, ack.consumer_seq),
        ("O", "C", 7, 5)
    );
    for bad in [
        "",
        "$JS.ACK.O.C.1.2.3.4",
        "$JS.FC.O.C.1.2.3.4.5",
        "$JS.ACK.O.C.x.2.3.4.5",
    ] {
        assert_eq!(parse_ack_reply(bad), None, "{bad}");
    }
}

#[test]
fn stream_source_header_is_written_and_read_as_nats_server_does() {
    // Observed: "O 1 o.a > o.a" for a source of O filtered on o.a.
    let mut source = origin("O");
    source.filter_subject = "o.a".into();
    assert_eq!(source.index_name(), "O o.a >");
    assert_eq!(
        source_header(&source.index_name(), 1, "o.a"),
        "O 1 o.a > o.a"
    );
    let mark = parse_source_header("O 1 o.a > o.a").expect("2.10 form");
    assert_eq!((mark.index_name.as_str(), mark.origin_seq), ("O o.a >", 1));
    let mark = parse_source_header("SA 17").expect("2.9 form");
    assert_eq!(
        (
            mark.stream.as_str(),
            mark.index_name.as_str(),
            mark.origin_seq
        ),
        ("SA", "", 17)
    );
    let mark = parse_source_header("$JS.ACK.O.C.1.9.4.100.0").expect("ack form");
    assert_eq!((mark.stream.as_str(), mark.origin_seq), ("O", 9));
    for bad in ["", "O", "O x > > a", "O 1 >"] {
        assert_eq!(parse_source_header(bad), None, "{bad}");
    }
}

fn stored(mark: Option<&str>) -> Vec<u8> {
    let mut h = Headers::new();
    h.insert("Other", "x");
    if let Some(m) = mark {
        h.insert("Nats-Stream-Source", m);
    }
    h.encode().to_vec()
}

#[test]
fn resume_points_come_from_the_newest_header_of_each_source() {
    let all = origin("A");
    let mut filtered = origin("A");
    filtered.filter_subject = "a.x".into();
    let mut external = origin("B");
    external.external = Some(ExternalStream {
        api: "$JS.hub.API".into(),
        deliver: String::new(),
    });
    let never = origin("C");
    let ext_old_form = format!("B:{} 5", get_hash("$JS.hub.API"));
    // Newest first.
    let history = [
        stored(Some("A 40 > > a.y")),
        stored(None),
        stored(Some("A 38 a.x > a.x")),
        stored(Some("A 39 > > a.z")),
        stored(Some(&ext_old_form)),
        stored(Some("A 12 a.x > a.x")),
        Vec::new(),
    ];
    let sources = [
        all.clone(),
        filtered.clone(),
        external.clone(),
        never.clone(),
    ];
    let points = resume_points(&sources, history.iter().map(|h| h.as_slice()));
    assert_eq!(points.get(&all.index_name()), Some(&40));
    assert_eq!(points.get(&filtered.index_name()), Some(&38));
    assert_eq!(points.get(&external.index_name()), Some(&5));
    assert_eq!(points.get(&never.index_name()), None);
    assert_eq!(points.len(), 3);
}
