//! Credentials as docker keeps them: the `auths` map of `config.json`
//! (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`), and the base64url JSON of the
//! `X-Registry-Auth` header the CLI sends to the daemon.
//!
//! The file is read as a JSON document and only `auths` is touched, so settings other tools
//! keep there (`credsStore`, `proxies`, ...) survive a `login`/`logout`.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The key Docker Hub credentials are stored under (docker's `IndexServer`).
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// Errors reading or writing the credentials file.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The file could not be read or written.
    #[error("credentials file {path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not the JSON docker writes.
    #[error("credentials file {path} is not valid: {message}")]
    Invalid {
        /// Which file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An `X-Registry-Auth` value that is not base64 JSON.
    #[error("invalid X-Registry-Auth header: {0}")]
    BadHeader(String),
    /// Neither `$DOCKER_CONFIG` nor `$HOME` is set.
    #[error("cannot find the credentials file: neither DOCKER_CONFIG nor HOME is set")]
    NoHome,
}

/// A user name and password (or identity token) for one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    /// User name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Password or access token.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// The registry these are for, as given to `login`.
    #[serde(
        default,
        rename = "serveraddress",
        skip_serializing_if = "String::is_empty"
    )]
    pub server_address: String,
    /// An OAuth refresh token (`docker login` against token servers that issue one).
    #[serde(
        default,
        rename = "identitytoken",
        skip_serializing_if = "String::is_empty"
    )]
    pub identity_token: String,
}

impl AuthConfig {
    /// Whether this carries no credentials at all (anonymous access).
    pub fn is_anonymous(&self) -> bool {
        self.username.is_empty() && self.password.is_empty() && self.identity_token.is_empty()
    }

    /// Encode as the `X-Registry-Auth` header value (base64url of the JSON, as docker does).
    pub fn to_header(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE.encode(json)
    }

    /// Decode an `X-Registry-Auth` header (base64url or standard, padded or not). An empty
    /// value or `{}` means anonymous.
    pub fn from_header(value: &str) -> Result<Self, CredentialsError> {
        let v = value.trim();
        if v.is_empty() {
            return Ok(AuthConfig::default());
        }
        let raw = URL_SAFE
            .decode(v)
            .or_else(|_| URL_SAFE_NO_PAD.decode(v))
            .or_else(|_| STANDARD.decode(v))
            .map_err(|e| CredentialsError::BadHeader(e.to_string()))?;
        serde_json::from_slice(&raw).map_err(|e| CredentialsError::BadHeader(e.to_string()))
    }
}

/// The key for `server` in `auths`: Docker Hub's well-known URL, else the bare host[:port].
pub fn auth_key(server: &str) -> String {
    let host = normalize_server(server);
    if matches!(
        host.as_str(),
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        DOCKER_HUB_AUTH_KEY.to_owned()
    } else {
        host
    }
}

/// `https://host:5000/v2/` → `host:5000`.
fn normalize_server(server: &str) -> String {
    let s = server
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    s.split('/').next().unwrap_or(s).to_ascii_lowercase()
}

/// Where docker keeps `config.json`: `$DOCKER_CONFIG/config.json`, else
/// `$HOME/.docker/config.json`.
pub fn default_path() -> Result<PathBuf, CredentialsError> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("config.json"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or(CredentialsError::NoHome)?;
    Ok(PathBuf::from(home).join(".docker").join("config.json"))
}

/// A loaded `config.json`.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    doc: Map<String, Value>,
}

impl ConfigFile {
    /// Load `path`; a missing file is an empty document.
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, CredentialsError> {
        let path = path.into();
        let doc = match fs::read(&path) {
            Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(b) => match serde_json::from_slice::<Value>(&b) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(CredentialsError::Invalid {
                        path,
                        message: "not a JSON object".into(),
                    })
                }
                Err(e) => {
                    return Err(CredentialsError::Invalid {
                        path,
                        message: e.to_string(),
                    })
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Map::new(),
            Err(source) => return Err(CredentialsError::Io { path, source }),
        };
        Ok(ConfigFile { path, doc })
    }

    /// Load the default file (see [`default_path`]).
    pub fn load_default() -> Result<Self, CredentialsError> {
        Self::load(default_path()?)
    }

