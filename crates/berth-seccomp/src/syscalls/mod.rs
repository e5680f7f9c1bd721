//! Syscall ABIs the compiler knows: their audit architecture, syscall-number
//! tables and argument width.
//!
//! The tables in [`tables`] are generated from the kernel UAPI headers by
//! `scripts/gen-syscall-tables.py`, never edited by hand.

mod tables;

use oci_spec::runtime::Arch;

/// `AUDIT_ARCH_X86_64`: seccomp_data.arch for both the x86_64 and the x32 ABI.
pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`.
pub(crate) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64`.
pub(crate) const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// `AUDIT_ARCH_ARM` (little-endian EABI).
pub(crate) const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// Bit set in the syscall number of every x32 syscall.
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A syscall ABI with its own number table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Abi {
    X86_64,
    X32,
    X86,
    Aarch64,
    Arm,
}

impl Abi {
    /// The ABI for an OCI architecture, `None` for architectures without a table here.
    /// `SCMP_ARCH_NATIVE` must be resolved with [`Abi::native`] first.
    pub(crate) fn from_oci(arch: Arch) -> Option<Abi> {
        match arch {
            Arch::ScmpArchX86_64 => Some(Abi::X86_64),
            Arch::ScmpArchX32 => Some(Abi::X32),
            Arch::ScmpArchX86 => Some(Abi::X86),
            Arch::ScmpArchAarch64 => Some(Abi::Aarch64),
            Arch::ScmpArchArm => Some(Abi::Arm),
            Arch::ScmpArchNative => Abi::native(),
            _ => None,
        }
    }

    /// The ABI this crate was compiled for (the one the runtime's own processes use).
    pub(crate) fn native() -> Option<Abi> {
        if cfg!(target_arch = "x86_64") {
            Some(if cfg!(target_pointer_width = "32") {
                Abi::X32
            } else {
                Abi::X86_64
            })
        } else if cfg!(target_arch = "x86") {
            Some(Abi::X86)
        } else if cfg!(target_arch = "aarch64") {
            Some(Abi::Aarch64)
        } else if cfg!(target_arch = "arm") {
            Some(Abi::Arm)
        } else {
            None
        }
    }

    /// The value the kernel puts in `seccomp_data.arch` for this ABI.
    pub(crate) fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::X86 => AUDIT_ARCH_I386,
            Abi::Aarch64 => AUDIT_ARCH_AARCH64,
            Abi::Arm => AUDIT_ARCH_ARM,
        }
    }

    /// Whether syscall arguments are 32 bits wide: only the low half of
    /// `seccomp_data.args[i]` is compared then, like libseccomp does.
    pub(crate) fn args_are_32bit(self) -> bool {
        matches!(self, Abi::X86 | Abi::Arm)
    }

    /// The syscall number of `name` in this ABI (x32 numbers include
    /// [`X32_SYSCALL_BIT`]), `None` if the ABI has no such syscall.
    pub(crate) fn syscall_nr(self, name: &str) -> Option<u32> {
        let table = match self {
            Abi::X86_64 => tables::X86_64,
            Abi::X32 => tables::X32,
            Abi::X86 => tables::X86,
            Abi::Aarch64 => tables::AARCH64,
            Abi::Arm => tables::ARM,
        };
        table
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| table[i].1)
    }
}

impl Abi {
    /// The highest ordinary syscall number in the table, and the end of the
    /// range past it that holds no syscall of this ABI (ARM's private
    /// syscalls start at 0x0f0000; x86_64 stops where x32 numbers begin).
    pub(crate) fn max_syscall_nr(self) -> (u32, u32) {
        let (table, end) = match self {
            Abi::X86_64 => (tables::X86_64, X32_SYSCALL_BIT),
            Abi::X32 => (tables::X32, u32::MAX),
            Abi::X86 => (tables::X86, u32::MAX),
            Abi::Aarch64 => (tables::AARCH64, u32::MAX),
            Abi::Arm => (tables::ARM, ARM_PRIVATE_BASE),
        };
        let max = table
            .iter()
            .map(|(_, nr)| *nr)
            .filter(|nr| *nr < end)
            .max()
            .unwrap_or(0);
        (max, end)
    }
}

/// First number of ARM's private syscalls (`__ARM_NR_BASE`).
const ARM_PRIVATE_BASE: u32 = 0x000f_0000;

/// All syscall names of an ABI (tests and profile checks).
#[cfg(test)]
pub(crate) fn all_names(abi: Abi) -> impl Iterator<Item = &'static str> {
    let table = match abi {
        Abi::X86_64 => tables::X86_64,
        Abi::X32 => tables::X32,
        Abi::X86 => tables::X86,
        Abi::Aarch64 => tables::AARCH64,
        Abi::Arm => tables::ARM,
    };
    table.iter().map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_unique() {
        for table in [
            tables::X86_64,
            tables::X32,
            tables::X86,
            tables::AARCH64,
            tables::ARM,
        ] {
            assert!(table.len() > 300);
            assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn known_numbers() {
        assert_eq!(Abi::X86_64.syscall_nr("getpid"), Some(39));
        assert_eq!(Abi::X86_64.syscall_nr("read"), Some(0));
        assert_eq!(Abi::X32.syscall_nr("getpid"), Some(X32_SYSCALL_BIT | 39));
        assert_eq!(Abi::X86.syscall_nr("getpid"), Some(20));
        assert_eq!(Abi::Aarch64.syscall_nr("getpid"), Some(172));
        assert_eq!(Abi::Aarch64.syscall_nr("open"), None);
        assert_eq!(Abi::Arm.syscall_nr("getpid"), Some(20));
        assert_eq!(Abi::Arm.syscall_nr("set_tls"), Some(0x0f_0005));
        assert_eq!(Abi::X86_64.syscall_nr("mseal"), Some(462));
        assert_eq!(Abi::X86_64.syscall_nr("no_such_syscall"), None);
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(Abi::native(), Some(Abi::X86_64));
            for (name, nr) in [
                ("getpid", libc::SYS_getpid),
                ("unshare", libc::SYS_unshare),
                ("clone3", libc::SYS_clone3),
                ("personality", libc::SYS_personality),
            ] {
                assert_eq!(Abi::X86_64.syscall_nr(name), u32::try_from(nr).ok());
            }
        }
    }
}
