//! Registries: pull, push, login and search with `berth-registry` over the engine's image
//! store. Credentials come with each call (the CLI sends them, as docker's does); registry
//! settings are daemon-wide (`EngineConfig::registry`, kept by the images service).

use berth_image::platform::Platform;
use berth_image::Reference;
use berth_registry::endpoint::endpoints;
use berth_registry::{Client, PullOptions};

pub use berth_registry::{AuthConfig, Progress, RegistryOptions, SearchResult};

use crate::error::{EngineError, Result};
use crate::Images;

/// Insecure registries and Docker Hub mirrors from `BERTH_INSECURE_REGISTRIES` /
/// `BERTH_REGISTRY_MIRRORS` (comma-separated), else none: the default of
/// [`EngineConfig::registry`](crate::EngineConfig), which berthd replaces with its flags and
/// daemon.json when they name any.
pub fn registry_options_from_env() -> RegistryOptions {
    let list = |var: &str| -> Vec<String> {
        std::env::var(var)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    RegistryOptions {
        insecure: list("BERTH_INSECURE_REGISTRIES"),
        mirrors: list("BERTH_REGISTRY_MIRRORS"),
    }
}

fn parse_ref(name: &str) -> Result<Reference> {
    Reference::parse(name).map_err(|e| EngineError::InvalidParameter(e.to_string()))
}

fn registry_err(e: berth_registry::RegistryError) -> EngineError {
    EngineError::Registry(e)
}

/// Where progress messages go while a pull or push runs.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Sync);

impl Images {
    /// `docker pull`: fetch `name` (`repo[:tag|@digest]`; with `all_tags`, every tag of the
    /// repository) for `platform` (default: the host's) and record it in the image store.
    /// Returns the references pulled.
    pub fn pull(
        &self,
        name: &str,
        platform: Option<&str>,
        all_tags: bool,
        auth: &AuthConfig,
        progress: ProgressFn<'_>,
    ) -> Result<Vec<String>> {
        let platform = match platform.filter(|p| !p.is_empty()) {
            Some(p) => Some(
                p.parse::<Platform>()
                    .map_err(|e| EngineError::InvalidParameter(e.to_string()))?,
            ),
            None => None,
        };
        let opts = PullOptions {
            platform,
            ..PullOptions::default()
        };
        let client = Client::new(self.registry.clone(), auth.clone());
        let refs = if all_tags {
            let base = Reference::parse_normalized_named(name)
                .map_err(|e| EngineError::InvalidParameter(e.to_string()))?;
            if base.tag().is_some() || base.digest().is_some() {
                return Err(EngineError::InvalidParameter(
                    "tag can't be used with --all-tags/-a".into(),
                ));
            }
            let ep = endpoints(base.domain(), client.options())
                .pop()
                .ok_or_else(|| EngineError::Internal("no registry endpoint".into()))?;
            let mut tags = client.list_tags(&ep, base.path()).map_err(registry_err)?;
            tags.sort();
            tags.into_iter()
                .map(|t| {
                    base.with_tag(&t)
                        .map_err(|e| EngineError::InvalidParameter(e.to_string()))
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            vec![parse_ref(name)?]
        };
        let mut done = Vec::new();
        for r in refs {
            let pulled = berth_registry::pull(&client, &self.store, &r, &opts, progress)
                .map_err(registry_err)?;
            let _ = pulled;
            self.events
                .emit("image", "pull", &r.familiar(), &[("name", &r.familiar())]);
            done.push(r.familiar());
        }
        Ok(done)
    }

    /// `docker push`: upload the local image `name` to its registry.
    pub fn push(&self, name: &str, auth: &AuthConfig, progress: ProgressFn<'_>) -> Result<String> {
        let r = parse_ref(name)?;
        let client = Client::new(self.registry.clone(), auth.clone());
        let pushed =
            berth_registry::push(&client, &self.store, &r, progress).map_err(registry_err)?;
        self.events
            .emit("image", "push", &r.familiar(), &[("name", &r.familiar())]);
        Ok(pushed.digest.to_string())
    }

    /// `POST /auth`: check credentials against `auth.server_address` (default Docker Hub).
    pub fn login(&self, auth: &AuthConfig) -> Result<()> {
        let server = if auth.server_address.is_empty() {
            "docker.io".to_owned()
        } else {
            berth_registry::credentials::auth_key(&auth.server_address)
        };
        let domain = if server == berth_registry::credentials::DOCKER_HUB_AUTH_KEY {
            "docker.io"
        } else {
            server.as_str()
        };
        let client = Client::new(self.registry.clone(), auth.clone());
        let ep = endpoints(domain, client.options())
            .pop()
            .ok_or_else(|| EngineError::Internal("no registry endpoint".into()))?;
        client.check_login(&ep).map_err(registry_err)
    }

    /// `GET /images/search`.
    pub fn search(&self, term: &str, limit: u32, auth: &AuthConfig) -> Result<Vec<SearchResult>> {
        let client = Client::new(self.registry.clone(), auth.clone());
        berth_registry::search(&client, term, limit).map_err(registry_err)
    }
}
