//! ConsumerConfig: defaults, validation errors, update rules, JSON shape, work-queue rules.

use std::collections::BTreeMap;

use super::support::*;
use crate::core::consumer::{
    check_work_queue, AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy,
};
use crate::core::time::MILLIS;

fn stream_subjects() -> Vec<String> {
    vec!["orders.>".to_string()]
}

fn validate(config: ConsumerConfig) -> Result<ConsumerConfig, crate::core::error::ApiError> {
    config.validated(&stream_subjects(), false)
}

fn err_code(config: ConsumerConfig) -> u16 {
    validate(config)
        .expect_err("config must be refused")
        .err_code
}

#[test]
fn pull_defaults_are_nats_defaults() {
    let c = validate(pull_config("dur")).expect("valid");
    assert_eq!(c.ack_wait, secs(30));
    assert_eq!(c.max_deliver, -1);
    assert_eq!(c.max_waiting, 512);
    assert_eq!(c.max_ack_pending, 1000);
    assert_eq!(c.name.as_deref(), Some("dur"));
    assert_eq!(
        c.inactive_threshold, 0,
        "durables keep no inactive threshold"
    );
}

#[test]
fn ephemeral_gets_five_second_inactive_threshold() {
    let config = ConsumerConfig {
        name: Some("eph".into()),
        ..Default::default()
    };
    assert_eq!(validate(config).expect("valid").inactive_threshold, secs(5));
}

#[test]
fn ack_none_gets_no_ack_wait_or_ack_pending_limit() {
    let config = ConsumerConfig {
        durable_name: Some("d".into()),
        ..Default::default()
    };
    let c = validate(config).expect("valid");
    assert_eq!(c.ack_wait, 0);
    assert_eq!(c.max_ack_pending, 0);
}

#[test]
fn first_backoff_becomes_ack_wait() {
    let mut config = pull_config("d");
    config.backoff = vec![secs(1), secs(5)];
    assert_eq!(validate(config).expect("valid").ack_wait, secs(1));
}

#[test]
fn push_consumer_gets_no_max_waiting() {
    let c = validate(push_config("d", "deliver.here")).expect("valid");
    assert_eq!(c.max_waiting, 0);
}

macro_rules! refuses {
    ($name:ident, $code:expr, |$c:ident| $body:block) => {
        #[test]
        fn $name() {
            let mut $c = pull_config("d");
            $body
            assert_eq!(err_code($c), $code);
        }
    };
}

