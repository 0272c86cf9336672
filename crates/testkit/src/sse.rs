//! A reader of server-sent events over a reqwest response: each message's id, event name
//! and data, as a browser's EventSource would see them.

use std::time::Duration;

/// One message of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: Option<String>,
    /// `message` when the server named none.
    pub event: String,
    pub data: String,
}

impl Message {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).expect("JSON data")
    }
}

/// Reads messages from a `text/event-stream` response.
#[derive(Debug)]
pub struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    pub fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().expect("type");
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next message (comments and keep-alives skipped); `None` when the stream ended.
    pub async fn next(&mut self, within: Duration) -> Option<Message> {
        loop {
            if let Some(message) = self.take_message() {
                return Some(message);
            }
            let chunk = tokio::time::timeout(within, self.response.chunk())
                .await
                .expect("no message in time")
                .expect("read the stream")?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Messages until the stream ends.
    pub async fn rest(&mut self, within: Duration) -> Vec<Message> {
        let mut all = Vec::new();
        while let Some(message) = self.next(within).await {
            all.push(message);
        }
        all
    }

    fn take_message(&mut self) -> Option<Message> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut message = Message {
                id: None,
                event: "message".into(),
                data: String::new(),
            };
            let mut has_data = false;
            for line in block.lines() {
                if let Some(id) = line.strip_prefix("id:") {
                    message.id = Some(id.trim().to_owned());
                } else if let Some(event) = line.strip_prefix("event:") {
                    message.event = event.trim().to_owned();
                } else if let Some(data) = line.strip_prefix("data:") {
                    if has_data {
                        message.data.push('\n');
                    }
                    message
                        .data
                        .push_str(data.strip_prefix(' ').unwrap_or(data));
                    has_data = true;
                }
            }
            if has_data {
                return Some(message);
            }
        }
    }
}
