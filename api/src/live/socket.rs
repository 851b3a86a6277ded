//! One socket's task: `hello` first, then frames from its queue, `pong` for the client's `ping`,
//! and a close when the client goes quiet, misbehaves, falls behind or loses its login.
use std::time::Duration;

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use bytestring::ByteString;
use serde::Deserialize;
use tokio::time::Instant;

use super::registry::{CloseCause, Registration};

/// Client frames are tiny (`{"type":"ping"}`); anything larger closes the socket.
pub const MAX_CLIENT_FRAME: usize = 4 * 1024;

const PONG: &str = r#"{"type":"pong","data":{}}"#;

#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
}

/// How a socket's life ended, for the close frame and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    ClientClosed,
    Gone,
    Idle,
    Unsupported,
    TooLarge,
    Protocol,
    Server(CloseCause),
}

impl End {
    fn label(self) -> &'static str {
        match self {
            End::ClientClosed => "client_closed",
            End::Gone => "gone",
            End::Idle => "idle",
            End::Unsupported => "binary",
            End::TooLarge => "too_large",
            End::Protocol => "protocol",
            End::Server(cause) => cause.as_str(),
        }
    }

    /// The close frame to send, if the connection is still there to take one.
    fn reason(self) -> Option<CloseReason> {
        let (code, description) = match self {
            End::ClientClosed | End::Gone => return None,
            End::Idle => (CloseCode::Normal, "idle"),
            End::Unsupported => (CloseCode::Unsupported, "text frames only"),
            End::TooLarge => (CloseCode::Size, "frame too large"),
            End::Protocol => (CloseCode::Protocol, "protocol error"),
            End::Server(CloseCause::Overflow) => (CloseCode::Again, "too far behind; catch up"),
            End::Server(CloseCause::Revoked) => (CloseCode::Policy, "login ended"),
            End::Server(CloseCause::Resync) => (CloseCode::Restart, "reconnect"),
        };
        Some(CloseReason {
            code,
            description: Some(description.to_owned()),
        })
    }
}

/// Serves the socket until it ends; its registration is given back on return.
pub async fn run(
    mut session: Session,
    mut stream: AggregatedMessageStream,
    mut registration: Registration,
    hello: ByteString,
    idle: Duration,
) {
    let end = if session.text(hello).await.is_err() {
        End::Gone
    } else {
        serve(&mut session, &mut stream, &mut registration, idle).await
    };
    metrics::counter!("ws_ended_total", "reason" => end.label()).increment(1);
    if end == End::ClientClosed {
        let _ = session.close(None).await;
    } else if let Some(reason) = end.reason() {
        let _ = session.close(Some(reason)).await;
    }
    drop(registration);
}

async fn serve(
    session: &mut Session,
    stream: &mut AggregatedMessageStream,
    registration: &mut Registration,
    idle: Duration,
) -> End {
    let deadline = tokio::time::sleep(idle);
    tokio::pin!(deadline);
    let close = registration.close.clone();
    loop {
        tokio::select! {
            biased;
            _ = close.cancelled() => return server_close(registration),
            _ = &mut deadline => return End::Idle,
            message = stream.recv() => {
                deadline.as_mut().reset(Instant::now() + idle);
                if let Some(end) = answer(session, message).await {
                    return end;
                }
            }
            frame = registration.frames.recv() => {
                let Some(frame) = frame else {
                    return server_close(registration);
                };
                // A client that does not read blocks this send: the close signal still wins.
                tokio::select! {
                    biased;
                    _ = close.cancelled() => return server_close(registration),
                    sent = session.text(frame) => if sent.is_err() {
                        return End::Gone;
                    },
                }
            }
        }
    }
}

fn server_close(registration: &Registration) -> End {
    End::Server(registration.cause().unwrap_or(CloseCause::Revoked))
}

/// Answers one message from the client; `Some` when the socket must end.
async fn answer(
    session: &mut Session,
    message: Option<Result<AggregatedMessage, actix_ws::ProtocolError>>,
) -> Option<End> {
    let message = match message {
        None => return Some(End::Gone),
        Some(Err(actix_ws::ProtocolError::Overflow)) => return Some(End::TooLarge),
        Some(Err(_)) => return Some(End::Protocol),
        Some(Ok(message)) => message,
    };
    let sent = match message {
        AggregatedMessage::Text(text) => {
            if is_ping(&text) {
                session.text(PONG).await
            } else {
                // Nothing else is asked of the server on this socket; other text is ignored.
                Ok(())
            }
        }
        AggregatedMessage::Ping(bytes) => session.pong(&bytes).await,
        AggregatedMessage::Pong(_) => Ok(()),
        AggregatedMessage::Binary(_) => return Some(End::Unsupported),
        AggregatedMessage::Close(_) => return Some(End::ClientClosed),
    };
    sent.err().map(|_| End::Gone)
}

fn is_ping(text: &str) -> bool {
    serde_json::from_str::<ClientFrame>(text).is_ok_and(|frame| frame.kind == "ping")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_ping_frame_is_a_ping() {
        assert!(is_ping(r#"{"type":"ping"}"#));
        assert!(is_ping(r#"{"type":"ping","data":{}}"#));
        assert!(!is_ping(r#"{"type":"pong"}"#));
        assert!(!is_ping("ping"));
        assert!(!is_ping(""));
    }
}
