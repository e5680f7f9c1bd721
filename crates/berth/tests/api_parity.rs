//! Docker API parity (issue 15): what docker-compose 1.29 and docker-py trip on, driven through
//! docker-py (Debian's python3-docker) against the test's own berthd.
#![allow(clippy::unwrap_used)]

mod common;

use common::Daemon;

/// Opens both docker-py clients on the daemon's socket.
const PRELUDE: &str = r#"import io, json, os, sys, tarfile, time
import docker
api = docker.APIClient(base_url="unix://" + os.environ["SOCK"], version="auto")
cli = docker.DockerClient(base_url="unix://" + os.environ["SOCK"], version="auto")
def names(filters):
    return sorted(c["Names"][0][1:] for c in api.containers(all=True, filters=filters))
def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
def saved_image(tag, extra):
    """A `docker save` archive of a one-file image whose config carries `extra`."""
    import hashlib
    layer = tar_of({"hello.txt": b"hi\n"})
    diff = "sha256:" + hashlib.sha256(layer).hexdigest()
    cfg = dict({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                "rootfs": {"type": "layers", "diff_ids": [diff]}}, **extra)
    cfg = json.dumps(cfg).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    manifest = json.dumps([{"Config": cid + ".json", "RepoTags": [tag],
                            "Layers": ["l/layer.tar"]}]).encode()
    return tar_of({cid + ".json": cfg, "l/layer.tar": layer, "manifest.json": manifest})
def api_error(f, *a, **k):
    try:
        f(*a, **k)
    except docker.errors.APIError as e:
        return e
    raise SystemExit("expected an APIError from %s" % f.__name__)
"#;

/// Runs `script` after [`PRELUDE`] against a fresh daemon with busybox; the script prints
/// `ok` at its end.
fn run_py(name: &str, script: &str) -> Option<Daemon> {
    if !common::has_docker_py() {
        common::skip("docker-py (python3-docker) not installed");
        return None;
    }
    let d = Daemon::start();
    d.import_busybox();
    let path = d.dir.join(format!("{name}.py"));
    std::fs::write(&path, format!("{PRELUDE}{script}\nprint(\"ok\")\n")).unwrap();
    // A subnet no other test file uses, unique per test process, for scripts that make a
    // network (and remove it again).
    let pid = std::process::id();
    let subnet = format!("172.30.{}.{}/28", pid & 0xff, ((pid >> 8) & 0xf) * 16);
    common::run_python_ok(&d, &path, &[("NET_SUBNET", &subnet)]);
    Some(d)
}

const LIST_FILTERS: &str = r#"
def mk(name, labels=None, image="busybox", **kw):
    return api.create_container(image, ["true"], name=name, labels=labels or {}, **kw)["Id"]
