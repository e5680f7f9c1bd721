//! Device access rules in one form for both versions: v1 writes them to `devices.allow` /
//! `devices.deny`, v2 compiles them into an eBPF program ([`crate::devices_ebpf`]).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{Error, Result};

/// `mknod` access bit (the kernel's `BPF_DEVCG_ACC_MKNOD`).
pub const ACC_MKNOD: u32 = 1;
/// Read access bit (`BPF_DEVCG_ACC_READ`).
pub const ACC_READ: u32 = 2;
/// Write access bit (`BPF_DEVCG_ACC_WRITE`).
pub const ACC_WRITE: u32 = 4;
/// All three.
pub const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Which devices a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevType {
    /// Block and character devices.
    All,
    /// Block devices (`BPF_DEVCG_DEV_BLOCK` = 1).
    Block,
    /// Character devices (`BPF_DEVCG_DEV_CHAR` = 2).
    Char,
}

/// One normalised rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    /// Allow or deny.
    pub allow: bool,
    /// Device kind.
    pub typ: DevType,
    /// Major number, `None` for any.
    pub major: Option<u32>,
    /// Minor number, `None` for any.
    pub minor: Option<u32>,
    /// Access bits ([`ACC_READ`] | ...), never 0.
    pub access: u32,
}

impl DeviceRule {
    /// Translate an OCI rule; `None` for rules the device cgroup cannot express (FIFOs).
    pub fn from_oci(r: &LinuxDeviceCgroup) -> Result<Option<DeviceRule>> {
        let typ = match r.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => DevType::All,
            LinuxDeviceType::B => DevType::Block,
            LinuxDeviceType::C | LinuxDeviceType::U => DevType::Char,
            LinuxDeviceType::P => {
                tracing::debug!(
                    "device rule for FIFOs ignored: the device cgroup cannot filter them"
                );
                return Ok(None);
            }
        };
        let num = |v: Option<i64>, what: &str| -> Result<Option<u32>> {
            match v {
                None => Ok(None),
                Some(n) if n < 0 => Ok(None),
                Some(n) => u32::try_from(n).map(Some).map_err(|_| {
                    Error::InvalidResources(format!("device {what} {n} out of range"))
                }),
            }
        };
        let access = parse_access(r.access().as_deref().unwrap_or(""))?;
        Ok(Some(DeviceRule {
            allow: r.allow(),
            typ,
            major: num(r.major(), "major")?,
            minor: num(r.minor(), "minor")?,
            access,
        }))
    }

    /// Whether this rule covers every device with every access (it resets the list).
    pub fn is_catch_all(&self) -> bool {
        self.typ == DevType::All
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ACC_ALL
    }

    /// The v1 `devices.allow`/`devices.deny` line ("c 1:3 rwm", "a *:* rwm").
    pub fn v1_line(&self) -> String {
        let t = match self.typ {
            DevType::All => 'a',
            DevType::Block => 'b',
            DevType::Char => 'c',
        };
        let n = |v: Option<u32>| v.map_or_else(|| "*".to_string(), |v| v.to_string());
        let mut acc = String::new();
        if self.access & ACC_READ != 0 {
            acc.push('r');
        }
        if self.access & ACC_WRITE != 0 {
            acc.push('w');
        }
        if self.access & ACC_MKNOD != 0 {
            acc.push('m');
        }
        format!("{t} {}:{} {acc}", n(self.major), n(self.minor))
    }
}

/// "rwm" → bits; empty means all (as runc reads it).
pub fn parse_access(s: &str) -> Result<u32> {
    if s.is_empty() {
        return Ok(ACC_ALL);
    }
    let mut bits = 0;
    for c in s.chars() {
        bits |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => {
                return Err(Error::InvalidResources(format!(
                    "device access {s:?}: unknown letter {c:?}"
                )))
            }
        };
    }
    Ok(bits)
}

