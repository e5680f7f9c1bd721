//! Networking for a build's RUN containers. Docker's classic builder runs RUN steps on the
//! default bridge (or the network `build --network` names), so a package manager in a RUN step
//! reaches the network as users expect. The endpoint lives only as long as the step: it is
//! registered, set up, and released by [`StepNet`] when the step ends, whatever happened.

use std::path::Path;

use berth_network::{AttachRequest, ContainerNet, DnsConfig, EtcFiles};
use berth_runtime::oci_spec::runtime::Spec;

use super::Networks;
use super::{edit_spec, first_addresses, net_err, NsMode};
use crate::error::Result;

/// Holds a RUN step's network; dropping it releases the addresses, veths and namespace.
pub(crate) struct StepNet<'a> {
    engine: &'a Networks,
    id: String,
}

impl Drop for StepNet<'_> {
    fn drop(&mut self) {
        self.engine.net_unregister(&self.id);
    }
}

impl Networks {
    /// Points a RUN step's spec at network `mode` (empty or `default`: the daemon's default).
    /// `none` and `host` need no endpoint and come back unchanged (the caller handles `host`);
    /// otherwise the returned guard must live until the step's container has exited.
    pub(crate) fn net_apply_step(
        &self,
        id: &str,
        mode: &str,
        hostname: &str,
        dir: &Path,
        spec: Spec,
    ) -> Result<(Spec, Option<StepNet<'_>>)> {
        let mode = match mode {
            "" | "default" => self.default_mode(),
            m => m,
        };
        if matches!(mode, "none" | "host") {
            return Ok((spec, None));
        }
        if mode == crate::rootless_net::PASTA {
            // Rootless: the step gets its own pasta, ended by the guard (`net_unregister`).
            let path = self.pasta_setup(id, &crate::HostConfig::default())?;
            let guard = StepNet {
                engine: self,
                id: id.to_owned(),
            };
            let files = EtcFiles::in_dir(dir);
            berth_network::files::write(&files, hostname, None, &DnsConfig::default(), None, false)
                .map_err(net_err)?;
            return Ok((edit_spec(spec, &NsMode::Join(path), &files)?, Some(guard)));
        }
        let net = self.net()?;
        let request = AttachRequest {
            network: mode.to_owned(),
            ..Default::default()
        };
        let name = id.get(..12).unwrap_or(id).to_owned();
        let entry = ContainerNet {
            name,
            hostname: hostname.to_owned(),
            requests: vec![request],
            ..Default::default()
        };
        net.register(id, entry).map_err(net_err)?;
        let guard = StepNet {
            engine: self,
            id: id.to_owned(),
        };
        let path = net.setup(id).map_err(net_err)?;
        let (own, embedded) = first_addresses(net, id);
        let files = EtcFiles::in_dir(dir);
        berth_network::files::write(
            &files,
            hostname,
            own,
            &DnsConfig::default(),
            embedded,
            false,
        )
        .map_err(net_err)?;
        let ns = path.map_or(NsMode::Fresh, NsMode::Join);
        Ok((edit_spec(spec, &ns, &files)?, Some(guard)))
    }
}
