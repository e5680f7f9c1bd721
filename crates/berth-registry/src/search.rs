//! `search`: the v1 search API of Docker Hub's index (`index.docker.io/v1/search`), or of the
//! registry named in the term (`host:5000/term`), which is what docker searches.

use serde::{Deserialize, Serialize};

use crate::client::{net_error, status_error, Client, MAX_DOCUMENT};
use crate::endpoint::{is_insecure, Endpoint, DOCKER_HUB_INDEX};
use crate::error::RegistryError;

/// One search hit, in the shape of docker's `GET /images/search` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    /// Repository name.
    #[serde(default)]
    pub name: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Stars on Docker Hub.
    #[serde(default)]
    pub star_count: u64,
    /// Docker official image.
    #[serde(default)]
    pub is_official: bool,
    /// Automated build (deprecated by Docker Hub, always false there now).
    #[serde(default)]
    pub is_automated: bool,
}

#[derive(Debug, Deserialize)]
struct SearchDoc {
    #[serde(default)]
    results: Vec<SearchResult>,
}

/// Where a search term goes: `(endpoint, term without the registry)`.
pub fn search_target(term: &str, client: &Client) -> (Endpoint, String) {
    if let Some((first, rest)) = term.split_once('/') {
        if first.contains('.') || first.contains(':') || first == "localhost" {
            let scheme = if is_insecure(first, client.options()) {
                "http"
            } else {
                "https"
            };
            let ep = Endpoint {
                scheme,
                host: first.to_owned(),
                mirror: false,
            };
            return (ep, rest.to_owned());
        }
    }
    let ep = Endpoint {
        scheme: "https",
        host: DOCKER_HUB_INDEX.to_owned(),
        mirror: false,
    };
    (ep, term.to_owned())
}

/// Search for `term`, at most `limit` results (1..=100, as docker allows).
pub fn search(client: &Client, term: &str, limit: u32) -> Result<Vec<SearchResult>, RegistryError> {
    let (ep, q) = search_target(term, client);
    let mut resp = client
        .agent()
        .get(format!("{}/v1/search", ep.base()))
        .query("q", &q)
        .query("n", limit.clamp(1, 100).to_string())
        .call()
        .map_err(|e| net_error(&ep.host, e))?;
    if !resp.status().is_success() {
        return Err(status_error(&ep, resp, term));
    }
    let raw = resp
        .body_mut()
        .with_config()
        .limit(MAX_DOCUMENT)
        .read_to_vec()
        .map_err(|e| net_error(&ep.host, e))?;
    let doc: SearchDoc = serde_json::from_slice(&raw)
        .map_err(|e| RegistryError::Protocol(format!("search answer from {}: {e}", ep.host)))?;
    let mut results = doc.results;
    results.truncate(limit.clamp(1, 100) as usize);
    Ok(results)
}
