//! HTTP spoken byte by byte over a plain TCP socket: what a slow, silent or
//! malformed client does, which an HTTP client library will not do.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A connection to `addr` whose reads give up after `read_timeout`.
pub fn connect(addr: &str, read_timeout: Duration) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(read_timeout))
        .expect("read timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Whether the server has closed `stream`: a read returns end of file or a
/// reset (after discarding whatever it still sent), rather than timing out.
pub fn is_closed(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Waits up to `limit` for the server to close `stream`; the time it took.
pub fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    while started.elapsed() < limit {
        if is_closed(stream) {
            return Some(started.elapsed());
        }
    }
    None
}

/// One HTTP/1.1 response, read from `stream`: its status and body. Reads to
/// the end of the headers, then `Content-Length` bytes (or to the close).
pub fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    let header_end = loop {
        if let Some(end) = find(&received, b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return None,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    };
    let head = String::from_utf8_lossy(&received[..header_end]).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    let mut body = received[header_end..].to_vec();
    while length.is_none_or(|length| body.len() < length) {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buffer[..n]),
        }
    }
    Some((status, String::from_utf8_lossy(&body).to_string()))
}

/// Sends `request` whole on a new connection and reads the answer.
pub fn exchange(addr: &str, request: &[u8], limit: Duration) -> Option<(u16, String)> {
    let mut stream = connect(addr, limit);
    stream.write_all(request).ok()?;
    read_response(&mut stream)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The client connection preface of cleartext HTTP/2 (RFC 9113 3.4) and an
/// empty SETTINGS frame.
pub const H2C_PREFACE: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Reads HTTP/2 frames from `stream` until one of `frame_type` arrives (its
/// payload) or the connection ends or times out.
pub fn read_h2_frame(stream: &mut TcpStream, frame_type: u8) -> Option<Vec<u8>> {
    loop {
        let mut header = [0u8; 9];
        stream.read_exact(&mut header).ok()?;
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).ok()?;
        if header[3] == frame_type {
            return Some(payload);
        }
    }
}

pub const H2_SETTINGS: u8 = 0x4;
pub const H2_GOAWAY: u8 = 0x7;