a = mk("f-a", {"p": "1", "s": "web"})
b = mk("f-b", {"p": "1", "s": "db"})
x = mk("f-x", {"p": "2", "s": "web"})
# Several label filters must all hold (compose numbers replicas by project AND service).
assert names({"label": ["p=1", "s=web"]}) == ["f-a"], names({"label": ["p=1", "s=web"]})
assert names({"label": ["p=1"]}) == ["f-a", "f-b"]
assert names({"label": ["p", "s=db"]}) == ["f-b"]
assert names({"label": ["p=1", "nosuch"]}) == []
api.start(b)
assert api.wait(b)["StatusCode"] == 0
child = api.commit(b, repository="child", tag="1")["Id"]
y = mk("f-y", image="child:1")
img = api.inspect_image("busybox")["Id"]
every = ["f-a", "f-b", "f-x", "f-y"]
# ancestor: a name, an id, a short id, and images built on it.
assert names({"ancestor": "busybox"}) == every, names({"ancestor": "busybox"})
assert names({"ancestor": img}) == every
assert names({"ancestor": img[7:19]}) == every
assert names({"ancestor": "child:1"}) == ["f-y"]
assert names({"ancestor": child}) == ["f-y"]
assert names({"ancestor": "nosuch"}) == []
assert names({"before": "f-b"}) == ["f-a"]
assert names({"since": "f-b"}) == ["f-x", "f-y"]
assert api_error(api.containers, all=True, filters={"since": "nosuch"}).status_code == 404
assert names({"exited": "0"}) == ["f-b"]
assert names({"exited": "1"}) == []
assert names({"status": "created"}) == ["f-a", "f-x", "f-y"]
v = mk("f-v", host_config=api.create_host_config(binds={"vol1": {"bind": "/data", "mode": "rw"}}))
assert names({"volume": "vol1"}) == ["f-v"]
assert names({"volume": "/data"}) == ["f-v"]
e = mk("f-e", ports=[8080])
assert names({"expose": "8080"}) == ["f-e"]
assert names({"expose": "8000-8090/tcp"}) == ["f-e"]
assert names({"expose": "8080/udp"}) == []
assert names({"publish": "8080"}) == []
assert names({"network": "nosuch"}) == []
assert names({"is-task": "true"}) == []
assert len(names({"is-task": "false"})) == 6
assert len(names({"health": "none"})) == 6
assert names({"health": "healthy"}) == []
for bad, msg in [({"bogus": "x"}, "invalid filter 'bogus'"),
                 ({"status": "asleep"}, "invalid filter 'status=asleep'"),
                 ({"exited": "x"}, "invalid filter 'exited=x'")]:
    err = api_error(api.containers, all=True, filters=bad)
    assert err.status_code == 400 and msg in str(err), err
"#;

/// `GET /containers/json` filters as dockerd has them: labels AND-ed, `ancestor` by name, id
/// and descendants, `before`/`since`, `exited`, `status`, `volume`, `expose`, `publish`,
/// `network`, `is-task`, `health`, and docker's errors for bad ones.
#[test]
fn container_list_filters() {
    run_py("list_filters", LIST_FILTERS);
}

const IMAGE_INSPECT: &str = r##"
i = api.inspect_image("busybox")
assert i["Container"] == "", i
cc = i["ContainerConfig"]
for k in ["Hostname", "User", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "Labels"]:
    assert k in cc, (k, cc)
assert cc["Cmd"] is None and cc["Volumes"] is None, cc
# An image a docker daemon made keeps its container and container config.
arc = saved_image("legacy:1", {"container": "abc123", "docker_version": "20.10.5",
    "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) VOLUME [/v]"], "Volumes": {"/v": {}}}})
list(api.load_image(arc))
i = api.inspect_image("legacy:1")
assert i["Container"] == "abc123", i
assert i["DockerVersion"] == "20.10.5", i
assert i["ContainerConfig"]["Volumes"] == {"/v": {}}, i
assert i["ContainerConfig"]["Cmd"][2] == "#(nop) VOLUME [/v]", i
"##;

/// Image inspect has docker's `Container` and `ContainerConfig` (docker-compose reads
/// `ContainerConfig` on every recreate), taken from the image config when a docker daemon
/// wrote them.
#[test]
fn image_inspect_container_config() {
    run_py("image_inspect", IMAGE_INSPECT);
}

const EVENTS: &str = r#"
t0 = int(time.time())
web = api.create_container("busybox", ["true"], name="ev-web", labels={"p": "1", "s": "web"})["Id"]
db = api.create_container("busybox", ["true"], name="ev-db", labels={"p": "1", "s": "db"})["Id"]
for c in (web, db):
    api.start(c)
    api.wait(c)
api.create_volume("ev-vol")
api.remove_volume("ev-vol")
api.tag("busybox", "other", "2")
t1 = int(time.time()) + 1
def ev(filters):
    out = api.events(since=t0, until=t1, filters=filters, decode=True)
    return [(e["Type"], e["Action"], e["Actor"]["Attributes"].get("name")) for e in out]
got = ev({"type": "container", "event": ["start", "die"]})
assert got == [("container", "start", "ev-web"), ("container", "die", "ev-web"),
               ("container", "start", "ev-db"), ("container", "die", "ev-db")], got
