//! Where alerts go: a webhook in one of four shapes (generic JSON, Slack, Discord, ntfy) or a
//! shell command, parsed from `ALERT_WEBHOOK_URL` / `ALERT_COMMAND`, and the request body each
//! shape wants for a [`Notice`].
//!
//! It never shows a secret: a webhook URL's path, query and user info are its credentials
//! (Slack and Discord put a token in the path, an ntfy topic is its own password), so
//! `Display` and `Debug` show only the shape, scheme, host and port; a command shows only its
//! program. It sends nothing itself (that is [`super::deliver`]).

use std::fmt;

use serde_json::{Value, json};
use url::{Host, Url};

use super::notice::{Notice, Phase, Severity};

/// Discord refuses a message whose `content` is longer than this, in characters
/// (<https://discord.com/developers/docs/resources/webhook#execute-webhook>).
const DISCORD_CONTENT_MAX: usize = 2000;
/// ntfy turns a longer message into an attachment
/// (<https://docs.ntfy.sh/publish/#limitations>: "up to 4,096 bytes").
const NTFY_MESSAGE_MAX_BYTES: usize = 4096;

/// One place alerts are delivered to.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    Webhook(Webhook),
    Command(CommandTarget),
}

/// An HTTP endpoint and the body shape it understands.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    url: Url,
    shape: Shape,
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The [`Notice`] as JSON, as is.
    Generic,
    /// A Slack incoming webhook (or Mattermost, Rocket.Chat: they accept Slack's body).
    Slack,
    /// A Discord channel webhook.
    Discord,
    /// An ntfy topic, on ntfy.sh or a server of one's own.
    Ntfy,
}

impl Shape {
    fn as_str(self) -> &'static str {
        match self {
            Shape::Generic => "generic",
            Shape::Slack => "slack",
            Shape::Discord => "discord",
            Shape::Ntfy => "ntfy",
        }
    }
}

/// A command line run with `/bin/sh -c`, the notice's JSON on its standard input.
#[derive(Clone, PartialEq, Eq)]
pub struct CommandTarget {
    line: String,
}

impl CommandTarget {
    /// The command line as configured (it may hold secrets: never log it).
    pub(crate) fn line(&self) -> &str {
        &self.line
    }
}

/// What the config error says is expected of a webhook URL.
const EXPECTED_WEBHOOK: &str = "an https:// webhook URL, optionally prefixed with its shape \
     (slack+, discord+, ntfy+ or generic+); plain http:// only to this machine (127.0.0.1, ::1, \
     localhost), since a webhook URL carries its secret";

impl Target {
    /// An `ALERT_WEBHOOK_URL`: its shape from an explicit prefix (`slack+https://…`) or else
    /// from the host. `Err` is the "expected …" phrase the config error shows.
    pub fn parse_webhook(s: &str) -> Result<Target, String> {
        let s = s.trim();
        let (prefixed, rest) = split_shape_prefix(s);
        let url = Url::parse(rest).map_err(|e| format!("{EXPECTED_WEBHOOK} (not a URL: {e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(format!(
                    "{EXPECTED_WEBHOOK} (plain http:// to another machine would send the secret \
                     in clear text)"
                ));
            }
            other => return Err(format!("{EXPECTED_WEBHOOK} (the scheme is {other:?})")),
        }
        let shape = prefixed.unwrap_or_else(|| recognise(&url));
        if shape == Shape::Ntfy && ntfy_topic(&url).is_none() {
            return Err(
                "an ntfy topic URL such as https://ntfy.sh/mytopic (a topic is 1 to 64 letters, \
                 digits, - or _)"
                    .to_owned(),
            );
        }
        Ok(Target::Webhook(Webhook { url, shape }))
    }

    /// An `ALERT_COMMAND`: any non-empty shell command line.
    pub fn command(s: &str) -> Result<Target, String> {
        let line = s.trim();
        if line.is_empty() {
            return Err("a shell command line, run with /bin/sh -c".to_owned());
        }
        Ok(Target::Command(CommandTarget {
            line: line.to_owned(),
        }))
    }
}

