//! Unit tests: config loading and selection, stdin building, and ADD/DEL/CHECK chaining over
//! fake plugins (shell scripts that log what they were given).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::{load_first, Attachment, Cni, CniError, PluginRunner};

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).unwrap();
}

#[test]
fn first_valid_config_in_lexical_order_wins() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "05-broken.conflist", "{not json");
    write(
        d.path(),
        "07-noplugins.conflist",
        r#"{"cniVersion":"1.0.0","name":"x","plugins":[]}"#,
    );
    write(
        d.path(),
        "20-b.conflist",
        r#"{"cniVersion":"1.0.0","name":"b","plugins":[{"type":"bridge"}]}"#,
    );
    write(
        d.path(),
        "10-a.conf",
        r#"{"cniVersion":"0.4.0","name":"a","type":"ptp"}"#,
    );
    write(
        d.path(),
        "00-ignored.txt",
        r#"{"cniVersion":"1.0.0","name":"t","type":"ptp"}"#,
    );
    let list = load_first(d.path()).unwrap();
    assert_eq!(list.name, "a");
    assert_eq!(list.plugins.len(), 1, "a .conf is a list of one plugin");
    assert_eq!(list.plugins[0]["type"], "ptp");
    assert!(list.supports_check());
    fs::remove_file(d.path().join("10-a.conf")).unwrap();
    assert_eq!(load_first(d.path()).unwrap().name, "b");
}

#[test]
fn no_config_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let err = load_first(d.path()).unwrap_err();
    assert!(matches!(err, CniError::NoConfig(_)));
    assert!(
        err.to_string().contains("no network config found in"),
        "{err}"
    );
    let missing = load_first(&d.path().join("absent")).unwrap_err();
    assert!(matches!(missing, CniError::NoConfig(_)));
}

#[test]
fn plugin_types_that_are_paths_are_refused() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "a.conflist",
        r#"{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"../../bin/sh"}]}"#,
    );
    assert!(matches!(
        load_first(d.path()).unwrap_err(),
        CniError::NoConfig(_)
    ));
    let err = crate::config::load_file(&d.path().join("a.conflist")).unwrap_err();
    assert!(err.to_string().contains("invalid plugin type"), "{err}");
}

#[test]
fn stdin_carries_name_version_prev_result_and_declared_capabilities_only() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "a.conflist",
        r#"{"cniVersion":"0.4.0","name":"net","plugins":[
        {"type":"bridge","bridge":"b0"},
        {"type":"portmap","capabilities":{"portMappings":true}}]}"#,
    );
    let list = load_first(d.path()).unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert("portMappings".into(), json!([{"hostPort": 8080}]));
    caps.insert("bandwidth".into(), json!({"ingressRate": 1}));
    let first = list.plugin_stdin(0, None, &caps).unwrap();
    assert_eq!(
        first,
        json!({"type":"bridge","bridge":"b0","name":"net","cniVersion":"0.4.0"})
    );
    let prev = json!({"ips":[{"address":"10.1.0.2/24"}]});
    let second = list.plugin_stdin(1, Some(&prev), &caps).unwrap();
    assert_eq!(second["prevResult"], prev);
    assert_eq!(
        second["runtimeConfig"],
        json!({"portMappings":[{"hostPort":8080}]})
    );
}

/// A fake plugin: appends `<name> <CNI_COMMAND> <CNI_CONTAINERID> <CNI_IFNAME>` and its stdin to
/// `log`, and on ADD prints its stdin's prevResult with its own address appended.
fn fake_plugin(dir: &Path, name: &str, log: &Path, fail_add: bool) {
    let fail = if fail_add {
        r#"if [ "$CNI_COMMAND" = ADD ]; then echo '{"code":11,"msg":"boom","details":"fake"}'; exit 1; fi"#
    } else {
        ""
    };
    let script = format!(
        r#"#!/bin/sh
in=$(cat)
echo "{name} $CNI_COMMAND $CNI_CONTAINERID $CNI_IFNAME $CNI_NETNS $CNI_ARGS" >> {log}
echo "$in" >> {log}.stdin
{fail}
if [ "$CNI_COMMAND" = ADD ]; then
  echo '{{"cniVersion":"1.0.0","ips":[{{"address":"10.9.0.{n}/24"}}],"by":"{name}"}}'
fi
"#,
        log = log.display(),
        n = name.len(),
    );
    let p = dir.join(name);
    fs::write(&p, script).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
}