refuses!(deliver_subject_inside_stream_is_a_cycle, 10081, |c| {
    c.deliver_subject = Some("orders.deliver".into());
});
refuses!(deliver_subject_with_wildcard, 10079, |c| {
    c.deliver_subject = Some("deliver.*".into());
});
refuses!(push_with_max_waiting, 10080, |c| {
    c.deliver_subject = Some("deliver".into());
    c.max_waiting = 5;
});
refuses!(push_heartbeat_below_100ms, 10083, |c| {
    c.deliver_subject = Some("deliver".into());
    c.idle_heartbeat = 50 * MILLIS;
});
refuses!(push_max_ack_pending_without_acks, 10082, |c| {
    c.deliver_subject = Some("deliver".into());
    c.ack_policy = AckPolicy::None;
    c.max_ack_pending = 10;
});
refuses!(pull_with_heartbeat, 10088, |c| {
    c.idle_heartbeat = secs(1);
});
refuses!(pull_with_flow_control, 10089, |c| {
    c.flow_control = true;
});
refuses!(pull_with_rate_limit, 10086, |c| {
    c.rate_limit_bps = 1000;
});
refuses!(pull_max_expires_below_1ms, 10115, |c| {
    c.max_expires = 10;
});
refuses!(flow_control_without_heartbeat, 10108, |c| {
    c.deliver_subject = Some("deliver".into());
    c.flow_control = true;
});
refuses!(more_backoff_steps_than_max_deliver, 10116, |c| {
    c.backoff = vec![secs(1), secs(2), secs(3)];
    c.max_deliver = 2;
});
refuses!(negative_backoff, 10184, |c| {
    c.backoff = vec![-1];
});
refuses!(negative_ack_wait, 10183, |c| {
    c.ack_wait = -5;
});
refuses!(overlapping_filters, 10138, |c| {
    c.filter_subjects = vec!["orders.*".into(), "orders.new".into()];
});
refuses!(filter_subject_and_filter_subjects, 10136, |c| {
    c.filter_subject = Some("orders.new".into());
    c.filter_subjects = vec!["orders.old".into()];
});
refuses!(empty_filter_in_filter_subjects, 10139, |c| {
    c.filter_subjects = vec!["orders.new".into(), String::new()];
});
refuses!(invalid_filter_subject, 10052, |c| {
    c.filter_subject = Some("orders..new".into());
});
refuses!(durable_and_name_differ, 10132, |c| {
    c.name = Some("other".into());
});
refuses!(durable_name_with_dot, 10052, |c| {
    c.durable_name = Some("a.b".into());
});
refuses!(durable_name_too_long, 10102, |c| {
    c.durable_name = Some("x".repeat(256));
});
refuses!(description_too_long, 10107, |c| {
    c.description = Some("x".repeat(4097));
});
refuses!(metadata_too_large, 10135, |c| {
    c.metadata = BTreeMap::from([("k".to_string(), "v".repeat(128 * 1024))]);
});
refuses!(more_replicas_than_the_stream, 10126, |c| {
    c.num_replicas = 3;
});
refuses!(unparsable_sample_frequency, 10095, |c| {
    c.sample_freq = Some("often".into());
});
refuses!(deliver_all_with_start_sequence, 10094, |c| {
    c.opt_start_seq = Some(5);
});
refuses!(by_start_time_without_time, 10094, |c| {
    c.deliver_policy = DeliverPolicy::ByStartTime;
});

#[test]
fn start_policy_errors_carry_nats_text() {
    let mut config = pull_config("d");
    config.deliver_policy = DeliverPolicy::LastPerSubject;
    let err = validate(config).expect_err("needs a filter");
    assert_eq!(
        err.description,
        "consumer delivery policy is deliver last per subject, but optional filter subject is not set"
    );
    let mut config = pull_config("d");
    config.deliver_policy = DeliverPolicy::ByStartSequence;
    let err = validate(config).expect_err("needs a sequence");
    assert_eq!(
        err.description,
        "consumer delivery policy is deliver by start sequence, but optional start sequence is not set"
    );
}

#[test]
fn pull_without_acks_is_refused_on_work_queue() {
    let mut config = pull_config("d");
    config.ack_policy = AckPolicy::None;
    let err = config
        .validated(&stream_subjects(), true)
        .expect_err("refused");
    assert_eq!(err.err_code, 10084);
}

macro_rules! update_allows {
    ($name:ident, |$c:ident| $body:block) => {
        #[test]
        fn $name() {
            let old = validate(pull_config("d")).expect("valid");
            let mut $c = pull_config("d");
            $body
            let new = validate($c).expect("valid");
            assert_eq!(old.check_update(&new).expect("update allowed"), new);
        }
    };
}

macro_rules! update_refuses {
    ($name:ident, $text:expr, |$c:ident| $body:block) => {
        #[test]
        fn $name() {
            let old = validate(pull_config("d")).expect("valid");
            let mut $c = pull_config("d");
            $body
            let new = validate($c).expect("valid");
            let err = old.check_update(&new).expect_err("update refused");
            assert_eq!((err.err_code, err.description.as_str()), (10012, $text));
        }
    };
}

