//! A mirror's or source's configuration (`StreamSource`) and what `StreamInfo` reports about it
//! (`StreamSourceInfo`), as nats-server's `server/stream.go` spells them in JSON, with the checks
//! `checkStreamCfg` makes on them and their error codes.
//!
//! `domain` is not a nats-server field: clients (nats.js `convertStreamSourceDomain`) turn it
//! into `external: {api: "$JS.<domain>.API"}` before sending, and nats-server 2.14 refuses a
//! config that still has it (10025, unknown field). We accept it and do what the clients do, so
//! a config written by hand means what its author meant.
//!
//! Not read yet: nats-server 2.15's `consumer` (sourcing through a durable consumer).

use serde::{Deserialize, Deserializer, Serialize};

use crate::core::error::{ApiError, ErrorKind};
use crate::core::stream::config::SubjectTransformConfig;
use crate::core::subject;
use crate::core::time::{rfc3339_opt, Nanos};
use crate::core::transform::validate_mapping;

/// The API subject prefix an origin in this account answers on.
pub const JS_API_PREFIX: &str = "$JS.API";

/// Where a stream in another account or domain is reached (`ExternalStream`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalStream {
    /// Replaces `$JS.API` in the consumer create subject (e.g. `$JS.hub.API`).
    #[serde(default, rename = "api", deserialize_with = "nullable")]
    pub api: String,
    /// Prefix of the deliver subject the origin's consumer sends to.
    #[serde(default, rename = "deliver", deserialize_with = "nullable")]
    pub deliver: String,
}

/// A mirror or one source of a stream (`StreamSource`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSource {
    /// The origin stream's name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Start at this origin sequence (first setup only).
    #[serde(
        default,
        skip_serializing_if = "is_zero_u64",
        deserialize_with = "nullable"
    )]
    pub opt_start_seq: u64,
    /// Start at this origin time (first setup only).
    #[serde(default, with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<Nanos>,
    /// Only origin messages on subjects matching this filter.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub filter_subject: String,
    /// Filters with a transform each; exclusive with `filter_subject`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub subject_transforms: Vec<SubjectTransformConfig>,
    /// The origin is behind another API prefix (another account or domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    /// Client shorthand for `external: {api: "$JS.<domain>.API"}`; never written back.
    #[serde(default, skip_serializing, deserialize_with = "nullable")]
    pub domain: String,
}

/// What `StreamInfo.mirror` / `StreamInfo.sources[]` say about one origin (`StreamSourceInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSourceInfo {
    /// The origin stream's name.
    pub name: String,
    /// The origin's external API/deliver prefixes, when it has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    /// Messages the origin still has to deliver (the last delivery's pending - 1).
    pub lag: u64,
    /// Nanoseconds since the origin was last heard from; -1 when never.
    pub active: Nanos,
    /// Why the origin's consumer could not be set up, while it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// The configured filter.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    /// The configured transforms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SubjectTransformConfig>,
}

impl StreamSource {
    /// Resolves `domain` into `external.api` (`$JS.<domain>.API`) as clients do; an empty domain
    /// means none. Setting both is refused with the client's words.
    pub fn resolve_domain(&mut self) -> Result<(), ApiError> {
        if self.domain.is_empty() {
            return Ok(());
        }
        if self.external.is_some() {
            return Err(invalid("domain and external are both set"));
        }
        self.external = Some(ExternalStream {
            api: format!("$JS.{}.API", self.domain),
            deliver: String::new(),
        });
        self.domain.clear();
        Ok(())
    }

    /// The API prefix the consumer create goes to: `external.api`, or `$JS.API`.
    pub fn api_prefix(&self) -> &str {
        match &self.external {
            Some(ext) if !ext.api.is_empty() => &ext.api,
            _ => JS_API_PREFIX,
        }
    }

    /// The filters the origin consumer uses: the filter, or each transform's source.
    pub fn filters(&self) -> Vec<String> {
        if self.subject_transforms.is_empty() {
            if self.filter_subject.is_empty() {
                Vec::new()
            } else {
                vec![self.filter_subject.clone()]
            }
        } else {
            self.subject_transforms
                .iter()
                .map(|t| t.src.clone())
                .collect()
        }
    }

