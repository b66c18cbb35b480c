//! Subject transforms: what compiles, what each function makes of a subject, and the errors
//! (expected values are nats-server's, partition buckets included).

use super::{validate_mapping, SubjectTransform, TransformError};

fn compile(src: &str, dest: &str) -> SubjectTransform {
    match SubjectTransform::new(src, dest) {
        Ok(Some(t)) => t,
        other => panic!("{src} -> {dest} should compile, got {other:?}"),
    }
}

fn map(src: &str, dest: &str, subject: &str) -> Option<String> {
    compile(src, dest).apply(subject, &mut || 4)
}

fn refused(src: &str, dest: &str) -> TransformError {
    match SubjectTransform::new(src, dest) {
        Err(e) => e,
        Ok(t) => panic!("{src} -> {dest} should be refused, got {t:?}"),
    }
}

#[test]
fn wildcards_move_tokens_by_number() {
    assert_eq!(
        map("foo.*.bar.*.baz", "req.$2.$1", "foo.A.bar.B.baz").as_deref(),
        Some("req.B.A")
    );
    assert_eq!(
        map(
            "foo.*.bar.*.baz",
            "req.{{wildcard(2)}}.{{ Wildcard(1) }}",
            "foo.A.bar.B.baz"
        )
        .as_deref(),
        Some("req.B.A")
    );
    assert_eq!(
        map("*", "foo.bar.$1", "foo").as_deref(),
        Some("foo.bar.foo")
    );
    // Not every wildcard has to be used.
    assert_eq!(
        map("foo.*.*", "bar.$2", "foo.a.b").as_deref(),
        Some("bar.b")
    );
}

#[test]
fn full_wildcard_carries_the_rest_of_the_subject() {
    assert_eq!(
        map("baz.>", "my.pre.>", "baz.1.2.3").as_deref(),
        Some("my.pre.1.2.3")
    );
    assert_eq!(map("", "prefix.>", "foo").as_deref(), Some("prefix.foo"));
    assert_eq!(map(">", ">", "a.b").as_deref(), Some("a.b"));
}

#[test]
fn literal_sources_map_only_themselves() {
    assert_eq!(map("foo", "bar", "foo").as_deref(), Some("bar"));
    assert_eq!(map("foo", "bar", "foo.x"), None);
    assert_eq!(map("foo.*", "bar.$1", "other.x"), None);
    // Not a literal subject: nothing to rewrite.
    assert_eq!(map(">", "x.>", "a..b"), None);
    assert_eq!(map(">", "x.>", "a.*"), None);
}

#[test]
fn an_empty_destination_is_no_transform() {
    assert_eq!(SubjectTransform::new("foo", ""), Ok(None));
    assert_eq!(validate_mapping("foo", ""), Ok(()));
}

#[test]
fn split_and_slice_functions_cut_a_token_into_tokens() {
    assert_eq!(
        map("*", "{{splitfromleft(1,3)}}", "12345").as_deref(),
        Some("123.45")
    );
    assert_eq!(
        map("*", "{{SplitFromRight(1,3)}}", "12345").as_deref(),
        Some("12.345")
    );
    assert_eq!(
        map("*", "{{SliceFromLeft(1,3)}}", "1234567890").as_deref(),
        Some("123.456.789.0")
    );
    assert_eq!(
        map("*", "{{SliceFromRight(1,3)}}", "1234567890").as_deref(),
        Some("1.234.567.890")
    );
    // Too short to cut: the token stays whole.
    assert_eq!(
        map("*", "{{splitFromLeft(1,9)}}", "abc").as_deref(),
        Some("abc")
    );
    assert_eq!(
        map("*", "{{sliceFromLeft(1,0)}}", "abc").as_deref(),
        Some("abc")
    );
    assert_eq!(
        map("*", "{{split(1,-)}}", "-abc-def--ghi-").as_deref(),
        Some("abc.def.ghi")
    );
    assert_eq!(
        map(
            "*.*",
            "{{split(2,-)}}.{{splitfromleft(1,2)}}",
            "foo.-abc-def--ghij-"
        )
        .as_deref(),
        Some("abc.def.ghij.fo.o")
    );
}

#[test]
fn left_and_right_keep_part_of_a_token() {
    assert_eq!(map("*", "{{right(1,3)}}", "1234").as_deref(), Some("234"));
    assert_eq!(map("*", "{{left(1,1)}}", "1234").as_deref(), Some("1"));
    assert_eq!(map("*", "{{left(1,6)}}", "1234").as_deref(), Some("1234"));
}

