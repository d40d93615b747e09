//! `supportzen listen`: opens the local server's realtime socket with a ticket and prints
//! each event as one JSON line, to watch what a client app or an agent's console would
//! receive.

use futures_util::StreamExt;
use std::io::Write;
use tokio_tungstenite::tungstenite::{Error, Message};

/// Prints the events the socket at `server` (`http://host:port`) delivers for `ticket`,
/// until the server closes it or `count` events have been printed.
pub async fn listen(server: &str, ticket: &str, count: Option<u64>) -> Result<(), String> {
    let base = server.trim_end_matches('/');
    let url = match base.split_once("://") {
        Some(("http", rest)) => format!("ws://{rest}/ws?ticket={ticket}"),
        _ => return Err(format!("--server {server:?} must be http://HOST:PORT")),
    };
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|err| match err {
            Error::Http(response) => format!(
                "the server refused the socket ({}): {}",
                response.status(),
                String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
            ),
            Error::Io(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => format!(
                "nothing is listening at {base}: is `supportzen serve` running there? (--server chooses another address)"
            ),
            other => format!("cannot open the socket at {base}: {other}"),
        })?;
    // Scripts wait for this line on stderr: from here on, every new event is printed.
    eprintln!("listening");
    let mut printed = 0u64;
    while count.is_none_or(|count| printed < count) {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{text}")
                    .and_then(|()| stdout.flush())
                    .map_err(|e| format!("cannot write: {e}"))?;
                printed += 1;
            }
            Some(Ok(Message::Close(frame))) => {
                let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                return Err(format!("the server closed the socket {reason}"));
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(format!("the socket failed: {err}")),
            None => return Err("the server closed the socket".into()),
        }
    }
    let _ = socket.close(None).await;
    Ok(())
}
