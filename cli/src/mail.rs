//! `supportzen serve`'s [`Mailer`]: SMTP (`--smtp smtp://host:port`) with lettre's
//! client on tokio, unencrypted and unauthenticated, for a local sink such as
//! `python3 -m aiosmtpd -n -l 127.0.0.1:8025`. Production sends through SES v2 instead
//! (`supportzen_shared::notify::ses`).

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use supportzen_shared::notify::Mailer;

/// An SMTP server on a host and port.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpMailer {
    /// From `smtp://host:port` (port 25 if absent).
    pub fn new(url: &str) -> Result<Self, String> {
        let parsed =
            url::Url::parse(url).map_err(|e| format!("--smtp {url:?} is not a URL: {e}"))?;
        if parsed.scheme() != "smtp" {
            return Err(format!(
                "--smtp {url:?}: only smtp://host:port is supported"
            ));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| format!("--smtp {url:?} has no host"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(parsed.port().unwrap_or(25))
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        Ok(SmtpMailer { transport })
    }
}

impl Mailer for SmtpMailer {
    async fn send(&self, message: &Message) -> Result<(), String> {
        self.transport
            .send(message.clone())
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }
}
