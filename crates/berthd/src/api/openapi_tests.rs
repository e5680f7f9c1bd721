//! `api/openapi.yaml` (the routes) and `api/components.yaml` (what they share) are read as
//! YAML, as any reader of the spec would: every route the router serves is a path there,
//! and every `$ref`, within a file or from one to the other, points at something that exists.

use yaml_rust2::{Yaml, YamlLoader};

const SPEC: &str = include_str!("../../api/openapi.yaml");
const COMPONENTS: &str = include_str!("../../api/components.yaml");

fn load(name: &str, text: &str) -> Yaml {
    let mut docs =
        YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"));
    assert_eq!(docs.len(), 1, "{name}: one document");
    docs.remove(0)
}

/// The paths given to `.route(` in the router.
fn routes() -> Vec<String> {
    include_str!("mod.rs")
        .lines()
        .filter_map(|l| l.trim().strip_prefix(".route(\""))
        .filter_map(|l| l.split('"').next())
        .map(|r| r.replace("{*name}", "{name}"))
        .collect()
}

/// Follows a JSON pointer (`/a/b`, `~1` standing for `/` and `~0` for `~`) from `root`.
fn pointer<'y>(root: &'y Yaml, ptr: &str) -> Option<&'y Yaml> {
    let mut cur = root;
    for seg in ptr.split('/').skip(1) {
        let key = seg.replace("~1", "/").replace("~0", "~");
        cur = cur.as_hash()?.get(&Yaml::String(key))?;
    }
    Some(cur)
}

/// Every `$ref` value under `y`.
fn refs(y: &Yaml, out: &mut Vec<String>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                match (k.as_str(), v.as_str()) {
                    (Some("$ref"), Some(r)) => out.push(r.to_owned()),
                    _ => refs(v, out),
                }
            }
        }
        Yaml::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn openapi_lists_every_route() {
    let spec = load("openapi.yaml", SPEC);
    let paths = spec["paths"].as_hash().expect("openapi.yaml has paths");
    let routes = routes();
    assert!(routes.len() >= 23, "{routes:?}");
    for path in routes {
        assert!(
            paths.contains_key(&Yaml::String(path.clone())),
            "{path} missing in openapi.yaml"
        );
    }
}

#[test]
fn every_ref_resolves() {
    let spec = load("openapi.yaml", SPEC);
    let components = load("components.yaml", COMPONENTS);
    let mut checked = 0;
    for (name, doc) in [("openapi.yaml", &spec), ("components.yaml", &components)] {
        let mut found = Vec::new();
        refs(doc, &mut found);
        for r in found {
            let (file, ptr) = r
                .split_once('#')
                .unwrap_or_else(|| panic!("{name}: $ref {r} has no #fragment"));
            let target = match file {
                "" => doc,
                "components.yaml" => &components,
                other => panic!("{name}: $ref {r} names a file that does not exist: {other}"),
            };
            assert!(
                pointer(target, ptr).is_some(),
                "{name}: $ref {r} points at nothing"
            );
            checked += 1;
        }
    }
    assert!(checked >= 100, "only {checked} references found");
}
