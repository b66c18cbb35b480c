//! Work-queue and interest retention across consumers, through the engine.

mod support;

use support::{err_code, payloads, Client};

fn consumer(c: &mut Client, name: &str, filter: &str) -> serde_json::Value {
    let filter = if filter.is_empty() {
        String::new()
    } else {
        format!(r#","filter_subject":"{filter}""#)
    };
    c.api(
        &format!("CONSUMER.CREATE.S.{name}"),
        &format!(r#"{{"stream_name":"S","config":{{"durable_name":"{name}","ack_policy":"explicit"{filter}}}}}"#),
    )
}

fn messages(c: &mut Client) -> u64 {
    c.api("STREAM.INFO.S", "")["state"]["messages"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

#[test]
fn work_queue_removes_a_message_once_acked() {
    let mut c = Client::new();
    c.api(
        "STREAM.CREATE.S",
        r#"{"subjects":["q.>"],"retention":"workqueue"}"#,
    );
    consumer(&mut c, "W", "");
    c.publish("q.1", "job1");
    c.publish("q.2", "job2");
    let (_, out) = c.pull("S", "W", r#"{"batch":1}"#);
    assert_eq!(payloads(&out), vec!["job1"]);
    assert_eq!(messages(&mut c), 2);
    c.ack(&out[0], "+ACK");
    assert_eq!(messages(&mut c), 1);
}

#[test]
fn work_queue_refuses_overlapping_consumers() {
    let mut c = Client::new();
    c.api(
        "STREAM.CREATE.S",
        r#"{"subjects":["q.>"],"retention":"workqueue"}"#,
    );
    consumer(&mut c, "A", "q.a");
    let overlap = consumer(&mut c, "B", "q.*");
    assert_eq!(err_code(&overlap), Some(10100));
    let unfiltered = consumer(&mut c, "C", "");
    assert!(err_code(&unfiltered).is_some(), "{unfiltered}");
}

#[test]
fn interest_keeps_a_message_until_every_interested_consumer_acks() {
    let mut c = Client::new();
    c.api(
        "STREAM.CREATE.S",
        r#"{"subjects":["i.>"],"retention":"interest"}"#,
    );
    consumer(&mut c, "A", "");
    consumer(&mut c, "B", "");
    c.publish("i.1", "x");
    let (_, a) = c.pull("S", "A", r#"{"batch":1}"#);
    let (_, b) = c.pull("S", "B", r#"{"batch":1}"#);
    c.ack(&a[0], "+ACK");
    assert_eq!(messages(&mut c), 1, "B still needs it");
    c.ack(&b[0], "+ACK");
    assert_eq!(messages(&mut c), 0);
}

#[test]
fn interest_stream_keeps_nothing_nobody_wants() {
    let mut c = Client::new();
    c.api(
        "STREAM.CREATE.S",
        r#"{"subjects":["i.>"],"retention":"interest"}"#,
    );
    consumer(&mut c, "A", "i.a");
    let ack = c.publish("i.b", "nobody").expect("captured");
    assert_eq!(ack["seq"], 1, "a sequence is still assigned");
    assert_eq!(messages(&mut c), 0);
    c.publish("i.a", "wanted");
    assert_eq!(messages(&mut c), 1);
}

#[test]
fn deleting_the_last_interested_consumer_releases_its_messages() {
    let mut c = Client::new();
    c.api(
        "STREAM.CREATE.S",
        r#"{"subjects":["i.>"],"retention":"interest"}"#,
    );
    consumer(&mut c, "A", "");
    c.publish("i.1", "x");
    c.publish("i.2", "y");
    assert_eq!(messages(&mut c), 2);
    c.api("CONSUMER.DELETE.S.A", "");
    assert_eq!(messages(&mut c), 0);
}