/// Translate all OCI rules, dropping those that cannot be expressed.
pub fn from_oci(rules: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>> {
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        if let Some(d) = DeviceRule::from_oci(r)? {
            out.push(d);
        }
    }
    Ok(out)
}

/// What the rule list means in the end, v1's way: a catch-all rule sets the default and
/// forgets earlier rules; the rules after it are exceptions, the last match winning. Before
/// any catch-all the default is "allow" (a new v1 cgroup inherits its parent's allow-all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// Answer when no rule matches.
    pub default_allow: bool,
    /// Exceptions, in spec order (later wins).
    pub rules: Vec<DeviceRule>,
}

impl Effective {
    /// Fold a rule list.
    pub fn new(rules: &[DeviceRule]) -> Effective {
        let mut e = Effective {
            default_allow: true,
            rules: Vec::new(),
        };
        for r in rules {
            if r.is_catch_all() {
                e.default_allow = r.allow;
                e.rules.clear();
            } else {
                // Rules agreeing with the default still matter: they override earlier
                // exceptions under last-match-wins.
                e.rules.push(*r);
            }
        }
        e
    }

    /// Evaluate a request (used by tests to check the compiled program's intent).
    pub fn allows(&self, typ: DevType, major: u32, minor: u32, access: u32) -> bool {
        for r in self.rules.iter().rev() {
            if rule_matches(r, typ, major, minor, access) {
                return r.allow;
            }
        }
        self.default_allow
    }
}

/// The matching rule shared by the evaluator and the BPF compiler: an allow rule must grant
/// every requested access bit, a deny rule matches when it denies any of them.
pub fn rule_matches(r: &DeviceRule, typ: DevType, major: u32, minor: u32, access: u32) -> bool {
    let type_ok = r.typ == DevType::All || r.typ == typ;
    let access_ok = if r.allow {
        access & !r.access == 0
    } else {
        access & r.access != 0
    };
    type_ok && access_ok && r.major.is_none_or(|m| m == major) && r.minor.is_none_or(|m| m == minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Vec<DeviceRule> {
        let v: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).expect("json");
        from_oci(&v).expect("rules")
    }

    #[test]
    fn v1_lines() {
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},
                {"allow":true,"type":"b","major":8,"access":"m"},
                {"allow":true,"type":"p","major":0,"minor":0}]"#,
        );
        let lines: Vec<String> = r.iter().map(DeviceRule::v1_line).collect();
        assert_eq!(lines, ["a *:* rwm", "c 1:3 rw", "b 8:* m"]);
        assert!(parse_access("rx").is_err());
    }

    #[test]
    fn effective_semantics() {
        let e = Effective::new(&rules(
            r#"[{"allow":true,"type":"c","major":9,"minor":9},
                {"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":true,"type":"c","major":136,"access":"rw"},
                {"allow":false,"type":"c","major":136,"minor":5,"access":"w"}]"#,
        ));
        assert!(!e.default_allow);
        assert_eq!(e.rules.len(), 3, "rules before the deny-all are forgotten");
        assert!(!e.allows(DevType::Char, 9, 9, ACC_READ));
        assert!(e.allows(DevType::Char, 1, 3, ACC_READ | ACC_WRITE));
        assert!(!e.allows(DevType::Block, 1, 3, ACC_READ));
        assert!(e.allows(DevType::Char, 136, 7, ACC_READ));
        assert!(!e.allows(DevType::Char, 136, 7, ACC_MKNOD), "m not granted");
        assert!(e.allows(DevType::Char, 136, 5, ACC_READ));
        assert!(!e.allows(DevType::Char, 136, 5, ACC_READ | ACC_WRITE));
        // No catch-all: v1 default allow, deny rules are exceptions.
        let e = Effective::new(&rules(
            r#"[{"allow":false,"type":"c","major":1,"minor":5}]"#,
        ));
        assert!(e.default_allow);
        assert!(!e.allows(DevType::Char, 1, 5, ACC_READ));
        assert!(e.allows(DevType::Char, 1, 3, ACC_READ));
    }
}
