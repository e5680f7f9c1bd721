//! Registry authentication: the `WWW-Authenticate` challenge (Basic or Bearer), and bearer
//! tokens cached per registry and scope until shortly before they expire.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a registry asked for in its `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// HTTP Basic with the user's credentials on every request.
    Basic,
    /// Token auth: fetch a token from `realm` for `service` and a scope.
    Bearer {
        /// The token server URL.
        realm: String,
        /// The `service` parameter to pass on.
        service: Option<String>,
        /// The scope the registry said it needs, if any.
        scope: Option<String>,
    },
}

/// Parse a `WWW-Authenticate` value; `None` for schemes we do not speak.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(Challenge::Bearer {
        realm: params.get("realm")?.clone(),
        service: params.get("service").cloned(),
        scope: params.get("scope").cloned(),
    })
}

/// `realm="a",service="b"` (quoted strings may hold commas and `\"`).
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => val.extend(chars.next()),
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                val.push(c);
                chars.next();
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), val.trim().to_owned());
    }
    out
}

/// The repository scope a request needs: `repository:NAME:pull` or `…:pull,push`.
pub fn repository_scope(repo: &str, push: bool) -> String {
    if push {
        format!("repository:{repo}:pull,push")
    } else {
        format!("repository:{repo}:pull")
    }
}

/// The JSON a token server answers with.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl TokenResponse {
    pub(crate) fn into_token(self) -> Option<(String, Duration)> {
        let t = if self.token.is_empty() {
            self.access_token
        } else {
            self.token
        };
        // The distribution spec's default lifetime is 60 seconds.
        let life = Duration::from_secs(self.expires_in.unwrap_or(60).max(60));
        (!t.is_empty()).then_some((t, life))
    }
}

/// Tokens by (registry host, scope), and the challenge each registry gave.
#[derive(Debug, Default)]
pub(crate) struct AuthCache {
    challenges: Mutex<HashMap<String, Challenge>>,
    tokens: Mutex<HashMap<(String, String), (String, Instant)>>,
}

impl AuthCache {
    pub(crate) fn challenge(&self, host: &str) -> Option<Challenge> {
        self.challenges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(host)
            .cloned()
    }

    pub(crate) fn set_challenge(&self, host: &str, c: Challenge) {
        self.challenges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(host.to_owned(), c);
    }

    /// A cached token still valid for at least ten more seconds.
    pub(crate) fn token(&self, host: &str, scope: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let (t, until) = tokens.get(&(host.to_owned(), scope.to_owned()))?;
        (Instant::now() + Duration::from_secs(10) < *until).then(|| t.clone())
    }

    pub(crate) fn set_token(&self, host: &str, scope: &str, token: String, life: Duration) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                (host.to_owned(), scope.to_owned()),
                (token, Instant::now() + life),
            );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(
            parse_challenge(r#"bearer realm="http://a/t?x=1,2", service=reg"#),
            Some(Challenge::Bearer {
                realm: "http://a/t?x=1,2".into(),
                service: Some("reg".into()),
                scope: None,
            })
        );
    }

    #[test]
    fn tokens_expire_and_are_scoped() {
        let c = AuthCache::default();
        c.set_token(
            "h",
            "repository:a:pull",
            "t".into(),
            Duration::from_secs(60),
        );
        assert_eq!(c.token("h", "repository:a:pull").as_deref(), Some("t"));
        assert_eq!(c.token("h", "repository:b:pull"), None);
        c.set_token("h", "s", "old".into(), Duration::from_secs(5));
        assert_eq!(c.token("h", "s"), None);
    }
}