#[test]
fn partition_hashes_to_the_same_bucket_as_nats_server() {
    assert_eq!(
        map("*", "bar.{{partition(10)}}", "foo").as_deref(),
        Some("bar.3")
    );
    assert_eq!(
        map("*", "bar.{{partition(10)}}", "baz").as_deref(),
        Some("bar.0")
    );
    assert_eq!(
        map("*", "bar.{{partition(10)}}", "qux").as_deref(),
        Some("bar.9")
    );
    assert_eq!(
        map("*.*", "bar.{{partition(10)}}", "foo.bar").as_deref(),
        Some("bar.6")
    );
    assert_eq!(
        map("*", "bar.{{partition(10, 1)}}", "foo").as_deref(),
        Some("bar.3")
    );
    assert_eq!(
        map("*", "bar.{{partition(0)}}", "baz").as_deref(),
        Some("bar.0")
    );
    // Literal sources hash the whole subject.
    assert_eq!(
        map("foo.bar", "baz.{{partition(10)}}", "foo.bar").as_deref(),
        Some("baz.6")
    );
    assert_eq!(
        map("foo.baz", "qux.{{partition(10)}}", "foo.baz").as_deref(),
        Some("qux.4")
    );
}

#[test]
fn random_picks_a_bucket_from_the_callers_randomness() {
    let t = compile("*", "bar.{{random(6)}}");
    for r in [0u32, 5, 6, 13, u32::MAX] {
        let expected = format!("bar.{}", (r & 0x7fff_ffff) % 6);
        assert_eq!(t.apply("x", &mut || r).as_deref(), Some(expected.as_str()));
    }
    assert_eq!(map("*", "bar.{{random(0)}}", "x").as_deref(), Some("bar.0"));
}

#[test]
fn bad_transforms_are_refused_with_nats_servers_reasons() {
    assert_eq!(refused("foo.*", "bar.*"), TransformError::BadSubject);
    assert_eq!(refused("foo.*", "bar.$1.>"), TransformError::BadSubject);
    assert_eq!(refused("foo.>", "bar.baz"), TransformError::BadSubject);
    assert_eq!(refused("foo..bar", "x"), TransformError::BadSubject);
    assert!(matches!(
        refused("foo.*", "bar.$2"),
        TransformError::IndexOutOfRange(_)
    ));
    assert!(matches!(
        refused("foo", "bla.{{wildcard(1)}}"),
        TransformError::IndexOutOfRange(_)
    ));
    assert!(matches!(
        refused("foo.*", "foo.{{unimplemented(1)}}"),
        TransformError::UnknownFunction(_)
    ));
    assert!(matches!(
        refused("foo.*", "foo.{{splitLeft(2,2}}"),
        TransformError::UnknownFunction(_)
    ));
    assert!(matches!(
        refused("foo.*", "foo.{{partition()}}"),
        TransformError::InvalidArg(_)
    ));
    assert!(matches!(
        refused("foo.*", "foo.{{random()}}"),
        TransformError::InvalidArg(_)
    ));
    assert!(matches!(
        refused("foo.*", "foo.{{wildcard(foo)}}"),
        TransformError::InvalidArg(_)
    ));
    assert!(matches!(
        refused("foo.*", "foo.{{wildcard()}}"),
        TransformError::NotEnoughArgs(_)
    ));
    assert!(matches!(
        refused("foo.*", "foo.{{wildcard(1,2)}}"),
        TransformError::TooManyArgs(_)
    ));
    assert!(matches!(
        refused("foo.*", "foo.{{split(1)}}"),
        TransformError::NotEnoughArgs(_)
    ));
    assert!(matches!(
        refused("foo.*", "foo.{{split(1,a b)}}"),
        TransformError::InvalidArg(_)
    ));
    assert!(matches!(
        refused("foo.*", "foo.{{partition(2147483648)}}"),
        TransformError::InvalidArg(_)
    ));
    assert!(SubjectTransform::new("foo.*", "foo.{{partition(2147483647)}}").is_ok());
    assert_eq!(
        refused("foo.*", "bar.$2").to_string(),
        "invalid mapping destination: wildcard index out of range in $2: [2]"
    );
}

#[test]
fn stream_validation_checks_the_destination_tokens_first() {
    assert_eq!(
        validate_mapping("foo.*", "bar..$1"),
        Err(TransformError::InvalidDestination(Some(String::new())))
    );
    assert_eq!(
        validate_mapping("foo.*", "bar.a b"),
        Err(TransformError::InvalidDestination(None))
    );
    assert_eq!(
        validate_mapping("foo.*", "bar.a b").map_err(|e| e.to_string()),
        Err("invalid mapping destination: invalid transform".to_string())
    );
    // `left` is a function of transforms, but not one stream configs accept.
    assert!(matches!(
        validate_mapping("foo.*", "{{left(1,2)}}"),
        Err(TransformError::UnknownFunction(_))
    ));
    assert_eq!(validate_mapping("foo.*", "bar.{{partition(3,1)}}"), Ok(()));
}

#[test]
fn a_missing_token_maps_to_nothing_instead_of_panicking() {
    let t = compile("foo.*", "one.two.{{wildcard(1)}}");
    assert_eq!(t.rewrite(&["foo"], &mut || 0), "one.two.");
}