got = ev({"container": "ev-web", "event": "create"})
assert got == [("container", "create", "ev-web")], got
got = ev({"container": db[:12], "event": "create"})
assert got == [("container", "create", "ev-db")], got
got = ev({"label": ["p=1", "s=db"], "event": "start"})
assert got == [("container", "start", "ev-db")], got
got = ev({"type": "volume"})
assert got == [("volume", "create", None), ("volume", "destroy", None)], got
assert all(e[0] == "volume" for e in ev({"volume": "ev-vol"})), ev({"volume": "ev-vol"})
got = ev({"image": "other:2"})
assert got == [("image", "tag", "other:2")], got
assert len(ev({"image": "busybox", "event": "start"})) == 2
assert ev({"network": "nosuch"}) == []
assert ev({"daemon": "nosuch"}) == []
# docker-py does not raise on an events error: look at the answer itself.
r = api._get(api._url("/events"), params={"filters": json.dumps({"bogus": ["x"]})})
assert r.status_code == 400 and "invalid filter 'bogus'" in r.text, (r.status_code, r.text)
"#;

/// `GET /events` with filters (type, event, container by name or id prefix, labels AND-ed,
/// image with or without tag, volume, network, daemon) instead of a 400.
#[test]
fn events_filters() {
    let Some(d) = run_py("events", EVENTS) else {
        return;
    };
    // The CLI's `--filter`, as docker's.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let out = d.ok(&[
        "events",
        "--since",
        "1",
        "--until",
        &until.to_string(),
        "--filter",
        "type=container",
        "--filter",
        "event=start",
        "--format",
        "{{.Actor.Attributes.name}}",
    ]);
    assert_eq!(out, "ev-web\nev-db\n");
}

const KILL: &str = r#"
for i in range(5):
    ct = cli.containers.run("busybox", ["sleep", "100"], detach=True, name="k%d" % i)
    ct.kill()
    ct.reload()
    assert ct.status == "exited" and ct.attrs["State"]["Running"] is False, ct.attrs["State"]
    assert ct.attrs["State"]["ExitCode"] == 137, ct.attrs["State"]
    ct.remove()
# A default-signal kill through the raw API is a SIGKILL too.
ct = cli.containers.run("busybox", ["sleep", "100"], detach=True, name="kraw")
r = api._post(api._url("/containers/{0}/kill", ct.id))
assert r.status_code == 204, r.text
ct.remove()
assert cli.containers.list(all=True) == []
"#;

/// `kill` (SIGKILL) answers once the container is dead: an inspect right after shows it
/// exited (137) and a remove right after works, as on dockerd.
#[test]
fn kill_returns_when_dead() {
    run_py("kill", KILL);
}

const SYSTEM: &str = r#"
# docker-py's network test teardown: leave_swarm(force=True) tolerates only a 503.
assert api.leave_swarm(force=True) is True
r = api._post(api._url("/swarm/leave"))
assert r.status_code == 503 and r.json()["message"] == "This node is not part of a swarm", r.text
i = api.info()
for k in ["Debug", "ExperimentalBuild", "NFd", "NGoroutines", "SystemTime", "CgroupVersion",
          "IndexServerAddress", "RegistryConfig", "Plugins", "LiveRestoreEnabled", "Isolation"]:
    assert k in i, (k, sorted(i))
assert i["ExperimentalBuild"] is False and i["Debug"] is True, i
assert i["Swarm"]["LocalNodeState"] == "inactive", i["Swarm"]
assert i["DefaultRuntime"] in i["Runtimes"], i
c = api.create_container("busybox", ["true"], name="hc")
hc = api.inspect_container(c)["HostConfig"]
want = {"CgroupnsMode": "private", "DeviceCgroupRules": None, "PidMode": "", "Isolation": "",
        "UTSMode": "", "Runtime": i["DefaultRuntime"], "VolumeDriver": "",
        "CpuRealtimeRuntime": 0, "CpuRealtimePeriod": 0, "IpcMode": "private"}
assert {k: hc.get(k, "missing") for k in want} == want, hc
# What Berth cannot honour is refused, not ignored.
err = api_error(api.create_container, "busybox", ["true"],
                host_config=api.create_host_config(pid_mode="host"))
