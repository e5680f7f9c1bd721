//! The HTTP side: one connection-pooling agent (rustls with the system's roots, redirects
//! followed, auth headers kept only on the same host), requests that answer a 401 challenge
//! once with Basic credentials or a bearer token, and registry error bodies turned into
//! [`RegistryError`]s.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ureq::http::{Method, Request, Response};
use ureq::{AsSendBody, Body};

use crate::auth::{parse_challenge, AuthCache, Challenge, TokenResponse};
use crate::credentials::AuthConfig;
use crate::endpoint::{Endpoint, RegistryOptions};
use crate::error::RegistryError;

/// A registry client for one user's credentials. Cheap to share across threads; tokens are
/// cached per registry and repository scope and reused until they expire.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    opts: RegistryOptions,
    auth: AuthConfig,
    cache: AuthCache,
}

/// The largest manifest, config or JSON document we read into memory.
pub(crate) const MAX_DOCUMENT: u64 = 16 << 20;

impl Client {
    /// A client using `auth` (anonymous when empty) and the daemon's registry settings.
    pub fn new(opts: RegistryOptions, auth: AuthConfig) -> Self {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .max_redirects(10)
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .max_idle_connections_per_host(16)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .input_buffer_size(256 * 1024)
            .build()
            .into();
        Client {
            agent,
            opts,
            auth,
            cache: AuthCache::default(),
        }
    }

    /// The registry settings in use.
    pub fn options(&self) -> &RegistryOptions {
        &self.opts
    }

    /// The credentials in use (empty when anonymous).
    pub fn auth_config(&self) -> &AuthConfig {
        &self.auth
    }

    /// Send a request, answering one 401 challenge. `body` is called once per attempt.
    pub(crate) fn call<B: AsSendBody>(
        &self,
        ep: &Endpoint,
        scope: Option<&str>,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        mut body: impl FnMut() -> Result<B, RegistryError>,
    ) -> Result<Response<Body>, RegistryError> {
        let resp = self.send(ep, scope, method.clone(), url, headers, body()?, false)?;
        if resp.status() != 401 {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge);
        match challenge {
            Some(c) => {
                self.cache.set_challenge(&ep.host, c);
                self.send(ep, scope, method, url, headers, body()?, true)
            }
            None => Ok(resp),
        }
    }

