//! Links attached to the engine thread: one task per link carries the engine's subscriptions and
//! messages to a [`LinkHandle`], and the link's news (up, down, a message for an engine
//! subscription) back to the engine thread.
//!
//! The engine names subscriptions with its own [`SubId`]s; the link names them with its
//! [`Sid`]s. The task keeps the two maps, so the engine never sees a link's numbering. Calls on
//! the link are bounded by [`CALL_TIMEOUT`]: the link's task may be waiting for this one to read
//! its events, and giving up the call lets it.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Event;
use crate::core::engine::SubId;
use crate::core::link::{LinkEvent, Sid};
use crate::core::message::{LinkId, Message};
use crate::server::link::LinkHandle;

/// Commands queued from the engine thread to one link's task.
pub(super) const COMMAND_QUEUE: usize = 1024;

/// The longest the task waits for the link to take one call.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// An API prefix the engine uses that the far server knows by another name: the engine's
/// requests to `$JS.hub.API.…` leave as `$JS.API.…` when the far server has no domain.
#[derive(Debug, Clone)]
pub struct ApiRename {
    /// The prefix the engine sends to (`$JS.hub.API`).
    pub local: String,
    /// The far server's name for it (`$JS.API`).
    pub remote: String,
}

impl ApiRename {
    /// `msg` with its subject renamed when it falls under [`ApiRename::local`].
    fn apply(&self, mut msg: Message) -> Message {
        let renamed = msg
            .subject
            .strip_prefix(self.local.as_str())
            .filter(|rest| rest.starts_with('.'))
            .map(|rest| format!("{}{rest}", self.remote));
        if let Some(subject) = renamed {
            msg.subject = subject;
        }
        msg
    }
}

/// What the engine thread asks of a link.
pub(super) enum LinkCommand {
    /// Subscribe for engine subscription `sid`.
    Subscribe { sid: SubId, subject: String },
    /// End engine subscription `sid`.
    Unsubscribe { sid: SubId },
    /// Publish (a message from the engine's outbound queue).
    Publish(Message),
}

/// What a link tells the engine thread.
pub(super) enum LinkNews {
    /// Connected (the link's subscriptions are in place).
    Up,
    /// Disconnected, stopped, or the link task ended.
    Down,
    /// A message for engine subscription `sid`.
    Message { sid: SubId, msg: Message },
}

/// Runs `link` for the engine thread until the engine thread or the link goes away.
pub(super) async fn serve(
    id: LinkId,
    mut link: LinkHandle,
    mut commands: mpsc::Receiver<LinkCommand>,
    engine: mpsc::Sender<Event>,
    rename: Option<ApiRename>,
) {
    let mut by_link: HashMap<Sid, SubId> = HashMap::new();
    let mut by_engine: HashMap<SubId, Sid> = HashMap::new();
    // Whether it was up when attached went with the attach event; changes since come as events.
    let tell = |news| engine.send(Event::FromLink(id, news));
    loop {
        let news = tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break };
                let command = match (command, &rename) {
                    (LinkCommand::Publish(msg), Some(rename)) => LinkCommand::Publish(rename.apply(msg)),
                    (command, _) => command,
                };
                apply(&link, command, &mut by_link, &mut by_engine, id).await;
                continue;
            }
            event = link.next_event() => match event {
                None => {
                    let _ = tell(LinkNews::Down).await;
                    return;
                }
                Some(LinkEvent::Connected(_)) => LinkNews::Up,
                Some(LinkEvent::Disconnected(_) | LinkEvent::Stopped(_)) => LinkNews::Down,
                Some(LinkEvent::Message { sid, msg }) => match by_link.get(&sid) {
                    Some(&sid) => LinkNews::Message { sid, msg },
                    None => continue,
                },
                Some(LinkEvent::Error(err)) => {
                    tracing::warn!(link = id.0, %err, "link error");
                    continue;
                }
                // Requests made through the handle are answered to their callers.
                Some(LinkEvent::Reply { .. } | LinkEvent::RequestFailed { .. }) => continue,
            },
        };
        if tell(news).await.is_err() {
            break;
        }
    }
    link.close().await;
}

/// Carries out one command, within [`CALL_TIMEOUT`].
async fn apply(
    link: &LinkHandle,
    command: LinkCommand,
    by_link: &mut HashMap<Sid, SubId>,
    by_engine: &mut HashMap<SubId, Sid>,
    id: LinkId,
) {
    let outcome = match command {
        LinkCommand::Subscribe { sid, subject } => {
            match tokio::time::timeout(CALL_TIMEOUT, link.subscribe(&subject, None)).await {
                Ok(Ok(link_sid)) => {
                    by_link.insert(link_sid, sid);
                    by_engine.insert(sid, link_sid);
                    return;
                }
                Ok(Err(err)) => err.to_string(),
                Err(_) => "timed out".to_string(),
            }
        }
        LinkCommand::Unsubscribe { sid } => {
            let Some(link_sid) = by_engine.remove(&sid) else {
                return;
            };
            by_link.remove(&link_sid);
            match tokio::time::timeout(CALL_TIMEOUT, link.unsubscribe(link_sid)).await {
                Ok(Ok(())) => return,
                Ok(Err(err)) => err.to_string(),
                Err(_) => "timed out".to_string(),
            }
        }
        // A publish refused while the link is down is lost, as a core NATS publish would be:
        // the engine's requests time out or fail on the link's down news.
        LinkCommand::Publish(msg) => {
            match tokio::time::timeout(CALL_TIMEOUT, link.publish(msg)).await {
                Ok(Ok(())) => return,
                Ok(Err(err)) => err.to_string(),
                Err(_) => "timed out".to_string(),
            }
        }
    };
    tracing::debug!(link = id.0, error = %outcome, "link call failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_subjects_under_the_local_prefix_are_renamed() {
        let rename = ApiRename {
            local: "$JS.hub.API".into(),
            remote: "$JS.API".into(),
        };
        let subject = |s: &str| rename.apply(Message::new(s, "")).subject;
        assert_eq!(
            subject("$JS.hub.API.STREAM.INFO.X"),
            "$JS.API.STREAM.INFO.X"
        );
        assert_eq!(subject("$JS.hub.APIX.INFO"), "$JS.hub.APIX.INFO");
        assert_eq!(subject("$JS.hub.API"), "$JS.hub.API");
        assert_eq!(subject("_INBOX.x.1"), "_INBOX.x.1");
    }
}