fn fixture(fail_second: bool) -> (tempfile::TempDir, Cni, Attachment) {
    let d = tempfile::tempdir().unwrap();
    for sub in ["conf", "bin", "cache"] {
        fs::create_dir(d.path().join(sub)).unwrap();
    }
    let log = d.path().join("log");
    fake_plugin(&d.path().join("bin"), "one", &log, false);
    fake_plugin(&d.path().join("bin"), "second", &log, fail_second);
    write(
        &d.path().join("conf"),
        "10.conflist",
        r#"{"cniVersion":"1.0.0","name":"pods","plugins":[{"type":"one"},{"type":"second"}]}"#,
    );
    let cni = Cni {
        conf_dir: d.path().join("conf"),
        runner: PluginRunner {
            plugin_dirs: vec![d.path().join("missing"), d.path().join("bin")],
            timeout: Duration::from_secs(20),
        },
        cache_dir: d.path().join("cache"),
    };
    let at = Attachment {
        container_id: "sb1".into(),
        netns: "/run/netns/x".into(),
        ifname: "eth0".into(),
        args: vec![
            ("K8S_POD_NAME".into(), "p".into()),
            ("IgnoreUnknown".into(), "1".into()),
        ],
        ..Attachment::default()
    };
    (d, cni, at)
}

fn log_lines(d: &Path) -> Vec<String> {
    fs::read_to_string(d.join("log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn stdin_lines(d: &Path) -> Vec<Value> {
    let text = fs::read_to_string(d.join("log.stdin")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn add_chains_results_and_del_runs_backwards_with_the_recorded_result() {
    let (d, cni, at) = fixture(false);
    let cached = cni.add(&at).unwrap();
    assert_eq!(
        cached.result["by"], "second",
        "the last plugin's result is the result"
    );
    assert_eq!(cached.ips(), ["10.9.0.6"]);
    let stdins = stdin_lines(d.path());
    assert!(
        stdins[0].get("prevResult").is_none(),
        "the first plugin gets no prevResult"
    );
    assert_eq!(
        stdins[1]["prevResult"]["by"], "one",
        "the second gets the first's result"
    );
    assert_eq!(
        log_lines(d.path()),
        [
            "one ADD sb1 eth0 /run/netns/x K8S_POD_NAME=p;IgnoreUnknown=1",
            "second ADD sb1 eth0 /run/netns/x K8S_POD_NAME=p;IgnoreUnknown=1"
        ]
    );
    assert!(cni.cached("sb1", "eth0").unwrap().is_some());
    cni.check(&at).unwrap();
    // DEL uses the recorded config even after the directory's config is gone.
    fs::remove_file(d.path().join("conf/10.conflist")).unwrap();
    cni.del(&at).unwrap();
    let log = log_lines(d.path());
    assert_eq!(
        &log[2..4],
        [
            "one CHECK sb1 eth0 /run/netns/x K8S_POD_NAME=p;IgnoreUnknown=1",
            "second CHECK sb1 eth0 /run/netns/x K8S_POD_NAME=p;IgnoreUnknown=1"
        ]
    );
    assert!(
        log[4].starts_with("second DEL") && log[5].starts_with("one DEL"),
        "{log:?}"
    );
    let stdins = stdin_lines(d.path());
    assert_eq!(
        stdins[5]["prevResult"]["by"], "second",
        "DEL gets the recorded result"
    );
    assert!(
        cni.cached("sb1", "eth0").unwrap().is_none(),
        "DEL forgets the record"
    );
    assert_eq!(fs::read_dir(d.path().join("cache")).unwrap().count(), 0);
}

#[test]
fn a_failed_add_is_undone_and_reports_the_plugin_error() {
    let (d, cni, at) = fixture(true);
    let err = cni.add(&at).unwrap_err().to_string();
    assert!(
        err.contains("boom: fake") && err.contains("second"),
        "{err}"
    );
    let log = log_lines(d.path());
    assert_eq!(log.len(), 4, "{log:?}");
    assert!(
        log[2].starts_with("second DEL") && log[3].starts_with("one DEL"),
        "{log:?}"
    );
    assert!(cni.cached("sb1", "eth0").unwrap().is_none());
}

#[test]
fn missing_plugins_and_hung_plugins_fail_clearly() {
    let (d, mut cni, at) = fixture(false);
    fs::remove_file(d.path().join("bin/second")).unwrap();
    let err = cni.ready().unwrap_err().to_string();
    assert!(err.contains("failed to find plugin \"second\""), "{err}");
    let hang = d.path().join("bin/second");
    fs::write(&hang, "#!/bin/sh\nexec sleep 30\n").unwrap();
    fs::set_permissions(&hang, fs::Permissions::from_mode(0o755)).unwrap();
    cni.runner.timeout = Duration::from_millis(300);
    let err = cni.add(&at).unwrap_err();
    assert!(matches!(err, CniError::Timeout { .. }), "{err}");
}

#[test]
fn ids_that_are_not_file_names_are_refused() {
    let (_d, cni, mut at) = fixture(false);
    at.container_id = "../escape".into();
    assert!(cni.add(&at).is_err());
}