assert err.status_code == 400 and 'PID mode "host"' in str(err), err
err = api_error(api.create_container, "busybox", ["true"],
                host_config=api.create_host_config(runtime="nosuch"))
assert "unknown or invalid runtime name: nosuch" in str(err), err
ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=os.environ["NET_SUBNET"])])
net = api.create_network("parity-net", ipam=ipam)["Id"]
try:
    assert api.inspect_network(net)["IPAM"]["Options"] is None, api.inspect_network(net)["IPAM"]
finally:
    api.remove_network(net)
"#;

/// `POST /swarm/leave` answers docker's 503; `/info` has the fields docker-py reads;
/// inspect's `HostConfig` has CgroupnsMode, PidMode, UTSMode, Runtime and the rest (and
/// values Berth cannot honour are refused); `IPAM.Options` is null when unset.
#[test]
fn swarm_info_and_inspect_fields() {
    run_py("system", SYSTEM);
}

const ATTACH_LOGS: &str = r#"
import signal
signal.alarm(30)  # the old daemon hung here for minutes
ct = api.create_container("busybox", ["sh", "-c", "echo out; echo err >&2"], name="att")["Id"]
api.start(ct)
assert api.wait(ct)["StatusCode"] == 0
t = time.time()
out = api.attach(ct, stream=False, logs=True)
assert time.time() - t < 10, time.time() - t
assert out == b"out\nerr\n", out
assert api.attach(ct, stdout=True, stderr=False, stream=False, logs=True) == b"out\n"
assert api.attach(ct, stdout=False, stderr=True, stream=False, logs=True) == b"err\n"
assert api.attach(ct, stream=False, logs=False) == b""
tty = api.create_container("busybox", ["echo", "hi"], tty=True, name="att-tty")["Id"]
api.start(tty)
api.wait(tty)
assert api.attach(tty, stream=False, logs=True) == b"hi\r\n", api.attach(tty, stream=False, logs=True)
# The logs, then the live output of a running container.
live = api.create_container("busybox", ["sh", "-c", "echo one; sleep 1; echo two"], name="att-live")["Id"]
api.start(live)
time.sleep(0.5)
out = b"".join(api.attach(live, stream=True, logs=True))
assert out == b"one\ntwo\n", out
"#;

/// `attach(stream=False, logs=True)` on an exited container answers at once with its log
/// (the old daemon ignored `logs` and `stream` and hung); `logs` with `stream` replays, then
/// follows.
#[test]
fn attach_logs_without_stream() {
    run_py("attach_logs", ATTACH_LOGS);
}

const LOAD: &str = r#"
arc = saved_image("loaded:1", {})
r = api._post(api._url("/images/load"), data=arc, stream=True)
assert r.status_code == 200 and r.raw._fp.chunked, (r.status_code, r.headers)
out = list(api.load_image(arc))
assert out == [{"stream": "Loaded image: loaded:1\n"}], out
both = tar_of({})  # an archive without manifest.json or index.json
imgs = cli.images.load(saved_image("loaded:2", {"author": "another image"}))
assert [i.tags for i in imgs] == [["loaded:2"]], imgs
for bad in [b"not a tar archive at all", both]:
    try:
        cli.images.load(bad)
        raise SystemExit("expected ImageLoadError")
    except docker.errors.ImageLoadError as e:
        assert str(e), e
"#;

/// `POST /images/load` answers a chunked JSON stream (docker-py decodes it message by
/// message) and reports a bad archive as an error message in it (`ImageLoadError`).
#[test]
fn image_load_stream_and_errors() {
    run_py("load", LOAD);
}

const BUILD: &str = r#"
import tempfile
d = tempfile.mkdtemp()
def write(path, text):
    os.makedirs(os.path.dirname(os.path.join(d, path)), exist_ok=True)
    with open(os.path.join(d, path), "w") as f:
        f.write(text)