update_allows!(update_may_change_description, |c| {
    c.description = Some("new text".into());
});
update_allows!(update_may_change_ack_wait, |c| {
    c.ack_wait = secs(5);
});
update_allows!(update_may_change_max_deliver, |c| {
    c.max_deliver = 3;
});
update_allows!(update_may_change_backoff, |c| {
    c.backoff = vec![secs(1), secs(2)];
});
update_allows!(update_may_change_max_ack_pending, |c| {
    c.max_ack_pending = 5;
});
update_allows!(update_may_change_headers_only, |c| {
    c.headers_only = true;
});
update_allows!(update_may_change_filters, |c| {
    c.filter_subject = Some("orders.new".into());
});
update_allows!(update_may_change_inactive_threshold, |c| {
    c.inactive_threshold = secs(60);
});
update_allows!(update_may_change_metadata, |c| {
    c.metadata = BTreeMap::from([("team".to_string(), "ops".to_string())]);
});
update_refuses!(
    update_may_not_change_deliver_policy,
    "deliver policy can not be updated",
    |c| {
        c.deliver_policy = DeliverPolicy::New;
    }
);
update_refuses!(
    update_may_not_change_ack_policy,
    "ack policy can not be updated",
    |c| {
        c.ack_policy = AckPolicy::All;
    }
);
update_refuses!(
    update_may_not_change_replay_policy,
    "replay policy can not be updated",
    |c| {
        c.replay_policy = ReplayPolicy::Original;
    }
);
update_refuses!(
    update_may_not_turn_pull_into_push,
    "can not update pull consumer to push based",
    |c| {
        c.deliver_subject = Some("deliver".into());
    }
);
update_refuses!(
    update_may_not_change_max_waiting,
    "max waiting can not be updated",
    |c| {
        c.max_waiting = 10;
    }
);

#[test]
fn update_may_not_turn_push_into_pull() {
    let old = validate(push_config("d", "deliver")).expect("valid");
    let new = validate(pull_config("d")).expect("valid");
    let err = old.check_update(&new).expect_err("refused");
    assert_eq!(
        err.description,
        "can not update push consumer to pull based"
    );
}

#[test]
fn typical_pull_consumer_serializes_as_nats_does() {
    let mut config = pull_config("dur");
    config.filter_subject = Some("orders.new".into());
    let json = serde_json::to_string(&validate(config).expect("valid")).expect("serializes");
    assert_eq!(
        json,
        r#"{"durable_name":"dur","name":"dur","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subject":"orders.new","replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0}"#
    );
}

