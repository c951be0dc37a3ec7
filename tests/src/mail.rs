//! A small SMTP server on a loopback port, on threads (these tests have no async
//! runtime): it accepts every message and keeps it, for a test to read the links
//! the server emails (dashboard invitations, password resets).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One message received: who it was for, and its data (dot-unstuffed).
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

impl Mail {
    /// The data with quoted-printable soft line breaks and `=3D` undone: enough to
    /// find a link in either a 7bit or a quoted-printable part.
    pub fn text(&self) -> String {
        self.data.replace("=\r\n", "").replace("=3D", "=")
    }

    /// The token after `marker` (`/dashboard/accept#`): letters, digits and `_`.
    pub fn token_after(&self, marker: &str) -> Option<String> {
        let text = self.text();
        let rest = &text[text.find(marker)? + marker.len()..];
        Some(rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
    }
}

pub struct SmtpServer {
    pub port: u16,
    received: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP");
        let port = listener.local_addr().unwrap().port();
        let received: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let kept = received.clone();
        std::thread::spawn(move || {
            for socket in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || {
                    let _ = serve(socket, &kept);
                });
            }
        });
        SmtpServer { port, received }
    }

    /// `DOTS_SMTP_URL` for a server that sends here.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The first message to `to` whose data holds `marker`, waiting up to 20 s.
    pub fn wait_for(&self, to: &str, marker: &str) -> Mail {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self
                .received
                .lock()
                .unwrap()
                .iter()
                .find(|m| m.to.iter().any(|t| t == to) && m.text().contains(marker))
                .cloned();
            if let Some(mail) = found {
                return mail;
            }
            assert!(Instant::now() < deadline, "no email to {to} with {marker} arrived");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve(socket: std::net::TcpStream, kept: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
    let mut write = socket.try_clone()?;
    let mut lines = BufReader::new(socket);
    write.write_all(b"220 dots-test ESMTP\r\n")?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let answer: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 dots-test\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim_matches(['<', '>', ' ']).to_string());
            b"250 OK\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            kept.lock().unwrap().push(Mail { to: std::mem::take(&mut to), data });
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n")?;
            return Ok(());
        } else {
            b"250 OK\r\n"
        };
        write.write_all(answer)?;
    }
}