/// `slack+https://…` → (`Some(Slack)`, `https://…`); no known prefix → (`None`, as is).
fn split_shape_prefix(s: &str) -> (Option<Shape>, &str) {
    let Some((prefix, rest)) = s.split_once('+') else {
        return (None, s);
    };
    let shape = match prefix.to_ascii_lowercase().as_str() {
        "generic" => Shape::Generic,
        "slack" => Shape::Slack,
        "discord" => Shape::Discord,
        "ntfy" => Shape::Ntfy,
        _ => return (None, s),
    };
    (Some(shape), rest)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The shape of a URL without a prefix: the services' own hosts, else generic.
fn recognise(url: &Url) -> Shape {
    let host = url.host_str().unwrap_or_default();
    let discord_host = ["discord.com", "discordapp.com"]
        .iter()
        .any(|d| host == *d || host == format!("ptb.{d}") || host == format!("canary.{d}"));
    if host == "hooks.slack.com" {
        Shape::Slack
    } else if discord_host && is_discord_webhook_path(url.path()) {
        Shape::Discord
    } else if host == "ntfy.sh" {
        Shape::Ntfy
    } else {
        Shape::Generic
    }
}

/// `/api/webhooks/{id}/{token}`, or the versioned `/api/v10/webhooks/…`.
fn is_discord_webhook_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/") else {
        return false;
    };
    let rest = match rest.split_once('/') {
        Some((version, after))
            if version.len() > 1
                && version.starts_with('v')
                && version[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            after
        }
        _ => rest,
    };
    rest.starts_with("webhooks/")
}

/// The topic an ntfy URL names: its last path segment, as ntfy's server accepts them
/// (`^[-_A-Za-z0-9]{1,64}$`).
fn ntfy_topic(url: &Url) -> Option<&str> {
    let topic = url.path_segments()?.next_back()?;
    let valid = (1..=64).contains(&topic.len())
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some(topic)
}

impl Webhook {
    /// Where to POST `notice` and the JSON body to send (every shape takes JSON).
    pub(crate) fn request(&self, notice: &Notice) -> (Url, Value) {
        match self.shape {
            Shape::Generic => (self.url.clone(), json!(notice)),
            Shape::Slack => (self.url.clone(), slack_body(notice)),
            Shape::Discord => {
                // Without `wait=true` Discord answers 204 before the message is saved, and "a
                // message that is not saved does not return an error" (Execute Webhook docs).
                let mut url = self.url.clone();
                if !url.query_pairs().any(|(k, _)| k == "wait") {
                    url.query_pairs_mut().append_pair("wait", "true");
                }
                (url, discord_body(notice))
            }
            Shape::Ntfy => {
                // The JSON form goes to the server's root with the topic inside: "you must
                // PUT/POST to the ntfy root URL, not to the topic URL"
                // (https://docs.ntfy.sh/publish/#publish-as-json). JSON rather than `Title:`
                // headers, because a header value must be ASCII-safe and a title may not be.
                let topic = ntfy_topic(&self.url).unwrap_or_default().to_owned();
                let mut root = self.url.clone();
                let path = self.url.path();
                root.set_path(&path[..path.rfind('/').map_or(0, |i| i + 1)]);
                (root, ntfy_body(notice, &topic))
            }
        }
    }

    /// `text` with this webhook's secret parts (path segments, query, password) masked, for an
    /// answer that may echo them (ntfy's answer names the topic).
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let mut secrets: Vec<&str> = self
            .url
            .path_segments()
            .into_iter()
            .flatten()
            .filter(|s| s.len() >= 4)
            .collect();
        secrets.extend(self.url.query());
        secrets.extend(self.url.password());
        // Longest first, so a secret inside another is not masked halfway.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in secrets {
            out = out.replace(secret, "…");
        }
        out
    }
}

