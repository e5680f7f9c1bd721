//! Container cgroups: one interface over cgroup v1 (including hybrid hosts) and cgroup v2.
