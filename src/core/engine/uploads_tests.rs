//! The upload record kept in the consumer's metadata: configured without a link, found again by
//! `restore_uploads` (as on an engine restored from a database), bound to a server's link,
//! paused, counted reconnects, forgotten. What leaves over the link is checked by sequence, so a
//! resume that skipped or repeated a message would show.

use super::*;
use crate::core::front::JetStream;
use crate::core::headers::Headers;
use crate::core::message::Message;
use crate::core::time::SECONDS;

const NOW: Nanos = 1_000 * SECONDS;
const SERVER: &str = "ws://hub.example:8080";
const LINK: Destination = Destination::Link(LinkId(7));

/// An engine with local stream LOCAL holding `n` messages.
fn engine_with(n: u64) -> Engine {
    let mut front = JetStream::in_memory(5);
    let body = r#"{"name":"LOCAL","subjects":["ev.>"]}"#;
    assert!(front.handle(Message::new("$JS.API.STREAM.CREATE.LOCAL", body), NOW));
    let mut engine = front.into_engine();
    for i in 1..=n {
        assert!(engine.handle(Message::new(format!("ev.{i}"), format!("m{i}")), NOW));
    }
    flush(&mut engine);
    engine
}

/// Flushes and drops what leaves (the API replies).
fn flush(engine: &mut Engine) {
    engine.flush().result().expect("memory stores sync");
    while engine.poll_outbound().is_some() {}
}

/// Flushes and returns the local sequences published over `LINK` (from `Contrail-Origin-Seq`).
fn sent_over_link(engine: &mut Engine) -> Vec<u64> {
    engine.flush().result().expect("memory stores sync");
    let mut seqs = Vec::new();
    while let Some(out) = engine.poll_outbound() {
        if out.dest != LINK || out.msg.subject.starts_with("$JS") {
            continue;
        }
        let headers = Headers::parse(out.msg.headers.as_deref().expect("headers")).expect("parse");
        let id = headers.get("Contrail-Origin-Seq").expect("origin seq");
        let seq = id.rsplit_once(':').expect("seq").1.parse().expect("number");
        seqs.push(seq);
    }
    seqs
}

fn metadata(engine: &Engine, name: &str) -> BTreeMap<String, String> {
    let info = engine
        .consumer_info("LOCAL", name, NOW)
        .expect("the upload's consumer");
    info.config.metadata
}

fn offline_upload(engine: &mut Engine) -> UploadStatus {
    let mut config = UploadConfig::new("LOCAL", "REMOTE", UNBOUND);
    config.subject_prefix = Some("up.".into());
    config.window = 4;
    engine
        .start_upload_to("up", config, Some(SERVER), "origin0001", NOW)
        .expect("configured offline")
}

#[test]
fn configured_offline_it_is_recorded_and_waits_for_a_link() {
    let mut engine = engine_with(10);
    let status = offline_upload(&mut engine);
    assert!(!status.online);
    assert_eq!((status.cursor, status.pending), (0, 10));
    assert_eq!(
        sent_over_link(&mut engine),
        Vec::<u64>::new(),
        "nothing leaves"
    );
    let recorded = metadata(&engine, "up");
    assert_eq!(
        recorded.get(SERVER_METADATA).map(String::as_str),
        Some(SERVER)
    );
    assert_eq!(
        recorded.get(REMOTE_METADATA).map(String::as_str),
        Some("REMOTE")
    );
    assert_eq!(
        recorded.get(PREFIX_METADATA).map(String::as_str),
        Some("up.")
    );
    assert_eq!(recorded.get(WINDOW_METADATA).map(String::as_str), Some("4"));

    // Another server's link binds nothing; its own server's does, and it sends a window.
    assert!(engine.bind_uploads("ws://other:1", LINK, NOW).is_empty());
    assert_eq!(
        engine.bind_uploads(SERVER, LINK, NOW),
        vec!["up".to_string()]
    );
    engine.link_up(LinkId(7), NOW);
    assert_eq!(sent_over_link(&mut engine), vec![1, 2, 3, 4]);
    let report = engine.upload_report("up").expect("runs");
    assert!(report.upload.online);
    assert_eq!(report.server.as_deref(), Some(SERVER));
    assert_eq!(report.reconnects, 0, "the first time up is no reconnect");
    engine.link_down(LinkId(7), NOW);
    engine.link_up(LinkId(7), NOW);
    engine.link_up(LinkId(7), NOW); // already up: not another reconnect
    assert_eq!(engine.upload_report("up").expect("runs").reconnects, 1);
}