    /// Send a request once with whatever auth is already known (for streamed bodies, which
    /// cannot be replayed; make a [`call`](Self::call) to the same scope first).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send<B: AsSendBody>(
        &self,
        ep: &Endpoint,
        scope: Option<&str>,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: B,
        fresh: bool,
    ) -> Result<Response<Body>, RegistryError> {
        let authz = self.authorization(ep, scope, fresh)?;
        let mut rb = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(a) = &authz {
            rb = rb.header("Authorization", a.as_str());
        }
        let req = rb
            .body(body)
            .map_err(|e| RegistryError::Protocol(format!("bad request for {url}: {e}")))?;
        self.agent.run(req).map_err(|e| net_error(&ep.host, e))
    }

    /// The `Authorization` value for a request to `ep`, fetching a token if the registry
    /// uses token auth and none is cached (or `fresh`).
    fn authorization(
        &self,
        ep: &Endpoint,
        scope: Option<&str>,
        fresh: bool,
    ) -> Result<Option<String>, RegistryError> {
        match self.cache.challenge(&ep.host) {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.basic()),
            Some(Challenge::Bearer {
                realm,
                service,
                scope: asked,
            }) => {
                let scope = scope.map(str::to_owned).or(asked).unwrap_or_default();
                if !fresh {
                    if let Some(t) = self.cache.token(&ep.host, &scope) {
                        return Ok(Some(format!("Bearer {t}")));
                    }
                }
                let (token, life) = self.fetch_token(&realm, service.as_deref(), &scope)?;
                self.cache.set_token(&ep.host, &scope, token.clone(), life);
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    fn basic(&self) -> Option<String> {
        (!self.auth.username.is_empty() || !self.auth.password.is_empty()).then(|| {
            let pair = format!("{}:{}", self.auth.username, self.auth.password);
            format!("Basic {}", STANDARD.encode(pair))
        })
    }

    /// Ask the token server for a token (with Basic credentials when we have them, or the
    /// OAuth2 refresh-token grant when `login` stored an identity token).
    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<(String, Duration), RegistryError> {
        let host = realm_host(realm);
        let resp = if !self.auth.identity_token.is_empty() {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", self.auth.identity_token.as_str()),
                ("client_id", "berth"),
            ];
            if let Some(s) = service {
                form.push(("service", s));
            }
            if !scope.is_empty() {
                form.push(("scope", scope));
            }
            self.agent.post(realm).send_form(form)
        } else {
            let mut rb = self.agent.get(realm);
            if let Some(s) = service {
                rb = rb.query("service", s);
            }
            // Several scopes (a push that mounts from other repositories) are separate
            // `scope` parameters.
            for s in scope.split_whitespace() {
                rb = rb.query("scope", s);
            }
            if let Some(b) = self.basic() {
                rb = rb.header("Authorization", b.as_str());
            }
            rb.call()
        };
        let mut resp = resp.map_err(|e| net_error(&host, e))?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 => {
                return Err(RegistryError::Unauthorized(
                    "incorrect username or password".into(),
                ))
            }
            s => {
                return Err(RegistryError::Status {
                    host,
                    status: s,
                    message: "token request failed".into(),
                })
            }
        }
        let raw = resp
            .body_mut()
            .with_config()
            .limit(MAX_DOCUMENT)
            .read_to_vec()
            .map_err(|e| net_error(&host, e))?;
        let tr: TokenResponse = serde_json::from_slice(&raw)
            .map_err(|e| RegistryError::Protocol(format!("token response from {host}: {e}")))?;
        tr.into_token()
            .ok_or_else(|| RegistryError::Protocol(format!("token server {host} sent no token")))
    }

    /// `GET /v2/` with our credentials: what `login` checks. Ok when the registry accepts them
    /// (or needs none).
    pub fn check_login(&self, ep: &Endpoint) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", ep.base());
        let resp = self.call(ep, None, Method::GET, &url, &[], || Ok(()))?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            401 if self.auth.is_anonymous() => Err(RegistryError::Unauthorized(
                "authentication required".into(),
            )),
            401 | 403 => Err(RegistryError::Unauthorized(
                "incorrect username or password".into(),
            )),
            _ => Err(status_error(ep, resp, "/v2/")),
        }
    }

    /// The underlying agent (for requests outside the `/v2/` API, like search).
    pub(crate) fn agent(&self) -> &ureq::Agent {
        &self.agent
    }
}

fn realm_host(realm: &str) -> String {
    let s = realm.split_once("://").map_or(realm, |(_, r)| r);
    s.split('/').next().unwrap_or(s).to_owned()
}

/// A transport error as the user should see it.
pub(crate) fn net_error(host: &str, e: ureq::Error) -> RegistryError {
    let message = e.to_string();
    let tls = matches!(e, ureq::Error::Tls(_) | ureq::Error::Rustls(_))
        || message.to_ascii_lowercase().contains("certificate");
    match e {
        _ if tls => RegistryError::Tls {
            host: host.to_owned(),
            message,
        },
        ureq::Error::Io(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::Timeout(_) => RegistryError::Unreachable {
            host: host.to_owned(),
            message,
        },
        _ => RegistryError::Protocol(format!("{host}: {message}")),
    }
}

/// The registry's error document (`{"errors":[{"code","message"}]}`).
#[derive(Debug, Default, serde::Deserialize)]
struct ErrorDoc {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, serde::Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Turn a non-success response into an error; `what` names the thing asked for
/// (`repo:tag`, a digest) for docker's messages.
pub(crate) fn status_error(ep: &Endpoint, mut resp: Response<Body>, what: &str) -> RegistryError {
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let doc: ErrorDoc = serde_json::from_str(&text).unwrap_or_default();
    let first = doc.errors.first();
    let code = first.map_or("", |e| e.code.as_str());
    let message = first.map_or_else(|| text.trim().to_owned(), |e| e.message.clone());
    match (status, code) {
        (_, "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN") | (404, _) => {
            RegistryError::ManifestUnknown(what.to_owned())
        }
        (_, "NAME_UNKNOWN") => RegistryError::AccessDenied(what.to_owned()),
        (401, _) | (_, "UNAUTHORIZED") => RegistryError::Unauthorized(if message.is_empty() {
            "authentication required".into()
        } else {
            message
        }),
        (403, _) | (_, "DENIED") => RegistryError::Denied(if message.is_empty() {
            "requested access to the resource is denied".into()
        } else {
            message
        }),
        _ => RegistryError::Status {
            host: ep.host.clone(),
            status,
            message: if message.is_empty() {
                format!("for {what}")
            } else {
                message
            },
        },
    }
}
