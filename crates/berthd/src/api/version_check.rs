//! dockerd's API version middleware: a request for a version above the one served or below the
//! oldest accepted gets 400 with dockerd's wording. The path rewrite cannot answer, so it
//! sends such a request to [`REJECT_PATH`], whose handler answers with the message it carries.

use axum::extract::Request;
use axum::http::StatusCode;

use super::{ApiError, API_VERSION, MIN_API_VERSION};

/// The internal route rejected requests are sent to.
pub const REJECT_PATH: &str = "/__berth/unsupported-api-version";

/// Why a version is refused, carried on the rewritten request.
#[derive(Debug, Clone)]
pub struct Refused(pub String);

/// docker's `versions.Compare`: dot-separated numbers compared numerically.
fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    let nums = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (x, y) = (nums(a), nums(b));
    for i in 0..x.len().max(y.len()) {
        let o = x.get(i).unwrap_or(&0).cmp(y.get(i).unwrap_or(&0));
        if o.is_ne() {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

/// dockerd's refusal of `version`, if it is out of range.
pub fn refusal(version: &str) -> Option<String> {
    if compare(version, MIN_API_VERSION).is_lt() {
        return Some(format!(
            "client version {version} is too old. Minimum supported API version is \
             {MIN_API_VERSION}, please upgrade your client to a newer version"
        ));
    }
    if compare(version, API_VERSION).is_gt() {
        return Some(format!(
            "client version {version} is too new. Maximum supported API version is {API_VERSION}"
        ));
    }
    None
}

/// The handler of [`REJECT_PATH`].
pub async fn reject(req: Request) -> ApiError {
    let message = req
        .extensions()
        .get::<Refused>()
        .map_or_else(|| "unsupported API version".to_owned(), |r| r.0.clone());
    ApiError {
        status: StatusCode::BAD_REQUEST,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerd_wording() {
        assert_eq!(
            refusal("1.99").as_deref(),
            Some("client version 1.99 is too new. Maximum supported API version is 1.45")
        );
        assert!(refusal("1.12")
            .is_some_and(|m| m.contains("is too old. Minimum supported API version is 1.24")));
        assert_eq!(refusal("1.45"), None);
        assert_eq!(refusal("1.24"), None);
        assert_eq!(
            refusal("1.100"),
            refusal("1.100").filter(|m| m.contains("too new"))
        );
    }
}
