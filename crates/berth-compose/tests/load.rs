//! The loader end to end on real files: `.env` and interpolation, several `-f` files,
//! `include`, `extends` from another file, profiles, and errors naming file, line and key path.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use berth_compose::{load, Options};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn options(dir: &Path) -> Options {
    Options {
        cwd: dir.to_owned(),
        environ: [
            ("SHELL_ONLY".to_owned(), "from-shell".to_owned()),
            ("TAG".to_owned(), "shell-wins".to_owned()),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    }
}

#[test]
fn full_project() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("My App");
    write(&d, ".env", "TAG=1.36\nPORT=8080\nDB_IMAGE=busybox\n");
    write(
        &d,
        "compose.yaml",
        r#"
x-common: &common
  restart: unless-stopped
services:
  web:
    <<: *common
    image: "busybox:${TAG}"
    ports: ["${PORT}:80"]
    environment:
      - SHELL_ONLY
      - FIXED=1
    depends_on: [db]
    volumes: ["data:/data", "./site:/www:ro"]
  db:
    extends:
      file: base/common.yml
      service: store
  debug:
    image: busybox
    profiles: [debug]
volumes:
  data:
include:
  - extra/compose.yaml
"#,
    );
    write(
        &d,
        "base/common.yml",
        "services:\n  store:\n    image: ${DB_IMAGE}\n    env_file: store.env\n",
    );
    write(
        &d,
        "extra/compose.yaml",
        "services:\n  cache:\n    image: busybox\n",
    );
    write(
        &d,
        "compose.override.yaml",
        "services:\n  web:\n    environment:\n      FIXED: \"2\"\n",
    );
    let l = load(&options(&d)).unwrap();
    let p = &l.project;
    assert_eq!(p.name, "myapp");
    let web = &p.services["web"];
    // The shell's value wins over .env's.
    assert_eq!(web.image.as_deref(), Some("busybox:shell-wins"));
    assert_eq!(web.restart.as_deref(), Some("unless-stopped"));
    assert_eq!(web.ports[0].published.as_deref(), Some("8080"));
    assert_eq!(web.environment["FIXED"].as_deref(), Some("2"));
    assert_eq!(web.environment["SHELL_ONLY"], None);
    assert_eq!(
        web.volumes[1].source.as_deref(),
        Some(d.join("site").to_str().unwrap())
    );
    assert_eq!(p.services["db"].image.as_deref(), Some("busybox"));
    // A relative path in an extended file is relative to that file.
    assert_eq!(
        p.services["db"].env_file,
        [d.join("base/store.env").display().to_string()]
    );
    assert!(p.services.contains_key("cache"));
    assert!(!p.services.contains_key("debug"));
    assert!(l.disabled.contains("debug"));
    assert_eq!(l.config_files.len(), 2);
    let mut o = options(&d);
    o.profiles = vec!["debug".into()];
    o.project_name = Some("other".into());
    let l = load(&o).unwrap();
    assert!(l.project.services.contains_key("debug"));
    assert_eq!(l.project.name, "other");
    // A service named on the command line runs whatever its profiles.
    let mut o = options(&d);
    o.named_services = vec!["debug".into()];
    assert!(load(&o).unwrap().project.services.contains_key("debug"));
    let text = berth_compose::render::yaml(&l.project);
    assert!(text.contains("name: other"), "{text}");
    assert!(
        text.contains("published: \"8080\"") || text.contains("published: '8080'"),
        "{text}"
    );
}

fn error_of(files: &[(&str, &str)]) -> String {
    let t = tempfile::tempdir().unwrap();
    for (n, text) in files {
        write(t.path(), n, text);
    }
    let mut o = options(t.path());
    o.files = files
        .iter()
        .filter(|(n, _)| n.ends_with(".yaml"))
        .map(|(n, _)| PathBuf::from(n))
        .collect();
    let e = load(&o).unwrap_err().to_string();
    e.replace(&format!("{}/", t.path().display()), "")
}

#[test]
fn errors_name_file_line_and_key_path() {
    let e = error_of(&[(
        "c.yaml",
        "services:\n  web:\n    image: busybox\n    imagee: x\n",
    )]);
    assert_eq!(
        e,
        "c.yaml:4: services.web: additional property imagee is not allowed"
    );
    let e = error_of(&[(
        "c.yaml",
        "services:\n  web:\n    image: busybox\n    ports:\n      - \"80:80/xyz\"\n",
    )]);
    assert_eq!(e, "c.yaml:5: services.web.ports[0]: invalid proto: xyz");
    let e = error_of(&[(
        "c.yaml",
        "services:\n  web:\n    image: busybox\n    read_only: maybe\n",
    )]);
    assert!(
        e.starts_with("c.yaml:4: services.web.read_only: invalid type"),
        "{e}"
    );
    let e = error_of(&[(
        "c.yaml",
        "services:\n  web:\n    image: ${NOPE:?is needed}\n",
    )]);
    assert_eq!(
        e,
        "c.yaml:3: services.web.image: required variable NOPE is missing a value: is needed"
    );
    let e = error_of(&[("c.yaml", "services:\n  web:\n    image: [\n")]);
    assert!(e.starts_with("c.yaml:4:"), "{e}");
    // The second -f file is the one named.
    let e = error_of(&[
        ("a.yaml", "services:\n  web:\n    image: busybox\n"),
        ("b.yaml", "services:\n  web:\n    networks: [back]\n"),
    ]);
    assert_eq!(e, "b.yaml:3: services.web.networks.back: service \"web\" refers to undefined network back: invalid compose project");
}

#[test]
fn semantic_errors_before_anything_is_created() {
    let e = error_of(&[("c.yaml", "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n")]);
    assert!(e.contains("dependency cycle detected: a -> b -> a"), "{e}");
    let e = error_of(&[(
        "c.yaml",
        "services:\n  a:\n    image: x\n    depends_on: [nope]\n",
    )]);
    assert!(e.contains("depends on undefined service \"nope\""), "{e}");
    let e = error_of(&[(
        "c.yaml",
        "services:\n  a:\n    image: x\n    volumes: [\"data:/d\"]\n",
    )]);
    assert_eq!(e, "c.yaml:4: services.a.volumes[0]: service \"a\" refers to undefined volume data: invalid compose project");
    let e = error_of(&[("c.yaml", "services:\n  a:\n    image: x\n    ports: [\"8080:80\"]\n  b:\n    image: x\n    ports: [\"8080:81\"]\n")]);
    assert!(e.contains("both publish host port 8080/tcp"), "{e}");
    let e = error_of(&[("c.yaml", "services:\n  a:\n    command: x\n")]);
    assert!(e.contains("neither an image nor a build context"), "{e}");
}

#[test]
fn no_file_is_docker_composes_error() {
    let t = tempfile::tempdir().unwrap();
    let e = load(&options(t.path())).unwrap_err().to_string();
    assert_eq!(e, "no configuration file provided: not found");
}
