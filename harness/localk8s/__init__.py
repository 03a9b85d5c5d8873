"""The local single-node Kubernetes cluster of host processes, built from upstream sources.

* ``config``: versions, networks, ports and names, ``Layout`` (the run directory) and the pure
  builders of every configuration file and command line;
* ``prerequisites``: what the machine needs (Linux, root, Go, ``HOST_TOOLS``, CNI plugins);
* ``pki``: the CA and certificates, made with openssl;
* ``components``: building the binaries, starting and stopping the component processes;
* ``network``: the node's address, CNI plugins, FORWARD rules, and removing iptables rules,
  pod network namespaces and the bridge;
* ``images``: images in the cluster's own containerd (``ctr``, ``docker save``);
* ``cluster``: ``up``/``down``/``status``, the lock, test-session leases and the CLI
  (``python -m harness.localk8s``).
"""
