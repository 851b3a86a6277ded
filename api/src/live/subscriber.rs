//! The instance's one subscription to the push channel (never one per socket): envelopes from
//! every instance are handed to the local registry. If Redis drops, it reconnects with backoff;
//! frames published meanwhile are lost to this instance, so its sockets are closed once it is
//! back and their clients reconnect to a fresh `hello` and catch up over HTTP.
use std::time::Duration;

use bytestring::ByteString;
use futures_util::StreamExt;
use jobs::{
    RedisStore,
    push::{self, Envelope},
};
use rand::Rng;
use redis::aio::{PubSubSink, PubSubStream};

use super::registry::{CloseCause, Registry};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A silent connection (a network that drops packets rather than closing) is noticed by a
/// PING that goes unanswered.
const PING_EVERY: Duration = Duration::from_secs(10);
const PING_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs until the process ends.
pub async fn run(redis: RedisStore, registry: Registry) {
    let channel = push::channel(&redis);
    let mut backoff = MIN_BACKOFF;
    let mut subscribed_before = false;
    loop {
        match subscribe(&redis, &channel).await {
            Ok((sink, stream)) => {
                if subscribed_before {
                    registry.close_all(CloseCause::Resync);
                }
                subscribed_before = true;
                backoff = MIN_BACKOFF;
                metrics::gauge!("push_subscribed").set(1.0);
                let ended = listen(sink, stream, &registry).await;
                metrics::gauge!("push_subscribed").set(0.0);
                tracing::warn!(reason = ended, "live push subscription lost; reconnecting");
            }
            Err(error) => {
                tracing::debug!(%error, "live push cannot subscribe yet");
            }
        }
        tokio::time::sleep(jittered(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn jittered(delay: Duration) -> Duration {
    let factor = rand::rng().random_range(0.5..1.0);
    delay.mul_f64(factor)
}

async fn subscribe(
    redis: &RedisStore,
    channel: &str,
) -> Result<(PubSubSink, PubSubStream), String> {
    let connect = async {
        let mut pubsub = redis.pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>(pubsub.split())
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(parts)) => Ok(parts),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// Hands envelopes to the registry until the connection ends; why it ended.
async fn listen(
    mut sink: PubSubSink,
    mut stream: PubSubStream,
    registry: &Registry,
) -> &'static str {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    return "connection closed";
                };
                match message.get_payload::<String>() {
                    Ok(payload) => dispatch(registry, &payload),
                    Err(_) => tracing::debug!("a push envelope that is not text was ignored"),
                }
            }
            _ = ping.tick() => {
                let answered = tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>()).await;
                if !matches!(answered, Ok(Ok(_))) {
                    return "ping unanswered";
                }
            }
        }
    }
}

/// Acts on one envelope. Only its shape is logged when it is malformed, never its content.
pub fn dispatch(registry: &Registry, payload: &str) {
    let envelope = match serde_json::from_str::<Envelope>(payload) {
        Ok(envelope) => envelope,
        Err(_) => {
            tracing::debug!(
                bytes = payload.len(),
                "a malformed push envelope was ignored"
            );
            return;
        }
    };
    match envelope {
        Envelope::Frame { users, frame } => match serde_json::to_string(&frame) {
            Ok(text) => registry.deliver(&users, &ByteString::from(text)),
            Err(_) => tracing::debug!("a push frame could not be serialised"),
        },
        Envelope::CloseSessions { sessions } => registry.close_sessions(&sessions),
        Envelope::CloseUsers { users } => registry.close_users(&users),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::registry::Owner;

    #[tokio::test]
    async fn envelopes_from_the_channel_reach_the_registry() {
        let registry = Registry::default();
        let owner = |user: &str, session: &str| Owner {
            user_id: user.into(),
            session_id: session.into(),
            community_id: None,
        };
        let mut mine = registry.register(owner("u1", "s1"));
        let other = registry.register(owner("u2", "s2"));
        dispatch(
            &registry,
            r#"{"op":"frame","users":["u1"],"frame":{"type":"t","data":{"n":1}}}"#,
        );
        assert_eq!(
            mine.frames.try_recv().ok().as_deref(),
            Some(r#"{"type":"t","data":{"n":1}}"#)
        );
        dispatch(&registry, "not an envelope");
        dispatch(&registry, r#"{"op":"close_sessions","sessions":["s1"]}"#);
        assert!(mine.close.is_cancelled() && !other.close.is_cancelled());
        dispatch(&registry, r#"{"op":"close_users","users":["u2"]}"#);
        assert!(other.close.is_cancelled());
        assert_eq!(registry.sizes(), Default::default());
    }
}