#[test]
fn full_config_round_trips_through_json() {
    let config = ConsumerConfig {
        durable_name: Some("d".into()),
        name: Some("d".into()),
        description: Some("all the fields".into()),
        deliver_policy: DeliverPolicy::ByStartTime,
        opt_start_time: Some(T0 + 123),
        ack_policy: AckPolicy::All,
        ack_wait: secs(2),
        max_deliver: 5,
        backoff: vec![secs(2), secs(4)],
        filter_subjects: vec!["orders.a".into(), "orders.b".into()],
        replay_policy: ReplayPolicy::Original,
        rate_limit_bps: 8000,
        sample_freq: Some("50%".into()),
        max_ack_pending: 20,
        flow_control: true,
        headers_only: true,
        deliver_subject: Some("deliver".into()),
        deliver_group: Some("workers".into()),
        idle_heartbeat: secs(5),
        inactive_threshold: secs(30),
        num_replicas: 1,
        mem_storage: true,
        metadata: BTreeMap::from([("k".to_string(), "v".to_string())]),
        ..Default::default()
    };
    let json = serde_json::to_string(&config).expect("serializes");
    assert!(json.contains(r#""opt_start_time":"2023-11-14T22:13:20.000000123Z""#));
    assert!(json.contains(r#""deliver_policy":"by_start_time""#));
    let back: ConsumerConfig = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, config);
}

#[test]
fn json_nulls_and_empty_strings_mean_unset() {
    let json = r#"{"durable_name":"d","deliver_subject":"","filter_subject":null,"max_deliver":null,"opt_start_seq":0,"deliver_policy":"undefined"}"#;
    let config: ConsumerConfig = serde_json::from_str(json).expect("parses");
    assert!(config.is_pull());
    assert_eq!(config.filter_subject, None);
    assert_eq!(config.max_deliver, 0);
    assert_eq!(config.opt_start_seq, None);
    assert_eq!(config.deliver_policy, DeliverPolicy::All);
}

#[test]
fn unknown_policy_spelling_is_a_json_error() {
    let json = r#"{"durable_name":"d","ack_policy":"sometimes"}"#;
    assert!(serde_json::from_str::<ConsumerConfig>(json).is_err());
}

fn wq(filter: Option<&str>) -> ConsumerConfig {
    let mut c = pull_config("x");
    c.filter_subject = filter.map(str::to_string);
    validate(c).expect("valid")
}

#[test]
fn work_queue_refuses_second_unfiltered_consumer() {
    let existing = ConsumerConfig {
        durable_name: Some("a".into()),
        ..wq(Some("orders.a"))
    };
    let err = check_work_queue(&wq(None), &[&existing]).expect_err("refused");
    assert_eq!(err.err_code, 10099);
}

#[test]
fn work_queue_refuses_overlapping_filters() {
    let existing = ConsumerConfig {
        durable_name: Some("a".into()),
        name: Some("a".into()),
        ..wq(Some("orders.*"))
    };
    let err = check_work_queue(&wq(Some("orders.new")), &[&existing]).expect_err("refused");
    assert_eq!(err.err_code, 10100);
}

#[test]
fn work_queue_accepts_disjoint_filters() {
    let existing = ConsumerConfig {
        durable_name: Some("a".into()),
        name: Some("a".into()),
        ..wq(Some("orders.old"))
    };
    assert!(check_work_queue(&wq(Some("orders.new")), &[&existing]).is_ok());
}

#[test]
fn work_queue_requires_explicit_ack() {
    let mut c = wq(None);
    c.ack_policy = AckPolicy::All;
    assert_eq!(
        check_work_queue(&c, &[]).expect_err("refused").err_code,
        10098
    );
}

#[test]
fn work_queue_requires_deliver_all() {
    let mut c = wq(None);
    c.deliver_policy = DeliverPolicy::New;
    assert_eq!(
        check_work_queue(&c, &[]).expect_err("refused").err_code,
        10101
    );
}

#[test]
fn filter_overlaps_are_found_among_many_filters() {
    let with = |filters: Vec<String>| {
        let mut c = pull_config("dur");
        c.filter_subjects = filters;
        validate(c)
    };
    // 10k distinct filters, none covering another (checked without comparing every pair).
    let many: Vec<String> = (0..10_000).map(|i| format!("orders.{i}.*")).collect();
    assert!(with(many.clone()).is_ok());
    for covering in ["orders.>", "orders.77.>", "orders.*.*", "orders.5.*"] {
        let mut overlapping = many.clone();
        overlapping.push(covering.to_string());
        let err = with(overlapping).expect_err(covering);
        assert_eq!(err.err_code, 10138, "{covering}");
    }
    // `>` and `*` at the end look alike to the index; only one covers the other.
    let err = with(vec!["orders.x.>".into(), "orders.x.*".into()]).expect_err("covered");
    assert_eq!(err.err_code, 10138);
    assert!(with(vec!["orders.a.>".into(), "orders.b.*".into()]).is_ok());
    // Order of checks as before: an invalid filter after an overlap reports the overlap.
    let err = with(vec![
        "orders.*".into(),
        "orders.a".into(),
        "orders..x".into(),
    ])
    .expect_err("overlap first");
    assert_eq!(err.err_code, 10138);
    let err = with(vec![
        "orders..x".into(),
        "orders.*".into(),
        "orders.a".into(),
    ])
    .expect_err("invalid first");
    assert_eq!(err.err_code, 10052);
}