    /// The file this was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.doc.get("auths").and_then(Value::as_object)
    }

    /// Stored credentials for `server` (any spelling docker accepts: `host`, `https://host`,
    /// `https://host/v1/`), or `None`.
    pub fn get(&self, server: &str) -> Option<AuthConfig> {
        let want = auth_key(server);
        let auths = self.auths()?;
        let entry = auths
            .get(&want)
            .or_else(|| auths.iter().find(|(k, _)| auth_key(k) == want).map(|e| e.1))?;
        let mut out = AuthConfig {
            server_address: want,
            ..AuthConfig::default()
        };
        if let Some(b64) = entry.get("auth").and_then(Value::as_str) {
            let raw = STANDARD.decode(b64.trim()).ok()?;
            let text = String::from_utf8(raw).ok()?;
            let (u, p) = text.split_once(':')?;
            out.username = u.to_owned();
            out.password = p.to_owned();
        }
        if let Some(t) = entry.get("identitytoken").and_then(Value::as_str) {
            out.identity_token = t.to_owned();
        }
        (!out.is_anonymous()).then_some(out)
    }

    /// Remember credentials for `server` (replacing any spelling of the same key).
    pub fn set(&mut self, server: &str, auth: &AuthConfig) {
        let key = auth_key(server);
        self.remove(server);
        let mut entry = Map::new();
        entry.insert(
            "auth".into(),
            Value::String(STANDARD.encode(format!("{}:{}", auth.username, auth.password))),
        );
        if !auth.identity_token.is_empty() {
            entry.insert(
                "identitytoken".into(),
                Value::String(auth.identity_token.clone()),
            );
        }
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Value::Object(m) = auths {
            m.insert(key, Value::Object(entry));
        }
    }

    /// Forget `server`; returns whether anything was stored.
    pub fn remove(&mut self, server: &str) -> bool {
        let want = auth_key(server);
        let Some(Value::Object(auths)) = self.doc.get_mut("auths") else {
            return false;
        };
        let keys: Vec<String> = auths
            .keys()
            .filter(|k| auth_key(k) == want)
            .cloned()
            .collect();
        for k in &keys {
            auths.remove(k);
        }
        !keys.is_empty()
    }

    /// Write the file back (mode 0600, replaced atomically, directory created if needed).
    pub fn save(&self) -> Result<(), CredentialsError> {
        let io_err = |source| CredentialsError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(io_err)?;
        }
        let tmp = self
            .path
            .with_extension(format!("json.{}", std::process::id()));
        let body = serde_json::to_vec_pretty(&Value::Object(self.doc.clone()))
            .map_err(|e| io_err(io::Error::other(e)))?;
        let write = || -> io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&body)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(e)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_normalize_like_docker() {
        assert_eq!(auth_key("docker.io"), DOCKER_HUB_AUTH_KEY);
        assert_eq!(auth_key("https://index.docker.io/v1/"), DOCKER_HUB_AUTH_KEY);
        assert_eq!(auth_key("https://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
        assert_eq!(auth_key("Registry.Example.com"), "registry.example.com");
    }

    #[test]
    fn set_get_remove_roundtrip_keeps_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        fs::write(
            &p,
            r#"{"auths":{"https://other:1/":{"auth":"eDp5"}},"credsStore":"pass"}"#,
        )
        .unwrap();
        let mut c = ConfigFile::load(&p).unwrap();
        assert_eq!(c.get("other:1").unwrap().username, "x");
        let a = AuthConfig {
            username: "u".into(),
            password: "p:w".into(),
            ..Default::default()
        };
        c.set("127.0.0.1:5000", &a);
        c.save().unwrap();
        let c2 = ConfigFile::load(&p).unwrap();
        let got = c2.get("http://127.0.0.1:5000").unwrap();
        assert_eq!((got.username.as_str(), got.password.as_str()), ("u", "p:w"));
        let raw: Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        assert_eq!(raw["credsStore"], "pass");
        let mut c3 = c2.clone();
        assert!(c3.remove("127.0.0.1:5000"));
        assert!(!c3.remove("127.0.0.1:5000"));
        assert!(c3.get("127.0.0.1:5000").is_none());
    }

    #[test]
    fn header_roundtrip_and_anonymous() {
        let a = AuthConfig {
            username: "u".into(),
            password: "p".into(),
            server_address: "h".into(),
            ..Default::default()
        };
        assert_eq!(AuthConfig::from_header(&a.to_header()).unwrap(), a);
        assert!(AuthConfig::from_header("").unwrap().is_anonymous());
        assert!(AuthConfig::from_header("e30=").unwrap().is_anonymous());
        assert!(AuthConfig::from_header("!!").is_err());
    }
}
