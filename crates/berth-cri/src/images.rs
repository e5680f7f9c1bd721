//! CRI `ImageService`: images of the engine's store as kubelet sees them. Names are shown
//! fully qualified (`docker.io/library/busybox:latest`), as containerd shows them, while the
//! store keeps one set of tags for both APIs.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use berth_engine::registry::AuthConfig as EngineAuth;
use berth_engine::ImageInspect;
use berth_image::Reference;
use tonic::{Request, Response, Status};

use crate::engine_calls::EngineCalls;
use crate::error::CriError;
use crate::proto::image_service_server::ImageService;
use crate::proto::{
    AuthConfig, FilesystemIdentifier, FilesystemUsage, Image, ImageFsInfoRequest,
    ImageFsInfoResponse, ImageSpec, ImageStatusRequest, ImageStatusResponse, Int64Value,
    ListImagesRequest, ListImagesResponse, PullImageRequest, PullImageResponse, RemoveImageRequest,
    RemoveImageResponse, UInt64Value,
};

/// The CRI image service over the engine's image store.
pub struct Images {
    engine: EngineCalls,
}

impl Images {
    /// The service over `engine`.
    pub fn new(engine: EngineCalls) -> Self {
        Images { engine }
    }
}

/// `busybox:latest` as `docker.io/library/busybox:latest` (and `name@digest` likewise);
/// anything unparsable as it is.
pub fn full_name(familiar: &str) -> String {
    let Ok(r) = Reference::parse_normalized_named(familiar) else {
        return familiar.to_owned();
    };
    match (r.tag(), r.digest()) {
        (_, Some(d)) => format!("{}@{d}", r.name()),
        (Some(t), None) => format!("{}:{t}", r.name()),
        (None, None) => r.name(),
    }
}

/// The user an image runs as: a numeric uid, or a name (CRI's `uid` / `username`).
fn user_of(config_user: &str) -> (Option<Int64Value>, String) {
    let user = config_user.split(':').next().unwrap_or_default();
    match user.parse::<i64>() {
        Ok(uid) => (Some(Int64Value { value: uid }), String::new()),
        Err(_) => (None, user.to_owned()),
    }
}

/// An engine image as a CRI `Image`.
pub fn cri_image(i: &ImageInspect) -> Image {
    let user = i
        .config
        .get("User")
        .and_then(|u| u.as_str())
        .unwrap_or_default();
    let (uid, username) = user_of(user);
    Image {
        id: i.id.clone(),
        repo_tags: i.repo_tags.iter().map(|t| full_name(t)).collect(),
        repo_digests: i.repo_digests.iter().map(|t| full_name(t)).collect(),
        size: i.size,
        uid,
        username,
        spec: Some(ImageSpec {
            image: i.id.clone(),
            ..ImageSpec::default()
        }),
        pinned: false,
    }
}

/// `ImageStatus`'s verbose `info`: the image's OCI config under `imageSpec`, as containerd
/// answers (crictl inspecti prints it).
fn verbose_info(i: &ImageInspect) -> std::collections::HashMap<String, String> {
    let info = serde_json::json!({
        "imageSpec": {
            "created": i.created,
            "author": i.author,
            "architecture": i.architecture,
            "variant": i.variant,
            "os": i.os,
            "config": i.config,
            "rootfs": i.root_fs,
        },
    });
    [("info".to_owned(), info.to_string())]
        .into_iter()
        .collect()
}

/// The request's credentials in the engine's form: `auth` is base64 of `user:password`.
pub fn engine_auth(a: Option<AuthConfig>) -> Result<EngineAuth, CriError> {
    let Some(a) = a else {
        return Ok(EngineAuth::default());
    };
    let (mut username, mut password) = (a.username, a.password);
    if !a.auth.is_empty() {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.auth.trim())
            .map_err(|e| CriError::InvalidArgument(format!("invalid auth: {e}")))?;
        let text = String::from_utf8(raw)
            .map_err(|_| CriError::InvalidArgument("invalid auth: not UTF-8".into()))?;
        let (u, p) = text
            .split_once(':')
            .ok_or_else(|| CriError::InvalidArgument("invalid auth: no user:password".into()))?;
        (username, password) = (u.to_owned(), p.to_owned());
    }
    Ok(EngineAuth {
        username,
        password,
        server_address: a.server_address,
        // A registry token is a bearer token as good as an identity token to the client.
        identity_token: if a.identity_token.is_empty() {
            a.registry_token
        } else {
            a.identity_token
        },
    })
}

fn image_name(spec: Option<ImageSpec>) -> Result<String, CriError> {
    spec.map(|s| s.image)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| CriError::InvalidArgument("image spec is required".into()))
}

/// Counts the files and directories under `dir` (not following links): the inodes the
/// image store holds.
fn count_inodes(dir: &std::path::Path) -> u64 {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            n += 1;
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    n
}