/// Headline, detail and action, one per line, the empty ones left out.
fn lines(notice: &Notice, with_headline: bool) -> String {
    let headline = with_headline.then(|| notice.headline());
    let action = (!notice.action.is_empty()).then(|| format!("Action: {}", notice.action));
    [headline, Some(notice.text.clone()), action]
        .into_iter()
        .flatten()
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Slack reads `&`, `<` and `>` as control characters and wants exactly those three escaped
/// as HTML entities, nothing else
/// (<https://api.slack.com/reference/surfaces/formatting#escaping>).
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An incoming webhook's simplest message: `{"text": …}` in mrkdwn
/// (<https://api.slack.com/messaging/webhooks>).
fn slack_body(notice: &Notice) -> Value {
    json!({ "text": slack_escape(&lines(notice, true)) })
}

/// `content` cut to Discord's limit, and no mention parsed: `"parse": []` means an `@everyone`
/// or `<@id>` in an alert's text stays text
/// (<https://discord.com/developers/docs/resources/message#allowed-mentions-object>).
fn discord_body(notice: &Notice) -> Value {
    json!({
        "content": truncate_utf16(&lines(notice, true), DISCORD_CONTENT_MAX),
        "allowed_mentions": { "parse": [] },
    })
}

/// `text` cut to at most `max` UTF-16 code units, ending in `…` when cut. Discord counts
/// characters as its JavaScript clients do; a count of UTF-16 units is never below the count
/// of code points, so the result fits whichever Discord means. Cuts fall on a `char` boundary.
fn truncate_utf16(text: &str, max: usize) -> String {
    if text.encode_utf16().count() <= max {
        return text.to_owned();
    }
    let budget = max - '…'.len_utf16();
    let mut used = 0;
    let mut out = String::new();
    for c in text.chars() {
        used += c.len_utf16();
        if used > budget {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// `text` cut to at most `max` bytes on a `char` boundary, ending in `…` when cut.
fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// ntfy's JSON publish form (<https://docs.ntfy.sh/publish/#publish-as-json>): priority 5
/// "max/urgent", 4 "high", 3 "default" (<https://docs.ntfy.sh/publish/#message-priority>);
/// tags that name an emoji show as that emoji, others as text
/// (<https://docs.ntfy.sh/publish/#tags-emojis>).
fn ntfy_body(notice: &Notice, topic: &str) -> Value {
    let (priority, emoji) = match (notice.status, notice.severity) {
        (Phase::Resolved, _) => (3, "white_check_mark"),
        (_, Severity::Critical) => (5, "rotating_light"),
        (_, Severity::Warning) => (4, "warning"),
        (_, Severity::Info) => (3, "information_source"),
    };
    json!({
        "topic": topic,
        "title": notice.headline(),
        "message": truncate_bytes(&lines(notice, false), NTFY_MESSAGE_MAX_BYTES),
        "priority": priority,
        "tags": [emoji, notice.kind.as_str()],
    })
}

impl fmt::Display for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}://{}",
            self.shape.as_str(),
            self.url.scheme(),
            self.url.host_str().unwrap_or_default()
        )?;
        if let Some(port) = self.url.port() {
            write!(f, ":{port}")?;
        }
        f.write_str("/…")
    }
}

impl fmt::Display for CommandTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Leading `NAME=value` words set the environment and may be secrets: the program is
        // the first word after them.
        let mut words = self.line.split_whitespace();
        let mut hidden = false;
        let program = words.by_ref().find(|w| {
            let assignment = w.split_once('=').is_some_and(|(name, _)| {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
            hidden |= assignment;
            !assignment
        });
        write!(f, "command {}", program.unwrap_or("…"))?;
        if program.is_some() && (hidden || words.next().is_some()) {
            f.write_str(" …")?;
        }
        Ok(())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Webhook(w) => w.fmt(f),
            Target::Command(c) => c.fmt(f),
        }
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Webhook({self})")
    }
}

impl fmt::Debug for CommandTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommandTarget({self})")
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({self})")
    }
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
