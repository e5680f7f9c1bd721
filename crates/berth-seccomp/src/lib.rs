//! Seccomp: OCI `linux.seccomp` sections compiled to classic BPF and installed in the calling process.