#[tonic::async_trait]
impl ImageService for Images {
    async fn list_images(
        &self,
        request: Request<ListImagesRequest>,
    ) -> Result<Response<ListImagesResponse>, Status> {
        let wanted = request
            .into_inner()
            .filter
            .and_then(|f| f.image)
            .map(|s| s.image)
            .filter(|s| !s.is_empty());
        let only = match wanted {
            Some(name) => match self.engine.image_inspect(name).await? {
                Some(i) => Some(i.id),
                None => return Ok(Response::new(ListImagesResponse::default())),
            },
            None => None,
        };
        let mut images = Vec::new();
        for s in self.engine.images().await? {
            if only.as_ref().is_some_and(|id| *id != s.id) {
                continue;
            }
            // An image removed meanwhile is simply not listed.
            if let Some(i) = self.engine.image_inspect(s.id).await? {
                images.push(cri_image(&i));
            }
        }
        Ok(Response::new(ListImagesResponse { images }))
    }

    async fn image_status(
        &self,
        request: Request<ImageStatusRequest>,
    ) -> Result<Response<ImageStatusResponse>, Status> {
        let req = request.into_inner();
        let name = image_name(req.image)?;
        // No such image is not an error: kubelet asks to decide whether to pull.
        let Some(i) = self.engine.image_inspect(name).await? else {
            return Ok(Response::new(ImageStatusResponse::default()));
        };
        let info = if req.verbose {
            verbose_info(&i)
        } else {
            Default::default()
        };
        Ok(Response::new(ImageStatusResponse {
            image: Some(cri_image(&i)),
            info,
        }))
    }

    async fn pull_image(
        &self,
        request: Request<PullImageRequest>,
    ) -> Result<Response<PullImageResponse>, Status> {
        let req = request.into_inner();
        let name = image_name(req.image)?;
        let auth = engine_auth(req.auth)?;
        self.engine.pull(name.clone(), auth).await?;
        let i = self
            .engine
            .image_inspect(name.clone())
            .await?
            .ok_or_else(|| {
                CriError::Internal(format!("pulled image {name} is not in the store"))
            })?;
        Ok(Response::new(PullImageResponse { image_ref: i.id }))
    }

    async fn remove_image(
        &self,
        request: Request<RemoveImageRequest>,
    ) -> Result<Response<RemoveImageResponse>, Status> {
        let name = image_name(request.into_inner().image)?;
        // Idempotent, as the CRI demands: an image already gone is success.
        if self.engine.image_inspect(name.clone()).await?.is_some() {
            match self.engine.remove_image(name).await {
                Ok(_) => {}
                Err(CriError::Engine(e)) if e.kind() == berth_engine::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Response::new(RemoveImageResponse {}))
    }

    async fn image_fs_info(
        &self,
        _request: Request<ImageFsInfoRequest>,
    ) -> Result<Response<ImageFsInfoResponse>, Status> {
        let dir = self.engine.image_store_dir();
        let used = self.engine.image_store_bytes().await?;
        let walk = dir.clone();
        let inodes = tokio::task::spawn_blocking(move || count_inodes(&walk))
            .await
            .map_err(|e| CriError::Internal(format!("counting inodes: {e}")))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let usage = FilesystemUsage {
            timestamp: now,
            fs_id: Some(FilesystemIdentifier {
                mountpoint: dir.display().to_string(),
            }),
            used_bytes: Some(UInt64Value { value: used }),
            inodes_used: Some(UInt64Value { value: inodes }),
        };
        Ok(Response::new(ImageFsInfoResponse {
            image_filesystems: vec![usage],
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_are_shown_fully_qualified() {
        assert_eq!(
            full_name("busybox:latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full_name("user/app:1"), "docker.io/user/app:1");
        assert_eq!(full_name("127.0.0.1:5000/a/b:v1"), "127.0.0.1:5000/a/b:v1");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            full_name(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
        assert_eq!(full_name("Not A Name"), "Not A Name");
    }

    #[test]
    fn image_user_is_a_uid_or_a_name() {
        assert_eq!(
            user_of("1000:50"),
            (Some(Int64Value { value: 1000 }), String::new())
        );
        assert_eq!(user_of("nginx"), (None, "nginx".to_owned()));
        assert_eq!(user_of(""), (None, String::new()));
    }

    #[test]
    fn request_auth_decodes_user_password_and_refuses_garbage() {
        let a = AuthConfig {
            auth: "a3ViZTpwNHNz".into(), // kube:p4ss
            server_address: "r:5000".into(),
            ..AuthConfig::default()
        };
        let e = engine_auth(Some(a)).unwrap();
        assert_eq!((e.username.as_str(), e.password.as_str()), ("kube", "p4ss"));
        assert_eq!(e.server_address, "r:5000");
        let plain = AuthConfig {
            username: "u".into(),
            password: "p".into(),
            ..AuthConfig::default()
        };
        assert_eq!(engine_auth(Some(plain)).unwrap().username, "u");
        let token = AuthConfig {
            registry_token: "t".into(),
            ..AuthConfig::default()
        };
        assert_eq!(engine_auth(Some(token)).unwrap().identity_token, "t");
        let bad = AuthConfig {
            auth: "!!!".into(),
            ..AuthConfig::default()
        };
        assert!(matches!(
            engine_auth(Some(bad)),
            Err(CriError::InvalidArgument(_))
        ));
        let no_colon = AuthConfig {
            auth: "a3ViZQ==".into(),
            ..AuthConfig::default()
        };
        assert!(engine_auth(Some(no_colon)).is_err());
        assert!(engine_auth(None).unwrap().is_anonymous());
    }
}