    /// nats-server's index name (`composeIName`): `<name>[:<hash(api)>] <filters> <dests>`, with
    /// `>` for an empty filter or destination and form feeds between several transforms. It tells
    /// sources of one stream apart, and its first three words are in every `Nats-Stream-Source`.
    pub fn index_name(&self) -> String {
        let mut name = self.name.clone();
        if let Some(ext) = &self.external {
            name.push(':');
            name.push_str(&super::hash::get_hash(&ext.api));
        }
        let or_all = |s: &str| {
            if s.is_empty() {
                ">".to_string()
            } else {
                s.to_string()
            }
        };
        let (filters, dests) = if self.subject_transforms.is_empty() {
            (or_all(&self.filter_subject), ">".to_string())
        } else {
            let srcs: Vec<String> = self
                .subject_transforms
                .iter()
                .map(|t| or_all(&t.src))
                .collect();
            let dests: Vec<String> = self
                .subject_transforms
                .iter()
                .map(|t| or_all(&t.dest))
                .collect();
            (srcs.join("\x0c"), dests.join("\x0c"))
        };
        format!("{name} {filters} {dests}")
    }
}

fn invalid(text: impl std::fmt::Display) -> ApiError {
    ApiError::with_detail(ErrorKind::StreamInvalidConfig, text)
}

/// An error whose template has two placeholders, filled in order.
fn with_two(kind: ErrorKind, first: &str, second: &str) -> ApiError {
    let mut e = ApiError::new(kind);
    let template = kind.template();
    let mut text = String::new();
    let mut rest = template;
    for value in [first, second] {
        match (rest.find('{'), rest.find('}')) {
            (Some(open), Some(close)) if open < close => {
                text.push_str(&rest[..open]);
                text.push_str(value);
                rest = &rest[close + 1..];
            }
            _ => break,
        }
    }
    text.push_str(rest);
    e.description = text;
    e
}

/// The checks `checkStreamCfg` makes on a stream's mirror and sources (the parts that need no
/// other stream), in nats-server's order. `subjects` are the stream's own subjects, `first_seq`
/// and the feature flags are what a mirror may not have. Resolves `domain` on the way.
pub fn check_sourcing(
    mirror: Option<&mut StreamSource>,
    sources: &mut [StreamSource],
    stream: &MirrorContext,
) -> Result<(), ApiError> {
    let mut deliver_prefixes = Vec::new();
    let mut api_prefixes = Vec::new();
    if let Some(m) = mirror {
        m.resolve_domain()?;
        check_mirror(m, stream)?;
        if let Some(ext) = &m.external {
            deliver_prefixes.push(ext.deliver.clone());
            api_prefixes.push(ext.api.clone());
        }
    }
    if !sources.is_empty() && stream.schedules {
        return Err(ErrorKind::SourceWithMsgSchedules.into());
    }
    let mut index_names = Vec::new();
    for src in sources.iter_mut() {
        src.resolve_domain()?;
        check_source(src, &mut index_names)?;
        if let Some(ext) = &src.external {
            deliver_prefixes.push(ext.deliver.clone());
            api_prefixes.push(ext.api.clone());
        }
    }
    for pfx in deliver_prefixes.iter().filter(|p| !p.is_empty()) {
        if subject::validate_subject(pfx).is_err() {
            return Err(ApiError::with_detail(
                ErrorKind::StreamInvalidExternalDeliverySubj,
                pfx,
            ));
        }
        for sub in stream.subjects {
            if subject::overlaps(sub, &format!("{pfx}.{sub}")) {
                return Err(with_two(
                    ErrorKind::StreamExternalDelPrefixOverlaps,
                    pfx,
                    sub,
                ));
            }
        }
    }
    for api in api_prefixes.iter().filter(|p| !p.is_empty()) {
        if subject::validate_subject(api).is_err() {
            return Err(invalid(format_args!(
                "stream external api prefix {api:?} must be a valid subject without wildcards"
            )));
        }
        if subject::overlaps(api, JS_API_PREFIX) {
            return Err(with_two(
                ErrorKind::StreamExternalApiOverlap,
                api,
                JS_API_PREFIX,
            ));
        }
    }
    Ok(())
}