write("Dockerfile", "FROM busybox\nADD . /test\nLABEL step=two\n")
write(".dockerignore", "ignored\nDockerfile\n.dockerignore\n")
write("ignored/x", "x")
write("kept", "k")
# The Dockerfile is listed in .dockerignore: the builder still reads it, ADD does not see it.
img, _ = cli.images.build(path=d, tag="ign:1")
out = cli.containers.run("ign:1", ["sh", "-c", "cd /test && find . | sort"], remove=True)
assert out == b".\n./kept\n", out
# `dockerfile` given twice: the first counts, as in dockerd.
ctx = tar_of({"D1": b"FROM busybox\nLABEL which=one\n", "D2": b"FROM busybox\nLABEL which=two\n"})
r = api._post(api._url("/build"), data=ctx, headers={"Content-Type": "application/x-tar"},
              params=[("dockerfile", "D1"), ("dockerfile", "D2"), ("t", "twice:1")])
assert r.status_code == 200 and "Successfully tagged twice:1" in r.text, r.text
assert api.inspect_image("twice:1")["Config"]["Labels"] == {"which": "one"}
# An empty Dockerfile is an error.
try:
    cli.images.build(fileobj=io.BytesIO(b""))
    raise SystemExit("expected a BuildError")
except docker.errors.BuildError as e:
    assert "cannot be empty" in str(e), e
# The build cache: pruned (with what only it kept), then empty.
r = api.prune_builds()
assert len(r["CachesDeleted"]) >= 2 and r["SpaceReclaimed"] > 0, r
r = api.prune_builds()
assert r == {"CachesDeleted": [], "SpaceReclaimed": 0}, r
# After the prune the same build runs its steps again (no "Using cache").
_, logs = cli.images.build(path=d, tag="ign:1")
assert not any("Using cache" in l.get("stream", "") for l in logs), list(logs)
"#;

/// Build: `dockerfile` given twice takes the first; a `.dockerignore` listing the Dockerfile
/// hides it from ADD but not from the builder; an empty Dockerfile is an error;
/// `POST /build/prune` and `berth builder prune` empty the build cache.
#[test]
fn build_parity_and_prune() {
    let Some(d) = run_py("build", BUILD) else {
        return;
    };
    let ctx = d.dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nLABEL a=1\nLABEL b=2\n",
    )
    .unwrap();
    d.ok(&["build", "-q", "-t", "again:1", ctx.to_str().unwrap()]);
    let out = d.ok(&["builder", "prune", "-f"]);
    assert!(
        out.contains("Deleted build cache objects:") && out.contains("Total reclaimed space:"),
        "{out}"
    );
    let out = d.ok(&["builder", "prune", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
}

const PRUNE: &str = r#"
c = api.create_container("busybox", ["dd", "if=/dev/zero", "of=/big", "bs=1024", "count=512"], name="pr")["Id"]
api.start(c)
assert api.wait(c)["StatusCode"] == 0
r = api.prune_containers()
assert r["ContainersDeleted"] == [c] and r["SpaceReclaimed"] >= 512 * 1024, r
anon = api.create_volume()["Name"]
assert "com.docker.volume.anonymous" in api.inspect_volume(anon)["Labels"], api.inspect_volume(anon)
api.create_volume("keepme")
used = api.create_container("busybox", ["true"], volumes=["/data"], name="vol-user")["Id"]
from_ct = api.inspect_container(used)["Mounts"][0]["Name"]
api.remove_container(used)
r = api.prune_volumes()
assert sorted(r["VolumesDeleted"]) == sorted([anon, from_ct]), r
assert [v["Name"] for v in api.volumes()["Volumes"]] == ["keepme"]
# Clients before API 1.42 get every unused volume pruned, as from dockerd.
old = docker.APIClient(base_url="unix://" + os.environ["SOCK"], version="1.41")
assert old.prune_volumes()["VolumesDeleted"] == ["keepme"]
"#;

/// `container prune` reports the space the writable layers held; `volume prune` removes
/// unused anonymous volumes (also those made by an unnamed create), named ones only with
/// `all` or for clients before API 1.42.
#[test]
fn prune_space_and_anonymous_volumes() {
    run_py("prune", PRUNE);
}