#[test]
fn restored_uploads_keep_their_record_and_paused_state() {
    let mut engine = engine_with(3);
    let first = offline_upload(&mut engine);
    assert!(engine.pause_upload("up", true));
    flush(&mut engine);
    assert_eq!(
        metadata(&engine, "up")
            .get(PAUSED_METADATA)
            .map(String::as_str),
        Some("true")
    );
    // As on a database opened again: the uploader is gone, its consumer is not.
    assert!(engine.stop_upload("up"));
    assert!(engine.upload_names().is_empty());
    assert_eq!(engine.restore_uploads(), vec!["up".to_string()]);
    let report = engine.upload_report("up").expect("restored");
    assert_eq!(report.upload.origin, first.origin);
    assert_eq!(report.upload.remote_stream, "REMOTE");
    assert!(report.upload.paused);
    assert!(!report.upload.online);
    assert_eq!(report.server.as_deref(), Some(SERVER));
    assert!(engine.restore_uploads().is_empty(), "once per upload");

    // Bound and up, a paused upload sends nothing until resumed, then from the first message.
    engine.bind_uploads(SERVER, LINK, NOW);
    engine.link_up(LinkId(7), NOW);
    assert!(sent_over_link(&mut engine).is_empty());
    assert!(engine.pause_upload("up", false));
    assert_eq!(sent_over_link(&mut engine), vec![1, 2, 3]);
    assert!(!metadata(&engine, "up").contains_key(PAUSED_METADATA));
}

#[test]
fn forget_deletes_the_consumer_running_or_not() {
    let mut engine = engine_with(3);
    offline_upload(&mut engine);
    assert_eq!(engine.forget_upload("up", NOW), Ok(true));
    flush(&mut engine);
    assert!(engine.consumer_info("LOCAL", "up", NOW).is_err());
    assert!(engine.upload_names().is_empty());
    assert!(engine.restore_uploads().is_empty());
    assert_eq!(engine.forget_upload("up", NOW), Ok(false));

    // A stopped upload (not running, still recorded) is forgotten too.
    offline_upload(&mut engine);
    assert!(engine.stop_upload("up"));
    assert_eq!(engine.forget_upload("up", NOW), Ok(true));
    assert!(engine.consumer_info("LOCAL", "up", NOW).is_err());
}

#[test]
fn a_consumer_that_is_not_an_upload_is_neither_restored_nor_forgotten() {
    let mut front = JetStream::new(engine_with(1));
    let body =
        r#"{"stream_name":"LOCAL","config":{"durable_name":"plain","ack_policy":"explicit"}}"#;
    assert!(front.handle(
        Message::new("$JS.API.CONSUMER.CREATE.LOCAL.plain", body),
        NOW
    ));
    let mut engine = front.into_engine();
    flush(&mut engine);
    assert!(engine.restore_uploads().is_empty());
    assert_eq!(engine.forget_upload("plain", NOW), Ok(false));
    assert!(engine.consumer_info("LOCAL", "plain", NOW).is_ok());
}

#[test]
fn a_record_edited_to_nonsense_pacing_keeps_the_defaults() {
    let mut metadata = BTreeMap::new();
    metadata.insert(ORIGIN_METADATA.to_string(), "origin0001".to_string());
    metadata.insert(REMOTE_METADATA.to_string(), "REMOTE".to_string());
    metadata.insert(WINDOW_METADATA.to_string(), "0".to_string());
    metadata.insert(ACK_TIMEOUT_METADATA.to_string(), "-5".to_string());
    let config = recorded_config("LOCAL", &metadata, UNBOUND).expect("an upload's record");
    let defaults = UploadConfig::new("LOCAL", "REMOTE", UNBOUND);
    assert_eq!(config, defaults);
    metadata.remove(REMOTE_METADATA);
    assert_eq!(recorded_config("LOCAL", &metadata, UNBOUND), None);
}