/// What of the stream itself matters to its mirror/source checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct MirrorContext<'a> {
    /// The stream's own subjects as configured (before the name default).
    pub subjects: &'a [String],
    /// Configured `first_seq`.
    pub first_seq: u64,
    /// Whether the stream also has sources.
    pub has_sources: bool,
    /// `allow_msg_counter`.
    pub counters: bool,
    /// `allow_atomic`.
    pub atomic: bool,
    /// `allow_msg_schedules`.
    pub schedules: bool,
}

fn check_mirror(m: &StreamSource, stream: &MirrorContext) -> Result<(), ApiError> {
    if stream.first_seq > 0 {
        return Err(ErrorKind::MirrorWithFirstSeq.into());
    }
    if !stream.subjects.is_empty() {
        return Err(ErrorKind::MirrorWithSubjects.into());
    }
    if stream.has_sources {
        return Err(ErrorKind::MirrorWithSources.into());
    }
    if stream.counters {
        return Err(ErrorKind::MirrorWithCounters.into());
    }
    if stream.atomic {
        return Err(invalid("stream mirrors can not also use atomic publishing"));
    }
    if stream.schedules {
        return Err(ErrorKind::MirrorWithMsgSchedules.into());
    }
    if !m.filter_subject.is_empty() && !m.subject_transforms.is_empty() {
        return Err(ErrorKind::MirrorMultipleFiltersNotAllowed.into());
    }
    for (i, t) in m.subject_transforms.iter().enumerate() {
        if !t.src.is_empty() && subject::validate_filter(&t.src).is_err() {
            return Err(ApiError::with_detail(
                ErrorKind::MirrorInvalidSubjectFilter,
                format_args!("invalid subject {}", t.src),
            ));
        }
        validate_mapping(&t.src, &t.dest)
            .map_err(|e| ApiError::with_detail(ErrorKind::MirrorInvalidTransformDestination, e))?;
        let collides = m
            .subject_transforms
            .iter()
            .enumerate()
            .any(|(j, o)| j != i && subject::overlaps(&t.src, &o.src));
        if collides {
            return Err(ErrorKind::MirrorOverlappingSubjectFilters.into());
        }
    }
    if m.external.is_none() && !crate::core::stream::is_valid_name(&m.name) {
        return Err(ErrorKind::MirrorInvalidStreamName.into());
    }
    Ok(())
}

fn check_source(src: &StreamSource, index_names: &mut Vec<String>) -> Result<(), ApiError> {
    if !crate::core::stream::is_valid_name(&src.name) {
        return Err(ErrorKind::SourceInvalidStreamName.into());
    }
    let iname = src.index_name();
    if index_names.contains(&iname) {
        return Err(ErrorKind::SourceDuplicateDetected.into());
    }
    index_names.push(iname);
    if !src.filter_subject.is_empty() && !src.subject_transforms.is_empty() {
        return Err(ErrorKind::SourceMultipleFiltersNotAllowed.into());
    }
    for t in &src.subject_transforms {
        if !t.src.is_empty() && subject::validate_filter(&t.src).is_err() {
            return Err(ApiError::with_detail(
                ErrorKind::SourceInvalidSubjectFilter,
                format_args!("invalid subject {}", t.src),
            ));
        }
        validate_mapping(&t.src, &t.dest)
            .map_err(|e| ApiError::with_detail(ErrorKind::SourceInvalidTransformDestination, e))?;
    }
    for (i, t) in src.subject_transforms.iter().enumerate() {
        let subset = src
            .subject_transforms
            .iter()
            .enumerate()
            .any(|(j, o)| j != i && subject::is_subset(&t.src, &o.src));
        if subset {
            return Err(ErrorKind::SourceOverlappingSubjectFilters.into());
        }
    }
    Ok(())
}

fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}
