//! ADD's remote sources, fetched with the same HTTP stack the registry client uses (ureq with
//! rustls and the system's roots), so `ADD https://…` works as in docker and a bad certificate
//! or an unreachable host is a clear step error rather than a silent skip.

use std::io::Read;
use std::time::Duration;

/// The largest remote file ADD reads (it is held in memory until the layer is written).
const MAX_BODY: u64 = 1 << 30;

/// Downloads `url`, following redirects; errors say why in words a user can act on.
pub fn fetch(url: &str) -> Result<Vec<u8>, String> {
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(format!(
            "cannot fetch {url}: only http:// and https:// URLs"
        ));
    }
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .max_redirects(10)
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("berth-build/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let fail = |e: ureq::Error| format!("cannot fetch {url}: {e}");
    let resp = agent.get(url).call().map_err(fail)?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(format!("cannot fetch {url}: HTTP status {status}"));
    }
    let mut body = Vec::new();
    resp.into_body()
        .into_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    if body.len() as u64 > MAX_BODY {
        return Err(format!("cannot fetch {url}: larger than {MAX_BODY} bytes"));
    }
    Ok(body)
}

/// The file name an URL downloads to.
pub fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if name.is_empty() || name.contains(':') {
        "index.html".into()
    } else {
        name.into()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// Serves `answers` in order, one connection each, on 127.0.0.1; returns the port.
    fn serve(answers: Vec<String>) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for a in answers {
                let Ok((mut s, _)) = l.accept() else { return };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(a.replace("PORT", &port.to_string()).as_bytes());
            }
        });
        port
    }

    #[test]
    fn redirects_are_followed_and_statuses_reported() {
        let port = serve(vec![
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:PORT/b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".into(),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
        ]);
        assert_eq!(
            fetch(&format!("http://127.0.0.1:{port}/a")).unwrap(),
            b"hello"
        );
        let e = fetch(&format!("http://127.0.0.1:{port}/c")).unwrap_err();
        assert!(e.contains("HTTP status 404"), "{e}");
    }

    #[test]
    fn https_goes_through_tls_and_a_non_tls_peer_is_a_clear_error() {
        let port = serve(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nplain".into(),
        ]);
        let url = format!("https://127.0.0.1:{port}/x");
        let e = fetch(&url).unwrap_err();
        assert!(e.starts_with(&format!("cannot fetch {url}: ")), "{e}");
        assert!(fetch("ftp://example.invalid/x").is_err());
    }

    #[test]
    fn file_names_come_from_the_path() {
        assert_eq!(file_name("http://h/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(file_name("http://h:80"), "index.html");
    }
}
